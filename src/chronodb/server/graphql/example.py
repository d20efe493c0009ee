"""The query GraphiQL opens with: a real table read at real points of this file's history."""

from __future__ import annotations

from chronodb import formatting
from chronodb.database import ChronoDB
from chronodb.server.graphql.catalog import read_catalog

_EMPTY = """\
# This database has no tables yet. Once it has, ask for one as it was with
#   asOfTransaction: <a transaction id>   or   asOf: "<an ISO-8601 time>"
{
  __schema { queryType { fields { name } } }
}
"""


def default_query(db: ChronoDB) -> str:
    """A query on the first table, as it is and just before the latest transaction.

    The ids and times in it are read from the file, so pasting them elsewhere (SQL's
    ``AS OF TRANSACTION``/``AS OF TIMESTAMP``) reaches the same states.
    """
    tables = read_catalog(db)
    if not tables:
        return _EMPTY
    table = tables[0]
    fields = " ".join(c.field for c in table.columns[:4])
    recent = db.transactions(limit=2)
    if len(recent) < 2:
        return f"{{\n  {table.field} {{ {fields} }}\n}}\n"
    latest, before = recent
    return (
        f"# The latest transaction is {latest['tx_id']} "
        f"({formatting.iso_time(latest['tx_time'])}).\n"
        f"# 'before' reads {table.field} as it was after the one before it, by id and by time.\n"
        "{\n"
        f"  now: {table.field} {{ {fields} }}\n"
        f"  before: {table.field}(asOfTransaction: {before['tx_id']}) {{ {fields} }}\n"
        f'  beforeByTime: {table.field}(asOf: "{formatting.iso_time(before["tx_time"])}") '
        f"{{ {fields} }}\n"
        "}\n"
    )
