"""The CREATE TABLE for an INSERT into a missing table on PostgreSQL (``auto_create_tables``):
the table ``sql/autocreate.py`` describes, in PostgreSQL's types.

    NewTable(None, 'users', (NewColumn('id', 'integer', True), NewColumn('name', 'text', False)))
    -> CREATE TABLE "public"."users" ("id" bigint PRIMARY KEY, "name" text)

Integers are ``bigint`` and reals ``double precision`` (SQLite's are 8 bytes too); a column
whose values are of no one kind is ``text``. PostgreSQL versions rows by their primary key,
so a table without one (no column named ``id``) is refused, naming what to do.
"""

from __future__ import annotations

from chronodb.errors import SchemaError
from chronodb.postgres.names import qualified, quote
from chronodb.sql.autocreate import NewTable

_TYPES = {
    "integer": "bigint",
    "real": "double precision",
    "text": "text",
    "blob": "bytea",
    "boolean": "boolean",
    "": "text",
}


def create_table_sql(new: NewTable, schema: str) -> str:
    """The CREATE TABLE of ``new`` (in ``schema`` unless the INSERT named another)."""
    if not any(c.primary for c in new.columns):
        raise SchemaError(
            f"no such table: {new.name}; an INSERT creates a missing table on PostgreSQL only "
            "when one of its columns is named id (its primary key, by which ChronoDB versions "
            "rows): create the table first, with a primary key",
            table=new.name,
        )
    columns = ", ".join(
        f"{quote(c.name)} {_TYPES[c.kind]}{' PRIMARY KEY' if c.primary else ''}"
        for c in new.columns
    )
    return f"CREATE TABLE {qualified(new.schema or schema, new.name)} ({columns})"
