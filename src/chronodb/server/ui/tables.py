"""``/tables/{table}``: a table's rows now or AS OF a point, a page at a time.

Pages follow the key (keyset pagination: ``?_next=`` holds the last row's sort value and
key), so page 1000 costs what page 1 does. ``?_sort=col`` (``&_desc=1``) sorts, NULLs last;
``?col=value`` filters; ``?_facet=col`` counts the values of a column. Foreign keys are
links, labelled with the referenced row's first text column.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from chronodb.database import ChronoDB
from chronodb.errors import ChronoDBError, SchemaError
from chronodb.introspect import Column
from chronodb.server.replica import reading
from chronodb.server.ui.points import Point, Timeline, parse_point
from chronodb.server.ui.render import csv_response, path_param, respond, to_csv, wanted
from chronodb.versioning.tables import quote

PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
FACET_VALUES = 10
#: Rows a page counts at most: a count AS OF a point reads every key up to there.
COUNT_CAP = 10_000
RESERVED = {"as_of", "token", "_sort", "_desc", "_next", "_facet", "_size", "live"}
_LABEL_NAMES = ("name", "title", "label", "email")


def key_columns(columns: list[Column]) -> list[str]:
    """The columns that name a row: the primary key in its order, else the rowid."""
    keys = sorted((c for c in columns if c.primary_key), key=lambda c: c.primary_key)
    return [c.name for c in keys] or ["rowid"]


def row_key(key: list[str], row: dict[str, Any]) -> str:
    """A row's key as a URL segment: the value for a one-column key, else a JSON array."""
    values = [row[k] for k in key]
    return str(values[0]) if len(values) == 1 else json.dumps(values)


def source(table: str, at: Point | None) -> tuple[str, list[Any]]:
    """``FROM``'s table, AS OF ``at`` when given, and its parameters."""
    if at is None:
        return quote(table), []
    clause, params = at.clause()
    return f"{quote(table)} {clause}", params


def label_column(db: ChronoDB, table: str, at: Point | None) -> str | None:
    """The column that names a row of ``table`` for people: a name-like one, else the first
    text column outside the key."""
    try:
        columns = db.columns(table, as_of=at.arg if at else None)
    except ChronoDBError:
        return None
    texts = [c.name for c in columns if not c.primary_key and "CHAR" in c.type.upper()]
    texts += [c.name for c in columns if not c.primary_key and "TEXT" in c.type.upper()]
    for name in _LABEL_NAMES:
        for c in texts:
            if c.lower() == name:
                return c
    return texts[0] if texts else None


class Query:
    """What a table page's URL asks for, checked against the table's columns."""

    def __init__(self, params: dict[str, list[str]], names: list[str], key: list[str]) -> None:
        known = {n.lower(): n for n in names}
        sort = params.get("_sort")
        self.sort = self._column(sort[0], known, "_sort") if sort else None
        self.desc = params.get("_desc", ["0"])[0] not in ("", "0")
        self.filters = [
            (self._column(name, known, name), value)
            for name, values in params.items()
            if name not in RESERVED
            for value in values
        ]
        self.facets = [self._column(f, known, "_facet") for f in params.get("_facet", [])]
        size = params.get("_size", [str(PAGE_SIZE)])[0]
        if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
            raise ChronoDBError(f"?_size={size!r:.40} is not a page size (1 to {MAX_PAGE_SIZE})")
        self.size = int(size)
        self.key = key
        raw_next = params.get("_next", [None])[0]
        self.after: list[Any] | None = None
        if raw_next:
            try:
                self.after = json.loads(raw_next)
            except ValueError:
                self.after = None
            width = len(key) + (1 if self.sort else 0)
            if not isinstance(self.after, list) or len(self.after) != width:
                raise ChronoDBError(f"?_next={raw_next!r:.80} is not a page of this table")

    @staticmethod
    def _column(name: str, known: dict[str, str], param: str) -> str:
        if name.lower() not in known:
            raise SchemaError(f"?{param}: no such column {name!r:.80}", column=name)
        return known[name.lower()]

    def where(self) -> tuple[list[str], list[Any]]:
        """The filters' conditions and parameters (without the page's position)."""
        return [f"{quote(c)} = ?" for c, _ in self.filters], [v for _, v in self.filters]

    def position(self) -> tuple[list[str], list[Any]]:
        """The condition that starts this page after the last row of the one before."""
        if self.after is None:
            return [], []
        keys = ", ".join(quote(k) for k in self.key)
        op = "<" if self.desc else ">"
        key_values = self.after[-len(self.key) :]
        marks = ", ".join("?" for _ in self.key)
        after_key = f"({keys}) {op} ({marks})"
        if self.sort is None:
            return [after_key], key_values
        col, value = quote(self.sort), self.after[0]
        if value is None:  # NULLs sort last: only more NULLs follow
            return [f"({col} IS NULL AND {after_key})"], key_values
        return (
            [f"({col} IS NULL OR {col} {op} ? OR ({col} = ? AND {after_key}))"],
            [value, value, *key_values],
        )

    def order(self) -> str:
        direction = " DESC" if self.desc else ""
        keys = ", ".join(quote(k) + direction for k in self.key)
        if self.sort is None:
            return keys
        col = quote(self.sort)
        return f"{col} IS NULL, {col}{direction}, {keys}"


def _select(table: str, at: Point | None, key: list[str], conditions: list[str]) -> str:
    src, _ = source(table, at)
    extra = "rowid, " if key == ["rowid"] else ""
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    return f"SELECT {extra}* FROM {src}{where}"


def table_page_data(
    db: ChronoDB, table: str, at: Point | None, params: dict[str, list[str]]
) -> dict[str, Any]:
    """One page of ``table`` as the URL's parameters ask, with what the page shows about it."""
    columns = db.columns(table, as_of=at.arg if at else None)
    key = key_columns(columns)
    names = [c.name for c in columns]
    q = Query(params, names, key)
    _, at_params = source(table, at)
    filters, filter_params = q.where()
    pos, pos_params = q.position()
    sql = _select(table, at, key, filters + pos) + f" ORDER BY {q.order()} LIMIT ?"
    result = db.execute(sql, [*at_params, *filter_params, *pos_params, q.size + 1])
    shown = result.columns
    rows = [dict(zip(shown, r, strict=True)) for r in result.rows]
    more = len(rows) > q.size
    rows = rows[: q.size]
    nxt = None
    if more and rows:
        last = rows[-1]
        nxt = json.dumps(([last[q.sort]] if q.sort else []) + [last[k] for k in key])
    total = count_rows(db, table, at, filters, filter_params)
    return {
        "table": table,
        "as_of": at.text if at else None,
        "columns": [
            {"name": c.name, "type": c.type, "primary_key": c.primary_key} for c in columns
        ],
        "key": key,
        "count": total,
        "count_exact": total <= COUNT_CAP,
        "rows": rows,
        "keys": [row_key(key, r) for r in rows],
        "next": nxt,
        "sort": q.sort,
        "desc": q.desc,
        "filters": [{"column": c, "value": v} for c, v in q.filters],
        "facets": [_facet(db, table, at, q, f) for f in q.facets if f],
        "foreign_keys": _links(db, table, at, rows),
    }


def count_rows(
    db: ChronoDB,
    table: str,
    at: Point | None,
    conditions: Sequence[str] = (),
    params: Sequence[Any] = (),
) -> int:
    """How many rows ``table`` has (had ``at``) where ``conditions`` hold, counting at most
    COUNT_CAP + 1: more than COUNT_CAP is "COUNT_CAP+" on a page."""
    src, at_params = source(table, at)
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    return db.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {src}{where} LIMIT ?) AS capped",
        [*at_params, *params, COUNT_CAP + 1],
    ).scalar()


def _facet(db: ChronoDB, table: str, at: Point | None, q: Query, column: str) -> dict[str, Any]:
    src, at_params = source(table, at)
    filters, params = q.where()
    where = " WHERE " + " AND ".join(filters) if filters else ""
    col = quote(column)
    result = db.execute(
        f"SELECT {col}, count(*) FROM {src}{where} GROUP BY {col} ORDER BY 2 DESC, 1 LIMIT ?",
        [*at_params, *params, FACET_VALUES],
    )
    return {"column": column, "values": [{"value": v, "count": n} for v, n in result.rows]}


def _links(
    db: ChronoDB, table: str, at: Point | None, rows: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """For each one-column foreign key: the table and column it points at, whether that
    column is the table's key (then a value links to the row, else to the rows that have
    it), and the labels of the rows this page references."""
    links: dict[str, dict[str, Any]] = {}
    for fk in db.foreign_keys(table):
        if len(fk.columns) != 1 or len(fk.other_columns) != 1:
            continue
        column, other = fk.columns[0], fk.other_columns[0]
        try:
            other_columns = db.columns(fk.other_table, as_of=at.arg if at else None)
        except ChronoDBError:  # the referenced table did not exist then
            continue
        label = label_column(db, fk.other_table, at)
        values = sorted({r[column] for r in rows if r.get(column) is not None}, key=str)
        labels: dict[str, Any] = {}
        if label and values:
            src, at_params = source(fk.other_table, at)
            marks = ", ".join("?" for _ in values)
            found = db.execute(
                f"SELECT {quote(other)}, {quote(label)} FROM {src} "
                f"WHERE {quote(other)} IN ({marks})",
                [*at_params, *values],
            )
            labels = {str(k): v for k, v in found.rows}
        links[column] = {
            "table": fk.other_table,
            "column": other,
            "is_key": key_columns(other_columns) == [other],
            "labels": labels,
        }
    return links


def csv_rows(db: ChronoDB, table: str, at: Point | None, params: dict[str, list[str]]) -> str:
    """Every row the filters keep, in key order, as CSV."""
    columns = db.columns(table, as_of=at.arg if at else None)
    key = key_columns(columns)
    q = Query(params, [c.name for c in columns], key)
    _, at_params = source(table, at)
    filters, filter_params = q.where()
    result = db.execute(
        _select(table, at, key, filters) + f" ORDER BY {q.order()}", [*at_params, *filter_params]
    )
    return to_csv(result.columns, result.rows)


def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


async def table_page(request: Request) -> Response:
    db: ChronoDB = await reading(request)
    table = path_param(request, "table")
    at = parse_point(request.query_params.get("as_of"))
    params = _params(request)
    if wanted(request) == "csv":
        text = await run_in_threadpool(csv_rows, db, table, at, params)
        return csv_response(text, table)
    data = await run_in_threadpool(table_page_data, db, table, at, params)
    timeline = await run_in_threadpool(Timeline, db)
    return respond(request, "table.html", data, timeline=timeline, at=at)
