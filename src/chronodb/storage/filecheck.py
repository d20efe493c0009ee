"""SQLite's own check of the file's b-trees: pages, free list and indexes.

ChronoDB's checks (``audit/verify.py``, ``versioning/integrity.py``) compare rows with rows;
a damaged page or an index entry pointing at the wrong row can pass them and still make
``AS OF`` answer wrongly, since temporal reads seek through the history key index. Only
SQLite's ``PRAGMA integrity_check`` sees such damage, so both checks start with it.

Cost: ``integrity_check`` reads every page and looks up every index entry in its table,
time growing a little faster than the file; ``quick_check`` reads every page but skips
the index-to-table comparison, so it is several times faster and misses an index entry
that names the wrong row.
"""

from __future__ import annotations

import sqlite3

MAX_ERRORS = 100  # SQLite stops after this many complaints


def file_problems(conn: sqlite3.Connection, *, quick: bool = False) -> list[str]:
    """What SQLite finds wrong with the file, one line each; empty means none."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        lines = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}({MAX_ERRORS})")]
    except sqlite3.DatabaseError as err:
        return [f"PRAGMA {pragma} could not read the file: {err}"]
    return [] if lines == ["ok"] else lines
