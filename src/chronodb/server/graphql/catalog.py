"""What the GraphQL schema is generated from: the live tables, their columns and foreign keys.

Everything here comes from the database's introspection API (``chronodb/introspect.py``), as
the HTTP API's and the CLI's listings do; the GraphQL names derived from it are sanitised and
made unique, and each keeps the SQL identifier it stands for, so SQL is only ever written
with identifiers read from the catalog, never with text from a query. Generated columns are
fields to read and filter on, and are left out of the mutations' inputs.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from chronodb.database import ChronoDB
from chronodb.errors import SchemaError
from chronodb.introspect import ForeignKey
from chronodb.versioning.tables import quote

# The GraphQL scalar each SQLite declared type maps to (SQLite's affinity rules, roughly,
# with BOOL and date/time types singled out).
INT, FLOAT, STRING, BOOLEAN, BLOB = "Int", "Float", "String", "Boolean", "Blob"
BIGINT = "BigInt"  # GraphQL's Int is 32 bits; a column declared BIGINT or INT8 holds 64

# Argument names a list field takes besides its per-column equality arguments.
RESERVED_ARGUMENTS = frozenset({"where", "orderBy", "limit", "offset", "asOf", "asOfTransaction"})
_NAME = re.compile(r"[^_0-9A-Za-z]")


def scalar_of(declared: str) -> str:
    t = (declared or "").upper()
    if "BOOL" in t:
        return BOOLEAN
    if "INT" in t:
        return BIGINT if "BIG" in t or "INT8" in t else INT
    if any(word in t for word in ("CHAR", "CLOB", "TEXT")):
        return STRING
    if "BLOB" in t:
        return BLOB
    if any(word in t for word in ("REAL", "FLOA", "DOUB")):
        return FLOAT
    if any(word in t for word in ("DATE", "TIME")):
        return STRING
    if any(word in t for word in ("NUMERIC", "DECIMAL")):
        return FLOAT
    return STRING if t else BLOB  # no declared type: BLOB affinity, any value


def graphql_name(text: str) -> str:
    """A valid GraphQL name for ``text``: other characters become ``_``."""
    name = _NAME.sub("_", text) or "_"
    if name[0].isdigit():
        name = "_" + name
    if name.startswith("__"):
        name = "x" + name
    return name


def unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


@dataclass
class Column:
    name: str  # the SQL name
    field: str  # the GraphQL field name
    scalar: str  # INT, BIGINT, FLOAT, STRING, BOOLEAN or BLOB
    pk: int  # position in the primary key (1-based), 0 if not part of it
    not_null: bool
    generated: str = ""  # "VIRTUAL" or "STORED" for a generated column, which no one writes

    @property
    def sql(self) -> str:
        return quote(self.name)

    @property
    def numeric(self) -> bool:
        return self.scalar in (INT, BIGINT, FLOAT)


@dataclass
class Relation:
    """A field from one table's rows to related rows of another, along a foreign key.

    ``many`` relations (users -> orders) give a list; the others (orders -> user) one row.
    ``local`` columns of this table's rows equal ``remote`` columns of the other table's.
    """

    field: str
    target: str  # the other table's SQL name
    local: tuple[Column, ...]
    remote: tuple[Column, ...]
    many: bool


@dataclass
class Table:
    name: str  # the SQL name
    type_name: str  # the GraphQL object type
    field: str  # the Query field (list); the others add suffixes
    columns: list[Column]
    relations: list[Relation] = dataclasses.field(default_factory=list)

    @property
    def sql(self) -> str:
        return quote(self.name)

    @property
    def key(self) -> tuple[Column, ...]:
        """The primary key columns, in key order (rowid tables without one: none)."""
        return tuple(sorted((c for c in self.columns if c.pk), key=lambda c: c.pk))

    def column(self, sql_name: str) -> Column | None:
        lowered = sql_name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    @property
    def by_field(self) -> dict[str, Column]:
        return {c.field: c for c in self.columns}


# Type names graphql-core or this package already use.
_RESERVED_TYPES = {
    "Query",
    "Mutation",
    "Subscription",
    "Int",
    "Float",
    "String",
    "Boolean",
    "ID",
    "Timestamp",
    "OrderDirection",
    "Operation",
}


def read_catalog(db: ChronoDB) -> list[Table]:
    """The live tables of ``db`` with GraphQL names and foreign-key relations both ways."""
    tables: dict[str, Table] = {}
    taken_types: set[str] = set(_RESERVED_TYPES)
    taken_fields: set[str] = set()
    foreign_keys: dict[str, list[ForeignKey]] = {}
    for name in db.tables():
        try:
            described = db.columns(name)
            foreign_keys[name.lower()] = db.foreign_keys(name)
        except SchemaError:  # dropped by another connection meanwhile
            continue
        used: set[str] = set()
        columns = [
            Column(
                c.name,
                unique(graphql_name(c.name), used),
                scalar_of(c.type),
                c.primary_key,
                bool(c.notnull),
                c.generated or "",
            )
            for c in described
        ]
        if not columns:
            continue
        base = graphql_name(name)
        type_name = unique(base, taken_types)
        # The list field and its suffixed siblings must all be free.
        field_name = base
        n = 2
        while any(
            f in taken_fields for f in (field_name, *(field_name + s for s in _FIELD_SUFFIXES))
        ):
            field_name = f"{base}_{n}"
            n += 1
        taken_fields.update((field_name, *(field_name + s for s in _FIELD_SUFFIXES)))
        tables[name.lower()] = Table(name, type_name, field_name, columns)
    _add_relations(tables, foreign_keys)
    return list(tables.values())


_FIELD_SUFFIXES = ("_by_pk", "_history", "_aggregate", "_changes")


def _add_relations(tables: dict[str, Table], foreign_keys: dict[str, list[ForeignKey]]) -> None:
    used = {key: {c.field for c in t.columns} for key, t in tables.items()}
    pending: list[tuple[Table, Table, tuple[Column, ...], tuple[Column, ...]]] = []
    for key, table in tables.items():
        for fk in foreign_keys[key]:
            target = tables.get(fk.other_table.lower())
            if target is None:
                continue
            local = tuple(c for n in fk.columns if (c := table.column(n)) is not None)
            remote = tuple(c for n in fk.other_columns if (c := target.column(n)) is not None)
            whole = len(local) == len(fk.columns) and len(remote) == len(fk.other_columns)
            if not whole or len(local) != len(remote) or not remote:
                continue
            pending.append((table, target, local, remote))
    for table, target, local, remote in pending:
        # Forward: orders.user_id -> "user"; otherwise the referenced table's name.
        stem = local[0].field
        name = stem[:-3] if len(local) == 1 and stem.lower().endswith("_id") else ""
        if not name or name in used[table.name.lower()]:
            name = target.field
        table.relations.append(
            Relation(unique(name, used[table.name.lower()]), target.name, local, remote, False)
        )
    for table, target, local, remote in pending:
        # Backward: users -> "orders"; "orders_by_buyer_id" when orders has several to users.
        siblings = sum(1 for t, g, _, _ in pending if t is table and g is target)
        name = table.field if siblings == 1 else f"{table.field}_by_{local[0].field}"
        target.relations.append(
            Relation(unique(name, used[target.name.lower()]), table.name, remote, local, True)
        )
