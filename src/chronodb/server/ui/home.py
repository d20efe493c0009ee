"""``/`` for a browser: the tables with their sizes, the timeline, the ledger's status."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from chronodb.database import ChronoDB
from chronodb.errors import NotSupportedError
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
    the health report, which counts without scanning."""
    rows = sizes.get("rows") if at is None else count_rows(db, table, at)
    versions = sizes.get("history_rows")
    last = None
    if versions is not None and versions <= LAST_CHANGE_SCAN:
        last_from, last_to = db.execute(
            f"SELECT max(sys_from), max(sys_to) FROM {quote(table)} FOR SYSTEM_TIME ALL"
        ).rows[0]
        last = max((t for t in (last_from, last_to) if t is not None), default=None)
    return {
        "name": table,
        "rows": rows,
        "rows_exact": rows is None or rows <= COUNT_CAP or at is None,
        "history_rows": versions,
        "last_change": last,
    }


def home_data(db: ChronoDB, at: Point | None, search: str) -> dict[str, Any]:
    names = db.tables(as_of=at.arg) if at else db.tables()
    if search:
        names = [n for n in names if search.lower() in n.lower()]
    try:
        sizes = {t["table"]: t for t in db.get_health_report().get("tables", [])}
    except NotSupportedError:  # no health report on this backend: no sizes then
        sizes = {}
    try:
        digest = db.audit_trail.digest(save=False)
        ledger = {"tree_size": digest.tree_size, "root": digest.root}
    except NotSupportedError:
        ledger = None
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
