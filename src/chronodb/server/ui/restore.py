"""Restore a row or a whole table to a point: one new transaction writes the values of then
back (history keeps everything, the restore included). ``GET`` shows what would change and
asks to confirm; ``POST`` (CSRF checked) writes; a read-only server refuses both."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from chronodb.database import ChronoDB
from chronodb.errors import ReadOnlyError
from chronodb.server.ui.csrf import checked_form
from chronodb.server.ui.diff import table_diff
from chronodb.server.ui.points import Point, Timeline, parse_point
from chronodb.server.ui.render import optional_path_param, path_param, respond, segment, url
from chronodb.server.ui.rows import changed_cells, row_at
from chronodb.server.ui.tables import key_columns
from chronodb.versioning.tables import quote


def plan(db: ChronoDB, table: str, at: Point, pk: str | None = None) -> dict[str, Any]:
    """What restoring ``table`` (or only its row ``pk``, as the URL names it) to ``at``
    would write: the diff from ``at`` to now, to be undone."""
    key = key_columns(db.columns(table))
    if pk is None:
        return table_diff(db, table, Timeline(db).seconds(at) or 0.0, None, key)
    # One row: its values then and now, without reading the table's history.
    then, now = row_at(db, table, pk, at), row_at(db, table, pk, None)
    diff: dict[str, Any] = {
        "table": table,
        "key": key,
        "inserted": [],
        "deleted": [],
        "updated": [],
    }
    either = then or now
    if either is not None and then != now:
        entry = {"key": [either[k] for k in key], "before": then, "after": now}
        if then is None:
            diff["inserted"].append(entry)
        elif now is None:
            diff["deleted"].append(entry)
        else:
            entry["changed"] = changed_cells(entry)
            diff["updated"].append(entry)
    diff["counts"] = {kind: len(diff[kind]) for kind in ("inserted", "deleted", "updated")}
    return diff


def apply(db: ChronoDB, table: str, diff: dict[str, Any]) -> int | None:
    """Undo ``diff`` in one transaction; its id (None when there was nothing to undo)."""
    columns = db.columns(table)
    writable = [c.name for c in columns if not c.generated]
    key = diff["key"]
    cond = " AND ".join(f"{quote(k)} = ?" for k in key)
    tx_id = None
    with db.transaction():
        for e in diff["inserted"]:
            tx_id = db.execute(f"DELETE FROM {quote(table)} WHERE {cond}", e["key"]).tx_id
        for e in diff["deleted"]:
            names = [c for c in writable if c in e["before"]]
            if key == ["rowid"]:
                names = ["rowid", *names]
                e["before"] = {"rowid": e["key"][0], **e["before"]}
            cols = ", ".join(quote(c) for c in names)
            marks = ", ".join("?" for _ in names)
            r = db.execute(
                f"INSERT INTO {quote(table)} ({cols}) VALUES ({marks})",
                [e["before"][c] for c in names],
            )
            tx_id = r.tx_id
        for e in diff["updated"]:
            names = [c for c in writable if c in e["before"] and c not in key]
            sets = ", ".join(f"{quote(c)} = ?" for c in names)
            r = db.execute(
                f"UPDATE {quote(table)} SET {sets} WHERE {cond}",
                [*(e["before"][c] for c in names), *e["key"]],
            )
            tx_id = r.tx_id
    if tx_id is None and any(diff["counts"].values()):
        tx_id = db.transactions(limit=1)[0]["tx_id"]
    return tx_id


def _target(request: Request) -> tuple[str, str | None, Point]:
    at = parse_point(request.query_params.get("as_of"))
    if at is None:
        raise HTTPException(400, "say which point to restore to: ?as_of=")
    return path_param(request, "table"), optional_path_param(request, "pk"), at


def _refuse_read_only(db: ChronoDB) -> None:
    if db.read_only:
        raise ReadOnlyError("this server is read-only: restoring writes a new transaction")


async def restore_page(request: Request) -> Response:
    """GET: what the restore would change, and a form to confirm it."""
    db: ChronoDB = request.app.state.db
    table, pk, at = _target(request)
    _refuse_read_only(db)
    data = await run_in_threadpool(plan, db, table, at, pk)
    data.update(as_of=at.text, pk=pk)
    return respond(request, "restore.html", data, at=at)


async def restore_action(request: Request) -> Response:
    """POST: write the restore; back to the row (or table) page, naming the transaction."""
    await checked_form(request)
    db: ChronoDB = request.app.state.db
    table, pk, at = _target(request)
    _refuse_read_only(db)

    def run() -> dict[str, Any]:
        diff = plan(db, table, at, pk)
        return {
            "table": table,
            "restored_to": at.text,
            "counts": diff["counts"],
            "tx_id": apply(db, table, diff),
        }

    data = await run_in_threadpool(run)
    back = "/tables/" + segment(table) + (f"/rows/{segment(pk)}" if pk is not None else "")
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(url(request, back, restored=data["tx_id"] or "none"), 303)
    return respond(request, "restore.html", data, at=at)
