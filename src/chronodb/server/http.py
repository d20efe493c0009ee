"""The HTTP endpoints: SQL, tables, a row's history, health, metrics, the OpenAPI document.

ChronoDB is synchronous, so every call runs in the threadpool; the app's one ChronoDB
serialises them itself. Errors are JSON: ``{"error": {"type", "message", "position"}}``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import math
import os
import re
import time
from decimal import Decimal
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from chronodb import notes
from chronodb.database import ChronoDB
from chronodb.errors import ChronoDBError, ReadOnlyError, SchemaError
from chronodb.result import Result
from chronodb.server import jsonin
from chronodb.server.metrics import CONTENT_TYPE_LATEST, Metrics
from chronodb.server.replica import reading
from chronodb.sql.classify import Route, classify

# Statements that would outlive the request (a transaction left open on the shared
# connection) or reach beyond the database file.
_REFUSED = re.compile(r"\s*(ATTACH|DETACH|VACUUM)\b", re.I)
_TRANSACTION_CONTROL = (Route.BEGIN, Route.COMMIT, Route.ROLLBACK, Route.SAVEPOINT)
_READS = (Route.READ, Route.TEMPORAL)


def json_response(data: Any, status: int = 200) -> Response:
    # ASCII-only: a lone surrogate echoed back from the request must not break the encoder.
    body = json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


def error_response(status: int, kind: str, message: str, position: int | None = None) -> Response:
    return json_response(
        {"error": {"type": kind, "message": message, "position": position}}, status
    )


def jsonable(value: Any) -> Any:
    """A database value as JSON: BLOBs as base64 text, non-finite REALs as strings; from
    PostgreSQL also exact numbers (a number if it reads back unchanged, else its text),
    times (ISO-8601) and other values by their text."""
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value() and abs(value) < 2**63:
            return int(value)
        as_float = float(value)
        return (
            as_float if math.isfinite(as_float) and Decimal(repr(as_float)) == value else str(value)
        )
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if not isinstance(value, str | int | float | bool | dict | type(None)):
        return str(value)  # uuid, interval, inet...
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def _db(request: Request) -> ChronoDB:
    return request.app.state.db


def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def failure(request: Request, err: Exception) -> Response:
    """The response for an error a client caused."""
    _metrics(request).errors.labels("http").inc()
    if isinstance(err, ReadOnlyError):
        return error_response(403, "ReadOnlyError", str(err))
    if isinstance(err, SchemaError) and err.table and not err.column:
        return error_response(404, "SchemaError", str(err))
    return error_response(400, type(err).__name__, str(err), getattr(err, "position", None))


async def read_json(request: Request) -> Any:
    """The request body as JSON, refusing bodies over the app's limit."""
    limit: int = request.app.state.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body too large: at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"request body too large: at most {limit} bytes")
    try:
        return jsonin.loads(bytes(body))
    except ValueError as err:
        raise HTTPException(400, f"request body is not JSON: {err}") from None


def check_statement(sql: Any, params: Any) -> str:
    if not isinstance(sql, str) or not sql.strip():
        raise HTTPException(400, '"sql": expected a SQL statement')
    scalars = (str, int, float, bool, type(None))
    if params is not None and not (
        (isinstance(params, list) and all(isinstance(v, scalars) for v in params))
        or (isinstance(params, dict) and all(isinstance(v, scalars) for v in params.values()))
    ):
        raise HTTPException(400, '"params": expected a list or an object of plain values')
    if classify(sql) in _TRANSACTION_CONTROL or _REFUSED.match(sql):
        raise HTTPException(
            400,
            "this statement is not available over HTTP: each request runs as a transaction "
            "of its own, on this database file only",
        )
    return sql


def execute_statement(db: ChronoDB, sql: str, params: Any) -> Result:
    """Run one statement; its notes go into the answer rather than the server's log."""
    with notes.notes_only():
        return db.execute(sql, params)


async def _run_statement(request: Request, sql: str, params: Any) -> Result:
    """A statement that only reads runs where reads run (``server/replica.py``): if a
    standby refuses it as a write after all (a function that writes), on the primary."""
    db = _db(request)
    if classify(sql) in _READS:
        reader = await reading(request)
        if reader is not db:
            try:
                return await run_in_threadpool(execute_statement, reader, sql, params)
            except ReadOnlyError:
                pass
    return await run_in_threadpool(execute_statement, db, sql, params)


async def sql_endpoint(request: Request) -> Response:
    payload = await read_json(request)
    if not isinstance(payload, dict):
        raise HTTPException(400, 'expected a JSON object {"sql": ..., "params": ...}')
    sql, params = payload.get("sql"), payload.get("params")
    sql = check_statement(sql, params)
    metrics = _metrics(request)
    started = time.perf_counter()
    try:
        result = await _run_statement(request, sql, params)
    except ChronoDBError as err:  # the library's public calls raise nothing else
        metrics.statements.labels("error").inc()
        return failure(request, err)
    finally:
        metrics.statement_seconds.observe(time.perf_counter() - started)
    metrics.statements.labels("ok").inc()
    return json_response(
        {
            "columns": result.columns,
            "rows": [[jsonable(v) for v in row] for row in result.rows],
            "rowcount": result.rowcount,
            "tx_id": result.tx_id,
            "tx_time": result.tx_time,
            "tx_hash": result.tx_hash,
            "notes": result.notes,
        }
    )


def _describe_tables(db: ChronoDB, as_of: str | None) -> list[dict[str, Any]]:
    tables = []
    for name in db.tables(as_of):
        try:
            columns = db.columns(name, as_of)
        except SchemaError:  # dropped by another connection meanwhile
            continue
        tables.append({"name": name, "columns": [dataclasses.asdict(c) for c in columns]})
    return tables


async def tables_endpoint(request: Request) -> Response:
    as_of = request.query_params.get("as_of") or None
    try:
        tables = await run_in_threadpool(_describe_tables, await reading(request), as_of)
    except ChronoDBError as err:
        return failure(request, err)
    return json_response({"tables": tables})


def parse_key(text: str) -> Any:
    """A key from the URL: a JSON array for a composite key, a number, or text."""
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if isinstance(value, list):
            return value
    if re.fullmatch(r"-?(0|[1-9][0-9]{0,17})", text):
        return int(text)
    return text


def row_history(db: ChronoDB, table: str, pk: str) -> list[dict[str, Any]]:
    key = parse_key(pk)
    if key == pk:
        return db.get_change_history(table, pk)
    try:
        versions = db.get_change_history(table, key)
    except SchemaError:
        raise
    except ChronoDBError:  # PostgreSQL refuses to compare a text key with a number
        versions = []
    if not versions:
        versions = db.get_change_history(table, pk)  # a text key that looked like a number
    return versions


async def history_endpoint(request: Request) -> Response:
    table, pk = request.path_params["table"], request.path_params["pk"]
    try:
        versions = await run_in_threadpool(row_history, await reading(request), table, pk)
    except ChronoDBError as err:
        return failure(request, err)
    return json_response(
        {"table": table, "pk": parse_key(pk), "versions": [jsonable(v) for v in versions]}
    )


def _health(db: ChronoDB) -> dict[str, Any]:
    report = db.get_health_report()
    last = db.transactions(limit=1)
    report["last_tx"] = (
        None if not last else {"tx_id": last[0]["tx_id"], "tx_time": last[0]["tx_time"]}
    )
    report["read_only"] = db.read_only
    return report


async def health_endpoint(request: Request) -> Response:
    """The database's health report, plus the server's own: is the change feed running?"""
    state = request.app.state
    report = await run_in_threadpool(_health, _db(request))
    feed_running = state.feed.running
    report["stream"] = {
        "running": feed_running,
        "last_tx": state.feed.last_tx,
        "connections": state.metrics.open_connections,
    }
    report["uptime_s"] = round(time.monotonic() - state.started, 3)
    if not feed_running:
        report["status"] = "critical"
        report.setdefault("alerts", []).append(
            {"level": "critical", "message": "the change feed is not running"}
        )
    return json_response(report, 503 if report["status"] == "critical" else 200)


async def metrics_endpoint(request: Request) -> Response:
    return Response(_metrics(request).render(), media_type=CONTENT_TYPE_LATEST)


async def openapi_endpoint(request: Request) -> Response:
    return json_response(request.app.state.openapi)


async def index_endpoint(request: Request) -> Response:
    return json_response(
        {
            "name": "chronodb",
            "database": os.path.basename(_db(request).path),
            "websocket": ["/", "/ws"],
            "endpoints": sorted(request.app.state.openapi["paths"]),
        }
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    _metrics(request).errors.labels("http").inc()
    kinds = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed"}
    kind = kinds.get(exc.status_code, "PayloadTooLarge" if exc.status_code == 413 else "BadRequest")
    return error_response(exc.status_code, kind, str(exc.detail))
