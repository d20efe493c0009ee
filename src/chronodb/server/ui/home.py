"""``/`` for a browser: the tables with their sizes, the timeline, the ledger's status."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from chronodb.database import ChronoDB
from chronodb.server.replica import reading
from chronodb.server.ui.csrf import checked_form
from chronodb.server.ui.points import Point, Timeline, parse_point
from chronodb.server.ui.render import respond
from chronodb.server.ui.tables import COUNT_CAP, count_rows
from chronodb.versioning.tables import quote

#: Transactions the home page lists (the slider shows more).
RECENT = 30
#: Versions a table may have for the home page to find its last change by reading them.
LAST_CHANGE_SCAN = 50_000


def table_summary(
    db: ChronoDB, table: str, at: Point | None, sizes: dict[str, Any]
) -> dict[str, Any]:
    """Rows now (or AS OF ``at``, counting at most COUNT_CAP + 1), the rows of its history (a
    version each, and one for each delete) and the time of the last change (for a history
    small enough to scan: finding it reads every version). ``sizes``: the table's entry of
    the health report, which counts without scanning; without one (a backend without the
    report) the rows are counted, and the history's with the last change."""
    rows = sizes.get("rows") if at is None else count_rows(db, table, at)
    if at is None and rows is None:
        rows = db.execute(f"SELECT count(*) FROM {quote(table)}").scalar()
    # Now, from the report: a server's estimate of a large table's rows, not a count.
    estimated = at is None and sizes.get("rows_exact") is False
    versions = sizes.get("history_rows")
    last = None
    if versions is None:
        scanned = _scan_history(db, table) if _small_history(db, table) else None
        if scanned is not None:
            versions, last = scanned
    elif versions <= LAST_CHANGE_SCAN:
        last_from, last_to = db.execute(
            f"SELECT max(sys_from), max(sys_to) FROM {quote(table)} FOR SYSTEM_TIME ALL"
        ).rows[0]
        last = _latest(last_from, last_to)
    return {
        "name": table,
        "rows": rows,
        "rows_exact": (rows is None or rows <= COUNT_CAP or at is None) and not estimated,
        "rows_estimated": estimated,
        "history_rows": versions,
        "last_change": last,
    }


def _latest(*times: float | None) -> float | None:
    return max((t for t in times if t is not None), default=None)


def _small_history(db: ChronoDB, table: str) -> bool:
    """Whether ``table`` has at most LAST_CHANGE_SCAN versions (counting no further)."""
    counted = db.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {quote(table)} FOR SYSTEM_TIME ALL LIMIT ?) AS v",
        [LAST_CHANGE_SCAN + 1],
    ).scalar()
    return counted <= LAST_CHANGE_SCAN


def _scan_history(db: ChronoDB, table: str) -> tuple[int, float | None] | None:
    """The rows of ``table``'s history and its last change, from its versions: a version
    that ended where no version of its key begins was ended by a delete, one more row.
    None for a table without a key to follow versions by."""
    keys = [quote(c.name) for c in db.columns(table) if c.primary_key]
    if not keys:
        return None
    ended_by_delete = "sys_to IS NOT NULL AND (next_from IS NULL OR next_from <> sys_to)"
    row = db.execute(
        f"SELECT count(*) + count(CASE WHEN {ended_by_delete} THEN 1 END), "
        "max(sys_from), max(sys_to) FROM (SELECT sys_from, sys_to, lead(sys_from) OVER "
        f"(PARTITION BY {', '.join(keys)} ORDER BY sys_from) AS next_from "
        f"FROM {quote(table)} FOR SYSTEM_TIME ALL) AS v"
    ).rows[0]
    return row[0], _latest(row[1], row[2])


def home_data(db: ChronoDB, at: Point | None, search: str) -> dict[str, Any]:
    names = db.tables(as_of=at.arg) if at else db.tables()
    if search:
        names = [n for n in names if search.lower() in n.lower()]
    sizes = {t["table"]: t for t in db.get_health_report().get("tables", [])}
    digest = db.audit_trail.digest(save=False)
    ledger = {"tree_size": digest.tree_size, "root": digest.root}
    return {
        "database": db.path,
        "as_of": at.text if at else None,
        "search": search,
        "tables": [table_summary(db, n, at, sizes.get(n, {})) for n in names],
        "transactions": db.transactions(limit=RECENT),
        "ledger": ledger,
        "read_only": db.read_only,
    }


async def home_page(request: Request) -> Response:
    db: ChronoDB = await reading(request)
    at = parse_point(request.query_params.get("as_of"))
    search = request.query_params.get("q", "")
    data = await run_in_threadpool(home_data, db, at, search)
    data["read_only"] = request.app.state.db.read_only  # the server's, not its standby's
    timeline = await run_in_threadpool(Timeline, db)
    return respond(request, "home.html", data, timeline=timeline, at=at)


def _verify(db: ChronoDB) -> dict[str, Any]:
    started = time.perf_counter()
    report = db.audit_trail.verify(quick=True)
    problem = report.first_problem
    return {
        "ok": report.ok,
        "checked": report.checked,
        "tree_size": report.tree_size,
        "root": report.root,
        "problem": str(problem) if problem else None,
        "seconds": round(time.perf_counter() - started, 3),
    }


async def verify_action(request: Request) -> Response:
    """POST ``/ledger/verify``: recompute the ledger from the stored rows (a form: CSRF)."""
    await checked_form(request)
    db: ChronoDB = request.app.state.db
    data = await run_in_threadpool(_verify, db)
    return respond(request, "verify.html", data, at=None, status=200 if data["ok"] else 409)
