"""Write format1.db with ChronoDB at file format 1: ``python make_format1.py format1.db``.

Run it with an earlier ChronoDB on the path (``PYTHONPATH=<checkout of 8dd477b>/src``);
each statement is one transaction, numbered as in test_upgrade.py.
"""

import sys
from pathlib import Path

from chronodb import ChronoDB

path = Path(sys.argv[1])
for suffix in ("", "-wal", "-shm"):
    Path(f"{path}{suffix}").unlink(missing_ok=True)
db = ChronoDB(path, user="fixture")
db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL)")
db.executemany(
    "INSERT INTO accounts VALUES (?, ?, ?)", [(1, "ann", 10.0), (2, "bob", 20.0), (3, "cy", 30.0)]
)
db.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
db.execute("DELETE FROM accounts WHERE id = 2")
db.execute("INSERT INTO accounts VALUES (2, 'bob again', 5.0)")
with db.transaction():
    db.execute("DELETE FROM accounts WHERE id = 3")
    db.execute("INSERT INTO accounts VALUES (3, 'cy 2', 33.0)")
db.execute("UPDATE accounts SET id = 4 WHERE id = 1")
db.execute("CREATE TABLE notes (body TEXT)")
db.execute("INSERT INTO notes VALUES ('first'), ('second')")
db.execute("CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))")
db.execute("INSERT INTO pairs VALUES ('x', 1, 'one'), ('x', 2, 'two')")
db.execute("DROP TABLE pairs")
db.close()
