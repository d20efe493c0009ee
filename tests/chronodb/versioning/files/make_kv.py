"""Write a fixture file with the ChronoDB on the path: ``python make_kv.py formatN.db``.

Run it with an earlier ChronoDB on the path (``PYTHONPATH=<checkout>/src``): format2.db
came from commit 3d113ed (file format 2), format3.db from 55a9a42 (format 3), format4.db
from ddc26e7 (format 4), format5.db from 941d595 (format 5), format6.db
from c614eb4 (format 6), format7.db from 546899d (format 7).
Transaction 1 creates ``kv``; transactions 2 to 70 each set one of seven keys to the
transaction's number (key ``n % 7``), so the state after transaction n is known.
"""

import sys
from pathlib import Path

from chronodb import ChronoDB

path = Path(sys.argv[1])
for suffix in ("", "-wal", "-shm"):
    Path(f"{path}{suffix}").unlink(missing_ok=True)
db = ChronoDB(path, user="fixture")
db.execute("CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER)")
for n in range(2, 71):
    db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", [n % 7, n])
db.close()
