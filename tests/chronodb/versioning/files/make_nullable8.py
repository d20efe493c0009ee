"""Write nullable8.db with ChronoDB at file format 8, before keys could hold a NULL:
``python make_nullable8.py nullable8.db`` with that ChronoDB on the path
(``PYTHONPATH=<checkout of b8ae2f1>/src``). A composite key that SQLite lets hold a NULL,
whose rows hold none yet (that ChronoDB refused them)."""

import sys
from pathlib import Path

from chronodb import ChronoDB

path = Path(sys.argv[1])
for suffix in ("", "-wal", "-shm"):
    Path(f"{path}{suffix}").unlink(missing_ok=True)
db = ChronoDB(path, user="fixture")
db.execute("CREATE TABLE items (oid INTEGER, sku TEXT, qty INTEGER, PRIMARY KEY (oid, sku))")
db.execute("INSERT INTO items VALUES (1, 'a', 2), (2, 'b', 3)")
db.close()
