"""Does history agree with the data? Checks worth running after a crash or a manual edit.

Each check is one SQL query; a healthy database yields no problems:

- SQLite finds every page and index of the file sound (``storage/filecheck.py``; with
  ``quick``, pages only); a damaged file is reported, and what cannot be read past the
  damage too, never raised;
- transaction times strictly increase in transaction order, and since ids are times
  (file format 8) a record's time is the file's origin plus its id;
- the marks that turn points in time into counted transactions agree with them;
- every version in a history table names a transaction: one with a record if the id was
  counted (before format 8), else one no later than the newest;
- history order is transaction order (the change feed and the ledger rely on it);
- every table's current rows equal its rows AS OF the latest transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from chronodb.layout import SEQ, TRANSACTIONS, TX, TX_MARKS
from chronodb.sql.snapshots import as_of
from chronodb.storage.filecheck import file_problems
from chronodb.versioning.catalog import Catalog
from chronodb.versioning.tables import qualified, quote
from chronodb.versioning.timeline import epoch, last_tx, marked


def check_history(conn: sqlite3.Connection, catalog: Catalog, *, quick: bool = False) -> list[str]:
    """Problems found, one sentence each; an empty list means data and history agree."""
    problems = [f"the file is damaged: {line}" for line in file_problems(conn, quick=quick)]
    try:
        _check_history(conn, catalog, problems)
    except sqlite3.DatabaseError as err:
        problems.append(f"the file is damaged: checking stopped: {err}")
    return problems


def times_out_of_order(conn: Any, transactions: str) -> list[str]:
    """The problem of the first transaction in ``transactions`` (a table's SQL name) not
    later than the one before it, if any: SQL both backends' connections run."""
    backwards = conn.execute(
        "SELECT tx_id FROM (SELECT tx_id, tx_time, lag(tx_time) OVER (ORDER BY tx_id) AS prev "
        f"FROM {transactions}) AS s WHERE tx_time <= prev ORDER BY tx_id LIMIT 1"
    ).fetchone()
    if backwards is None:
        return []
    return [f"transaction {backwards[0]} is not later than the one before it"]


def _check_history(conn: sqlite3.Connection, catalog: Catalog, problems: list[str]) -> None:
    problems += times_out_of_order(conn, f"main.{TRANSACTIONS}")
    origin, last_counted = epoch(conn)
    mistimed = conn.execute(
        f"SELECT tx_id FROM main.{TRANSACTIONS} WHERE tx_id > ? AND tx_time <> tx_id + ? "
        "ORDER BY tx_id LIMIT 1",
        (last_counted, origin),
    ).fetchone()
    if mistimed is not None:
        problems.append(f"transaction {mistimed[0]}'s record gives a time other than its id says")
    # Every marked counted transaction has a mark with its time, and no mark names another.
    unmarked, stray = conn.execute(
        f"SELECT (SELECT count(*) FROM main.{TRANSACTIONS} AS t WHERE t.tx_id <= ?1 AND "
        f"{marked('t.tx_id')} AND "
        f"NOT EXISTS (SELECT 1 FROM main.{TX_MARKS} AS m WHERE m.tx_time = t.tx_time "
        f"AND m.tx_id = t.tx_id)), (SELECT count(*) FROM main.{TX_MARKS} AS m WHERE NOT EXISTS "
        f"(SELECT 1 FROM main.{TRANSACTIONS} AS t "
        "WHERE t.tx_id = m.tx_id AND t.tx_time = m.tx_time))",
        (last_counted,),
    ).fetchone()
    if unmarked or stray:
        problems.append(
            f"{TX_MARKS}: {unmarked} transaction(s) without their mark, {stray} mark(s) "
            "naming no transaction: points in time may resolve wrongly"
        )
    newest = last_tx(conn)
    existing = {
        r[0].lower() for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
    }
    for hist in sorted({v.hist for v in catalog.versions if v.hist.lower() in existing}):
        dangling = conn.execute(
            f"SELECT count(*), min(h.{TX}) FROM {qualified(hist)} AS h "
            f"WHERE typeof(h.{TX}) <> 'integer' OR h.{TX} <= 0 OR h.{TX} > ?2 OR "
            f"(h.{TX} <= ?1 AND NOT EXISTS "
            f"(SELECT 1 FROM main.{TRANSACTIONS} AS t WHERE t.tx_id = h.{TX}))",
            (last_counted, newest),
        ).fetchone()
        if dangling[0]:
            problems.append(
                f"{hist}: {dangling[0]} version(s) name missing transactions (first {dangling[1]})"
            )
        disorder = conn.execute(
            f"SELECT {SEQ}, {TX}, prev FROM (SELECT {SEQ}, {TX}, lag({TX}) OVER (ORDER BY {SEQ}) "
            f"AS prev FROM {qualified(hist)}) WHERE {TX} < prev ORDER BY {SEQ} LIMIT 1"
        ).fetchone()
        if disorder is not None:
            problems.append(
                f"{hist}: the version at position {disorder[0]} (transaction {disorder[1]}) "
                f"comes after one of transaction {disorder[2]}: history is out of order"
            )
    for sv in catalog.live_tables():
        if sv.name.lower() not in existing or sv.hist.lower() not in existing:
            problems.append(f"{sv.name}: table or its history table {sv.hist} is missing")
            continue
        # Compared exactly: BINARY, whatever the columns' collations, and storage class too
        # (EXCEPT takes 'alice' = 'ALICE' under NOCASE, and 5 = 5.0).
        exact = ", ".join(
            f"{quote(c.name)} COLLATE BINARY, typeof({quote(c.name)})" for c in sv.columns
        )
        current = f"SELECT {exact} FROM {qualified(sv.name)}"
        newest_rows = as_of(sv, str(newest), sv, null_keys=sv.hist in catalog.null_keyed)
        past = f"SELECT {exact} FROM ({newest_rows})"
        only_now, only_past, count_now, count_past = conn.execute(
            f"SELECT (SELECT count(*) FROM ({current} EXCEPT {past})), "
            f"(SELECT count(*) FROM ({past} EXCEPT {current})), "
            f"(SELECT count(*) FROM ({current})), (SELECT count(*) FROM ({past}))"
        ).fetchone()
        if only_now or only_past or count_now != count_past:
            problems.append(
                f"{sv.name}: current rows differ from history AS OF the latest transaction "
                f"({only_now} row(s) only in the table, {only_past} only in history, "
                f"{count_now} vs {count_past} rows)"
            )
