"""Which tables a VACUUM would detach from their history.

SQLite's VACUUM may give new rowids to the rows of a table without an INTEGER PRIMARY KEY
(SQLite 3.40 numbers them 1, 2, 3 ... in rowid order when the table has no index). ChronoDB
keys such a table's history by rowid, so after a renumbering each row would carry another
row's past. A table whose rowids already run 1 to n is numbered the same again; one with
gaps (rows deleted, or rowids chosen by the application) is not.
"""

from __future__ import annotations

import sqlite3

from chronodb.layout import ROWID_KEY
from chronodb.versioning.catalog import Catalog
from chronodb.versioning.tables import qualified


def renumbered_tables(conn: sqlite3.Connection, catalog: Catalog) -> list[str]:
    """The versioned tables keyed by rowid whose rowids are not exactly 1 to n."""
    found = []
    for sv in catalog.live_tables():
        if sv.keys != (ROWID_KEY,):
            continue
        count, low, high = conn.execute(
            f"SELECT count(*), min(rowid), max(rowid) FROM {qualified(sv.name)}"
        ).fetchone()
        if count and (low != 1 or high != count):
            found.append(sv.name)
    return found
