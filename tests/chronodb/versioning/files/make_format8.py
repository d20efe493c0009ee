"""Write format8.db with ChronoDB at file format 8: ``python make_format8.py format8.db``.

Run it with that ChronoDB on the path (``PYTHONPATH=<checkout of 79f5d11>/src``): its
history columns are untyped and its catalog knows no collations or views. Each statement
is one transaction, numbered as in test_upgrade.py.
"""

import sys
from pathlib import Path

from chronodb import ChronoDB

path = Path(sys.argv[1])
for suffix in ("", "-wal", "-shm"):
    Path(f"{path}{suffix}").unlink(missing_ok=True)
db = ChronoDB(path, user="fixture")
db.execute(
    "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, score REAL, "
    "n NUMERIC, tag, data BLOB)"
)
db.execute(
    "INSERT INTO people VALUES (1, 'bob', 2.5, '10', 'x', x'00'), (2, 'BOB', 3, 7.0, 5, NULL), "
    "(3, 'alice', 1, '1e2', 'y', x'01')"
)
db.execute("UPDATE people SET score = score + 1 WHERE id = 1")
db.execute("ALTER TABLE people ADD COLUMN extra INTEGER DEFAULT 7")
db.execute("CREATE TABLE codes (code TEXT COLLATE NOCASE PRIMARY KEY, label TEXT COLLATE RTRIM)")
db.execute("INSERT INTO codes VALUES ('ab', 'x '), ('CD', 'y')")
db.execute("CREATE VIEW names AS SELECT id, name FROM people")
db.execute("CREATE TABLE gone (k INTEGER PRIMARY KEY, v TEXT)")
db.execute("INSERT INTO gone VALUES (1, 'one')")
db.execute("DROP TABLE gone")
db.execute("CREATE TABLE tags (tag TEXT COLLATE NOCASE PRIMARY KEY, weight REAL)")
db.execute("INSERT INTO tags VALUES ('x', 1), (NULL, '2.5')")
db.close()
