"""Plan and bind temporal statements: parse once, rewrite per schema era, bind per call.

A statement's text is parsed once into a :class:`Plan`. Its points in time become extra
bound parameters, so the rewritten SQL is the same for every value of the point and is
cached; only the schema era the points fall in (which columns the tables had then) can
change it, and that is part of the cache key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlglot import exp
from sqlglot.errors import ParseError

from chronodb.errors import (
    SchemaError,
    SQLError,
    SQLSyntaxError,
    TemporalError,
    TimestampError,
)
from chronodb.layout import KEY_PARAM, POINT_PARAM
from chronodb.sql import snapshots
from chronodb.sql.classify import code_of
from chronodb.sql.dialect import QUERY_AS_OF, InputEnded, parse, to_sql
from chronodb.sql.rules.changes_function import ChangesArgumentError, changes_function
from chronodb.sql.rules.column_names import keep_column_names
from chronodb.sql.rules.expand_views import expand_views
from chronodb.sql.rules.join_bounds import carry_join_bounds
from chronodb.sql.rules.query_as_of import push_query_as_of
from chronodb.sql.rules.rowid_columns import (
    ROWID_COLUMN,
    RowidError,
    expose_rowids,
    spell_out_stars,
)
from chronodb.sql.rules.system_time import replace_temporal_tables
from chronodb.timepoint import MAX_EPOCH, to_micros
from chronodb.versioning.catalog import Catalog, Column, SchemaVersion
from chronodb.versioning.columns import affinity
from chronodb.versioning.timeline import tx_at_micros


class Uncomputable(Exception):
    """The database could not compute a point's expression (a division by zero, a malformed
    date): the point has no value, which :meth:`Point.evaluated` reports as a bad point."""


@dataclass(frozen=True, slots=True)
class Point:
    """One point in time named by a statement: a literal, a parameter or an expression."""

    kind: str  # "TIMESTAMP" (value in microseconds) or "TRANSACTION" (a tx_id)
    literal: int | None = None
    param: int | str | None = None
    expression: str | None = None
    position: int | None = None

    def evaluated(self, evaluate: Callable[[str], Any], sql: str) -> int:
        """The value of this point's expression, computed by the database (``evaluate``,
        in the backend's own SQL), read as a literal or a parameter would be."""
        assert self.expression is not None
        try:
            raw = evaluate(self.expression)
        except Uncomputable as err:
            if self.kind == "TRANSACTION":
                raise TemporalError(
                    f"AS OF TRANSACTION needs a transaction number, got {self.expression}: {err}",
                    sql=sql,
                    position=self.position,
                ) from None
            raise TimestampError(
                f"Invalid timestamp {self.expression}: {err}",
                value=self.expression,
                sql=sql,
                position=self.position,
            ) from None
        return self.convert(raw, sql)

    def convert(self, value: Any, sql: str) -> int:
        if self.kind == "TRANSACTION":
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise TemporalError(
                    f"AS OF TRANSACTION needs a transaction number, got {value!r}",
                    sql=sql,
                    position=self.position,
                )
            try:
                tx = int(value)
            except ValueError:
                tx = -1
            if tx < 0:
                raise TemporalError(
                    f"AS OF TRANSACTION needs a transaction number (0 or more), got {value!r}",
                    sql=sql,
                    position=self.position,
                )
            return tx
        try:
            return to_micros(value)
        except TimestampError as err:
            raise TimestampError(str(err), value=value, sql=sql, position=self.position) from None


@dataclass(slots=True)
class TableRef:
    name: str
    kind: str  # "AS OF", "BETWEEN", "FROM", "CONTAINED IN", "ALL"
    points: tuple[int, ...]


@dataclass
class Plan:
    sql: str
    tree: exp.Expr
    points: list[Point]
    tables: list[TableRef]
    positional: int
    finals: dict[tuple, str] = field(default_factory=dict)
    blank_params: tuple[int, ...] = ()  # 0-based positional parameters that are points in time

    # Whether every point is a positional parameter: the common case, bound on a short path.
    all_positional: bool = False
    # Per table reference: its name, the index of its point (-1: it reads the latest
    # version) and the point's unit, for :func:`_resolve`.
    lookups: tuple[tuple[str, int, str], ...] = ()
    # (catalog versions, since_us, final): every point at or after since_us reads each
    # table's open shape, so the SQL is ``final`` without resolving again (see bind).
    recent: tuple[list[Any], int, str] | None = None
    # Whether every point is a timestamp: only then can ``recent`` hold (a transaction
    # number is not a time to compare with since_us).
    timestamps_only: bool = False
    # The views the statement reads with a temporal clause: (name, index of its point or -1
    # for a range, unit). A view reads as it was defined at its point, so such a statement
    # is planned once per choice of definitions (``variants``, see bind).
    views: tuple[tuple[str, int, str], ...] = ()
    variants: dict[tuple, Plan] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.blank_params = tuple(
            pt.param - 1 for pt in self.points if isinstance(pt.param, int) and pt.param > 0
        )
        self.all_positional = len(self.blank_params) == len(self.points)
        self.timestamps_only = all(pt.kind == "TIMESTAMP" for pt in self.points)
        self.lookups = tuple(
            (ref.name, ref.points[0], self.points[ref.points[0]].kind)
            if ref.kind == "AS OF"
            else (ref.name, -1, "")
            for ref in self.tables
        )


def syntax_error(err: ParseError, sql: str) -> SQLSyntaxError:
    info = err.errors[0] if err.errors else {}
    line, col = info.get("line"), info.get("col")
    position = None
    if line is not None and col is not None:
        lines = sql.split("\n")
        position = sum(len(x) + 1 for x in lines[: line - 1]) + max(col - 1, 0)
        # sqlglot points at the end of the token; step back to its start
        highlight = info.get("highlight") or ""
        position = max(position - len(highlight) + 1, 0)
    description = info.get("description") or str(err).split("\n")[0]
    if isinstance(err, InputEnded):  # as SQLite says of a statement that stops short
        code = code_of(sql).rstrip()
        if code.endswith(";"):
            return SQLSyntaxError('near ";": syntax error', sql=sql, position=code.index(";"))
        return SQLSyntaxError("incomplete input", sql=sql, position=len(sql.rstrip()))
    near = info.get("highlight")
    message = f"Syntax error: {description}" + (f" near {near!r}" if near else "")
    return SQLSyntaxError(message, sql=sql, position=position)


def _position(node: exp.Expr | None) -> int | None:
    while node is not None:
        meta = node._meta
        if meta and "start" in meta:
            return meta["start"]
        node = next(iter(node.iter_expressions()), None)
    return None


def _point(kind: str, node: exp.Expr, sql: str) -> Point:
    pos = _position(node)
    if isinstance(node, exp.Placeholder):
        if node.this:
            return Point(kind, param=str(node.this), position=pos)
        return Point(kind, param=node.meta["index"], position=pos)
    value: Any = None
    if isinstance(node, exp.Literal):
        value = node.this if node.is_string else float(node.this)
        if not node.is_string and float(node.this).is_integer():
            value = int(float(node.this))
    elif isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        if pos is not None:  # the number's position: point at its sign
            pos = max(sql.rfind("-", 0, pos), 0)
        value = -float(node.this.this)
        value = int(value) if value.is_integer() else value  # name -5 as written, not -5.0
    if value is not None:
        probe = Point(kind, position=pos)
        return Point(kind, literal=probe.convert(value, sql), position=pos)
    if any(isinstance(n, exp.Placeholder | exp.Column) for n in node.walk()):
        raise TemporalError(
            "A point in time must be a literal, a parameter, or an expression without "
            f"columns or parameters; got {to_sql(node)!r}",
            sql=sql,
            position=pos,
        )
    return Point(kind, expression=to_sql(node, verbatim=True), position=pos)


_INCOMPLETE = {
    "BETWEEN": "BETWEEN needs two points in time: BETWEEN x AND y",
    "FROM": "FROM needs two points in time: FROM x TO y",
    "CONTAINED IN": "CONTAINED IN needs two points in time: CONTAINED IN (x, y)",
    "CHANGES": "chrono_changes needs two points in time: chrono_changes(table, x, y)",
}
_SYSTEM_TIME = re.compile(r"\bFOR\s+SYSTEM_?\s*TIME\b", re.IGNORECASE)


def _incomplete(kind: str, version: exp.Expr, sql: str) -> TemporalError:
    """A FOR SYSTEM_TIME clause cut short (its point or its range is missing)."""
    position = _position(version)
    if position is None:
        found = _SYSTEM_TIME.search(sql)
        position = found.start() if found else None
    message = _INCOMPLETE.get(
        kind, "FOR SYSTEM_TIME needs AS OF x, BETWEEN x AND y, FROM x TO y or ALL after it"
    )
    return TemporalError(message, sql=sql, position=position)


def _collect_points(tree: exp.Expr, sql: str) -> list[Point]:
    points: list[Point] = []
    for version in tree.find_all(exp.Version):
        kind = version.text("kind").upper()
        this = version.name.upper()
        unit = "TRANSACTION" if this == "TRANSACTION" else "TIMESTAMP"
        if kind == "ALL":
            version.meta["points"] = ()
            continue
        target = version.expression
        nodes = target.expressions if isinstance(target, exp.Tuple) else [target]
        wanted = 2 if kind in _INCOMPLETE else 1
        if len(nodes) != wanted or any(node is None for node in nodes):
            raise _incomplete(kind, version, sql)
        if kind != "AS OF" and unit == "TRANSACTION":
            raise TemporalError("Ranges of transactions are not supported", sql=sql)
        indexes = []
        for node in nodes:
            points.append(_point(unit, node, sql))
            indexes.append(len(points) - 1)
        version.meta["points"] = tuple(indexes)
        version.meta["unit"] = unit
    return points


def plan(sql: str, catalog: Catalog) -> Plan:
    """Parse a temporal statement and apply the catalog-independent rules.

    A statement that reads a view with a temporal clause is left before its views are
    expanded: which definition each reads depends on the point (see :func:`bind`).
    """
    try:
        trees = parse(sql)
    except ParseError as err:
        raise syntax_error(err, sql) from None
    if len(trees) != 1:
        raise SQLSyntaxError("Expected exactly one statement", sql=sql, position=0)
    tree = trees[0]
    positional = sum(
        1 for p in tree.find_all(exp.Placeholder) if not p.this and "index" in (p._meta or {})
    )
    try:
        tree = changes_function(tree)
    except ChangesArgumentError as err:
        raise TemporalError(str(err), sql=sql) from None
    points = _collect_points(tree, sql)
    tree = keep_column_names(tree)
    tree = push_query_as_of(tree)
    for select in tree.find_all(exp.Select):
        if select.args.get(QUERY_AS_OF):
            raise TemporalError("AS OF outside a query", sql=sql)
    views = _view_refs(tree, catalog)
    if views:
        return Plan(sql, tree, points, [], positional, views=views)
    return _planned(sql, tree, points, positional, catalog)


def _view_refs(tree: exp.Expr, catalog: Catalog) -> tuple[tuple[str, int, str], ...]:
    """Each view read with a temporal clause: its name, its point's index (or -1), unit."""
    found = []
    for table in tree.find_all(exp.Table):
        version = table.args.get("version")
        if version is None or not isinstance(table.this, exp.Identifier):
            continue
        if catalog.views.known(table.name):
            found.append((table.name, *_point_of(version)))
    return tuple(found)


def _point_of(version: exp.Version) -> tuple[int, str]:
    """A view reference's point (its index, or -1 for a range, whose views read as they are
    now) and the point's unit."""
    as_of = version.text("kind").upper() == "AS OF"
    return (version.meta["points"][0] if as_of else -1), version.meta.get("unit", "")


def _planned(
    sql: str,
    tree: exp.Expr,
    points: list[Point],
    positional: int,
    catalog: Catalog,
    values: list[int] | None = None,
) -> Plan:
    """The plan of a statement whose views (read as defined at ``values``) are expanded."""
    if values is not None:
        tree = expand_views(tree, lambda name, version: _view_body(catalog, name, version, values))
    tree = expose_rowids(tree, catalog.has_column)
    tables = []
    for table in tree.find_all(exp.Table):
        version = table.args.get("version")
        if version is None:
            continue
        if not catalog.known(table.name):
            raise SchemaError(
                f"no such table: {table.name}", table=table.name, sql=sql, position=_position(table)
            )
        tables.append(
            TableRef(table.name, version.text("kind").upper(), version.meta.get("points", ()))
        )
    return Plan(sql, tree, points, tables, positional)


def _definition(
    catalog: Catalog, name: str, point: int, unit: str, values: list[int]
) -> str | None:
    """The CREATE VIEW of ``name`` at its point (a range reads the latest), or None."""
    if point < 0:
        return catalog.views.latest(name)
    return catalog.views.at(name, unit, values[point])


def _view_body(
    catalog: Catalog, name: str, version: exp.Version, values: list[int]
) -> exp.Expr | None:
    definition = _definition(catalog, name, *_point_of(version), values)
    return None if definition is None else _view_query(definition)


@functools.lru_cache(maxsize=256)
def _view_query(definition: str) -> exp.Expr:
    """The query of a CREATE VIEW statement (copied by whoever changes it)."""
    try:
        tree = parse(definition)[0]
    except ParseError as err:
        raise TemporalError(f"A view cannot be read in the past: {definition!r}: {err}") from None
    return tree.args["expression"]


@functools.lru_cache(maxsize=256)
def _tables_read(definition: str) -> tuple[str, ...]:
    """The names a view's query reads without a temporal clause of its own."""
    return tuple(
        t.name
        for t in _view_query(definition).find_all(exp.Table)
        if not t.args.get("version") and isinstance(t.this, exp.Identifier)
    )


def _chosen(
    refs: Sequence[tuple[str, int, str]], values: list[int], catalog: Catalog, depth: int = 0
) -> tuple[str | None, ...]:
    """The definition each view reference reads at ``values``, the views inside them too.

    Mirrors :func:`expand_views`, so equal answers mean equal expansions.
    """
    chosen: list[str | None] = []
    for name, point, unit in refs:
        definition = _definition(catalog, name, point, unit, values)
        chosen.append(definition)
        if definition is not None and depth < 16:
            inner = [(n, point, unit) for n in _tables_read(definition) if catalog.views.known(n)]
            chosen.extend(_chosen(inner, values, catalog, depth + 1))
    return tuple(chosen)


def _bind_views(
    p: Plan,
    params: Sequence[Any] | Mapping[str, Any] | None,
    catalog: Catalog,
    evaluate: Callable[[str], Any],
) -> tuple[str, Any]:
    """Bind a statement that reads views in the past: planned per choice of definitions."""
    values = _values(p, params, evaluate)
    key = _chosen(p.views, values, catalog)
    variant = p.variants.get(key)
    if variant is None:
        variant = _planned(p.sql, p.tree.copy(), p.points, p.positional, catalog, values)
        p.variants[key] = variant
    return bind(variant, params, catalog, evaluate)


def _resolve(p: Plan, values: list[int], catalog: Catalog) -> list[SchemaVersion | None]:
    """The schema version each table reference reads: as of its point, or the latest."""
    resolved = []
    for name, point, unit in p.lookups:
        if point < 0:
            resolved.append(catalog.latest(name))
        elif unit == "TRANSACTION":
            resolved.append(catalog.at_tx(name, values[point]))
        else:
            resolved.append(catalog.at_us(name, values[point]))
    return resolved


_PLAIN_SEQUENCES = (list, tuple)


def bind(
    p: Plan,
    params: Sequence[Any] | Mapping[str, Any] | None,
    catalog: Catalog,
    evaluate: Callable[[str], Any],
) -> tuple[str, Any]:
    """The SQL to run and its parameters, for one call of a planned statement."""
    if p.views:
        return _bind_views(p, params, catalog, evaluate)
    plain = type(params) in _PLAIN_SEQUENCES
    if plain and p.all_positional and len(params) >= p.positional:  # type: ignore[arg-type]
        values = []
        for point in p.points:
            raw = params[point.param - 1]  # type: ignore[index, operator]
            # the common case, epoch seconds as a float, without the general conversion's checks
            if type(raw) is float and point.kind == "TIMESTAMP" and 0.0 <= raw <= MAX_EPOCH:
                values.append(round(raw * 1_000_000))
            else:
                values.append(point.convert(raw, p.sql))
    else:
        values = _values(p, params, evaluate)
    # list and tuple first: the ABC checks cost more than the rest of a cached bind
    mapping = not plain and isinstance(params, Mapping)
    recent = p.recent
    if (
        recent is not None
        and not mapping
        and recent[0] is catalog.versions
        and (not values or min(values) >= recent[1])
    ):
        final = recent[2]
    else:
        resolved = _resolve(p, values, catalog)
        key = (mapping, *[sv.id if sv is not None else None for sv in resolved])
        cached = p.finals.get(key)
        if cached is None:
            final = p.finals[key] = _render(p, resolved, catalog, mapping)
        else:
            final = cached
        if not mapping and p.timestamps_only:
            p.recent = _recent(p, resolved, catalog, final)
    if mapping:
        bound: Any = dict(params)  # type: ignore[arg-type]
        bound.update({f"{POINT_PARAM}{i}": v for i, v in enumerate(values)})
    else:
        bound = list(params or ())
        if len(bound) < p.positional:  # sqlite3 refuses this for a plain statement too
            raise SQLError(
                f"Incorrect number of bindings supplied. The current statement uses "
                f"{p.positional}, and there are {len(bound)} supplied.",
                sql=p.sql,
            )
        for index in p.blank_params:  # points in time, already bound as values
            bound[index] = None
        bound.extend(values)
    return final, bound


def _recent(
    p: Plan, resolved: list[SchemaVersion | None], catalog: Catalog, final: str
) -> tuple[list[Any], int, str] | None:
    """``final`` with the time from which it holds for every later point, if there is one.

    Called for plans whose points are all timestamps. That is so when each table read AS OF
    a point resolved to its open shape: any later point resolves there too, until the
    catalog changes (a new ``catalog.versions`` list). Most temporal reads ask about a
    recent past, and this spares them the resolving.
    """
    since = 0
    for (_, point, _unit), sv in zip(p.lookups, resolved, strict=True):
        if point < 0:
            continue
        if sv is None or sv.to_us is not None:
            return None
        since = max(since, sv.from_us)
    return catalog.versions, since, final


def _values(
    p: Plan, params: Sequence[Any] | Mapping[str, Any] | None, evaluate: Callable[[str], Any]
) -> list[int]:
    """Each point's value (microseconds or a tx_id), with errors naming what is missing."""
    values: list[int] = []
    for point in p.points:
        if point.literal is not None:
            values.append(point.literal)
            continue
        if point.expression is not None:
            values.append(point.evaluated(evaluate, p.sql))
            continue
        if isinstance(point.param, int):
            if type(params) not in _PLAIN_SEQUENCES and (
                not isinstance(params, Sequence) or isinstance(params, str)
            ):
                raise TemporalError("Positional parameter used without a parameter list", sql=p.sql)
            listed = cast(Sequence[Any], params)
            if point.param > len(listed):
                raise TemporalError(
                    f"Missing parameter {point.param} for the point in time",
                    sql=p.sql,
                    position=point.position,
                )
            raw = listed[point.param - 1]
        else:
            name = point.param
            if not isinstance(params, Mapping) or name is None or name not in params:
                raise TemporalError(
                    f"Missing named parameter :{point.param} for the point in time",
                    sql=p.sql,
                    position=point.position,
                )
            raw = params[name]
        values.append(point.convert(raw, p.sql))
    return values


def point_values(
    p: Plan, params: Sequence[Any] | Mapping[str, Any] | None, evaluate: Callable[[str], Any]
) -> list[int]:
    """Each point of ``p`` for one call: microseconds or a tx_id, as :func:`bind` reads it."""
    return _values(p, params, evaluate)


def _render(p: Plan, resolved: list[SchemaVersion | None], catalog: Catalog, mapping: bool) -> str:
    refs = iter(zip(p.tables, resolved, strict=True))

    def build(table: exp.Table, version: exp.Version) -> str:
        ref, sv = next(refs)
        idx = ref.points
        name = [f":{POINT_PARAM}{i}" for i in idx]
        if ref.kind == "CHANGES":
            assert sv is not None
            return snapshots.changes(
                sv, name[0], name[1], catalog.versions_of(sv.table_id), catalog.epoch
            )
        rowid = bool(table._meta and table.meta.get("rowid"))
        if ref.kind == "AS OF":
            unit = version.meta.get("unit", "TIMESTAMP")
            tx_ref = name[0] if unit == "TRANSACTION" else tx_at_micros(name[0], catalog.epoch)
            shape = sv or catalog.earliest(ref.name)
            assert shape is not None
            if rowid:
                _expose_rowid(table, sv, [c.name for c in shape.columns], p.sql)
            null_keys = sv is not None and sv.hist in catalog.null_keyed
            return snapshots.as_of(
                sv, tx_ref, shape, _fixed_key(table, sv), rowid=rowid, null_keys=null_keys
            )
        assert sv is not None
        if rowid:
            _expose_rowid(table, sv, [c.name for c in sv.columns] + list(snapshots.PERIOD), p.sql)
        lo, hi = [*name, None, None][:2]
        dropped = catalog.versions_of(sv.table_id)[-1].to_tx
        return snapshots.period(
            sv,
            ref.kind,
            lo,
            hi,
            rowid=rowid,
            dropped=dropped,
            null_keys=sv.hist in catalog.null_keyed,
            epoch=catalog.epoch,
        )

    tree = p.tree.copy()
    read_as_of = {
        id(table): sv
        for table, ref, sv in zip(
            [t for t in tree.find_all(exp.Table) if t.args.get("version")],
            p.tables,
            resolved,
            strict=True,
        )
        if ref.kind == "AS OF" and sv is not None
    }

    def alike(a: exp.Table, a_column: str, b: exp.Table, b_column: str) -> bool:
        first = _column(read_as_of.get(id(a)), a_column)
        second = _column(read_as_of.get(id(b)), b_column)
        return (
            first is not None
            and second is not None
            and affinity(first.decl_type) == affinity(second.decl_type)
            and first.collation.upper() == second.collation.upper()
        )

    tree = replace_temporal_tables(carry_join_bounds(tree, alike), build)
    if not mapping:
        for node in tree.find_all(exp.Placeholder):
            name = str(node.this or "")
            if name.startswith(POINT_PARAM):
                node.set("this", None)
                node.meta["index"] = p.positional + int(name[len(POINT_PARAM) :]) + 1
    for node in tree.find_all(exp.Placeholder):
        name = str(node.this or "")
        if name.startswith(KEY_PARAM):  # the user's own positional parameter, repeated
            node.set("this", None)
            node.meta["index"] = int(name[len(KEY_PARAM) :])
    return to_sql(tree, verbatim=True, copy=False)


def _column(sv: SchemaVersion | None, name: str) -> Column | None:
    """``sv``'s column called ``name`` (as SQLite matches names), if it has one."""
    if sv is None:
        return None
    return next((c for c in sv.columns if c.name.lower() == name.lower()), None)


def _expose_rowid(table: exp.Table, sv: SchemaVersion | None, columns: list[str], sql: str) -> None:
    """Check that ``table``'s history keeps rowids, and keep its extra column out of ``*``."""
    if sv is not None and snapshots.rowid_column(sv) is None:
        keys = ", ".join(c.name for c in sv.key_columns)
        raise TemporalError(
            f"rowid of {table.name} in the past is not kept: its rows are known by their "
            f"primary key ({keys}); use that instead",
            sql=sql,
            position=_position(table),
        )
    try:
        spell_out_stars(table, columns)
    except RowidError as err:
        raise TemporalError(str(err), sql=sql, position=_position(table)) from None


def _fixed_key(table: exp.Table, sv: SchemaVersion | None) -> list[str] | None:
    """SQL for each key column the query fixes with ``key = value``, or None.

    Only for a table read alone (no joins) whose WHERE has, at its top level, one equality
    per key column with a literal or a parameter: then AS OF needs one seek, not a scan.
    """
    if sv is None:
        return None
    names_of_keys = [c.name.lower() for c in sv.key_columns]
    if len(names_of_keys) != len(sv.keys):  # keyed by rowid: named as rules/rowid_columns.py
        names_of_keys = [ROWID_COLUMN.lower()]
    from_ = table.parent
    select = from_.parent if isinstance(from_, exp.From) else None
    if not isinstance(select, exp.Select) or select.args.get("joins"):
        return None
    where = select.args.get("where")
    if where is None:
        return None
    names = {table.alias_or_name.lower(), table.name.lower()}
    found: dict[str, str] = {}
    for cond in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        if not isinstance(cond, exp.EQ):
            continue
        for col, value in ((cond.this, cond.expression), (cond.expression, cond.this)):
            if not isinstance(col, exp.Column) or (col.table and col.table.lower() not in names):
                continue
            ref = _value_ref(value)
            if ref is not None:
                found.setdefault(col.name.lower(), ref)
    refs = [found.get(name) for name in names_of_keys]
    if refs == [None] and snapshots.rowid_column(sv) is not None:
        refs = [found.get(ROWID_COLUMN.lower())]  # WHERE rowid = ?: the key by another name
    return None if any(r is None for r in refs) else [r for r in refs if r is not None]


def _value_ref(value: exp.Expr) -> str | None:
    if isinstance(value, exp.Placeholder):
        if value.this:
            return f":{value.this}"
        index = value.meta.get("index") if value._meta else None
        return None if index is None else f":{KEY_PARAM}{index}"
    if isinstance(value, exp.Literal) or (
        isinstance(value, exp.Neg) and isinstance(value.this, exp.Literal)
    ):
        return to_sql(value, verbatim=True)
    return None
