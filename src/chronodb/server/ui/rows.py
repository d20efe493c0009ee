"""``/tables/{table}/rows/{pk}`` (also ``/history/{pk}`` for a browser): one row now or AS OF
a point, and every version of it, oldest first, with the cells each version changed."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from chronodb.database import ChronoDB
from chronodb.server.http import parse_key, row_history
from chronodb.server.replica import reading
from chronodb.server.ui.points import Point, Timeline, parse_point
from chronodb.server.ui.render import csv_response, path_param, respond, to_csv, wanted
from chronodb.server.ui.tables import key_columns, source
from chronodb.versioning.tables import quote


def changed_cells(version: dict[str, Any]) -> list[str]:
    """The columns a version set: all of an insert's or delete's, an update's changed ones."""
    before, after = version.get("before"), version.get("after")
    if before is None or after is None:
        return sorted((after or before or {}).keys())
    return [c for c in after if c not in before or before[c] != after[c]]


def row_at(db: ChronoDB, table: str, pk: str, at: Point | None) -> dict[str, Any] | None:
    """The row ``pk`` names, as it is now or was AS OF ``at``; None if it did not exist."""
    key = key_columns(db.columns(table, as_of=at.arg if at else None))
    value = parse_key(pk)
    values = value if isinstance(value, list) else [value]
    if len(values) != len(key):
        return None
    src, params = source(table, at)
    cond = " AND ".join(f"{quote(k)} = ?" for k in key)
    extra = "rowid, " if key == ["rowid"] else ""
    result = db.execute(f"SELECT {extra}* FROM {src} WHERE {cond}", [*params, *values])
    if not result.rows and value != pk:  # a text key that looked like a number
        result = db.execute(f"SELECT {extra}* FROM {src} WHERE {cond}", [*params, pk])
    return dict(zip(result.columns, result.rows[0], strict=True)) if result.rows else None


def row_page_data(db: ChronoDB, table: str, pk: str, at: Point | None) -> dict[str, Any]:
    timeline = Timeline(db)
    cutoff = timeline.seconds(at)
    versions = []
    for v in row_history(db, table, pk):
        versions.append(
            {
                **v,
                "changed": changed_cells(v),
                "in_effect": False,
                "after_point": cutoff is not None and v["tx_time"] > cutoff,
            }
        )
    current = [v for v in versions if not v["after_point"]]
    if current and current[-1]["operation"] != "DELETE":
        current[-1]["in_effect"] = True
    return {
        "table": table,
        "pk": parse_key(pk),
        "as_of": at.text if at else None,
        "row": row_at(db, table, pk, at),
        "versions": versions,
    }


async def row_page(request: Request) -> Response:
    db: ChronoDB = await reading(request)
    table, pk = path_param(request, "table"), path_param(request, "pk")
    at = parse_point(request.query_params.get("as_of"))
    data = await run_in_threadpool(row_page_data, db, table, pk, at)
    if wanted(request) == "csv":
        columns = ["operation", "tx_id", "tx_time", "user", "tx_hash"]
        names = sorted({c for v in data["versions"] for c in v["values"]})
        rows = [
            [v[c] for c in columns] + [v["values"].get(n) for n in names] for v in data["versions"]
        ]
        return csv_response(to_csv(columns + names, rows), f"{table}-{pk}")
    timeline = await run_in_threadpool(Timeline, db)
    return respond(request, "row.html", data, timeline=timeline, at=at)


async def proof_page(request: Request) -> Response:
    """``/ledger/proofs/{tx_hash}``: a transaction's inclusion proof against today's root."""
    db: ChronoDB = await reading(request)
    tx_hash = path_param(request, "tx_hash")
    proof = await run_in_threadpool(db.audit_trail.prove, tx_hash)
    return respond(request, "proof.html", {"tx_hash": tx_hash, "proof": proof}, at=None)
