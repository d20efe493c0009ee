"""``/tables/{table}/diff?from=…&to=…`` and ``/diff``: what changed between two points.

Built from :meth:`ChronoDB.changes` over the range, so it reads the versions of the range,
not the whole table: each row's first ``before`` and last ``after`` in the range say whether
it was inserted, deleted or updated (a row changed and changed back is left out).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from chronodb.database import ChronoDB
from chronodb.errors import ChronoDBError
from chronodb.server.replica import reading
from chronodb.server.ui.points import Point, Timeline, parse_point
from chronodb.server.ui.render import csv_response, path_param, respond, to_csv, wanted
from chronodb.server.ui.rows import changed_cells
from chronodb.server.ui.tables import key_columns

#: Rows of each kind a table's diff page lists, and a table's part of the whole-database
#: diff (the counts cover all; the table's CSV has every row).
TABLE_DIFF_ROWS = 1000
DB_DIFF_ROWS = 100


def _shorten(diff: dict[str, Any], limit: int) -> dict[str, Any]:
    for kind in ("inserted", "deleted", "updated"):
        diff[kind] = diff[kind][:limit]
    diff["listed"] = limit
    return diff


def table_diff(
    db: ChronoDB, table: str, start: float | None, end: float | None, key: list[str]
) -> dict[str, Any]:
    """The rows of ``table`` inserted, deleted and updated in ``(start, end]``."""
    first: dict[tuple[Any, ...], dict[str, Any]] = {}
    last: dict[tuple[Any, ...], dict[str, Any]] = {}
    for change in db.changes(table, start, end):
        k = tuple(change.get(c) for c in key)
        first.setdefault(k, change)
        last[k] = change
    out: dict[str, list[dict[str, Any]]] = {"inserted": [], "deleted": [], "updated": []}
    for k, opening in first.items():
        before, after = opening["before"], last[k]["after"]
        entry = {
            "key": list(k),
            "before": before,
            "after": after,
            "tx_id": last[k]["tx_id"],
            "user": last[k]["user"],
        }
        if before is None and after is not None:
            out["inserted"].append(entry)
        elif before is not None and after is None:
            out["deleted"].append(entry)
        elif before is not None and before != after:
            entry["changed"] = changed_cells(entry)
            out["updated"].append(entry)
    return {
        "table": table,
        "key": key,
        "counts": {kind: len(rows) for kind, rows in out.items()},
        **out,
    }


def _range(db: ChronoDB, request: Request) -> tuple[Point | None, Point | None, Timeline]:
    timeline = Timeline(db)
    start = parse_point(request.query_params.get("from"), "from")
    end = parse_point(request.query_params.get("to"), "to")
    if start is None and len(timeline.ticks) >= 2:
        # By default: what the latest transaction (or the one at ``to``) did.
        i = timeline.index(end)
        if i is not None and i >= 1:
            start = parse_point(str(timeline.ticks[i - 1].tx_id))
    return start, end, timeline


def _key_of(db: ChronoDB, table: str, start: Point | None, end: Point | None) -> list[str]:
    for at in (end, start):
        try:
            return key_columns(db.columns(table, as_of=at.arg if at else None))
        except ChronoDBError:  # the table may exist at only one of the points
            continue
    return ["rowid"]


def _table_diff_data(db: ChronoDB, table: str, request: Request) -> dict[str, Any]:
    start, end, timeline = _range(db, request)
    key = _key_of(db, table, start, end)
    data = table_diff(db, table, timeline.seconds(start) or 0.0, timeline.seconds(end), key)
    data.update({"from": start.text if start else None, "to": end.text if end else None})
    return data


async def table_diff_page(request: Request) -> Response:
    db: ChronoDB = await reading(request)
    table = path_param(request, "table")
    data = await run_in_threadpool(_table_diff_data, db, table, request)
    if wanted(request) != "csv":
        return respond(request, "diff.html", _shorten(data, TABLE_DIFF_ROWS), at=None)
    rows = [
        [kind, *(e["key"]), str(e["before"]), str(e["after"])]
        for kind in ("inserted", "deleted", "updated")
        for e in data[kind]
    ]
    return csv_response(to_csv(["change", *data["key"], "before", "after"], rows), table)


def _db_diff_data(db: ChronoDB, request: Request) -> dict[str, Any]:
    start, end, timeline = _range(db, request)
    names = set(db.tables())
    for at in (start, end):
        if at is not None:
            names |= set(db.tables(as_of=at.arg))
    tables = []
    for name in sorted(names):
        key = _key_of(db, name, start, end)
        part = table_diff(db, name, timeline.seconds(start) or 0.0, timeline.seconds(end), key)
        if any(part["counts"].values()):
            tables.append(_shorten(part, DB_DIFF_ROWS))
    return {
        "from": start.text if start else None,
        "to": end.text if end else None,
        "tables": tables,
    }


async def db_diff_page(request: Request) -> Response:
    db: ChronoDB = await reading(request)
    data = await run_in_threadpool(_db_diff_data, db, request)
    return respond(request, "diff.html", data, at=None)
