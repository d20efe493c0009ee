"""The few pieces of the GraphQL loader's SQL that differ between SQLite and PostgreSQL.

The loader writes one SQL text per shape of request, whatever the number of keys it asks
for; how a list of values is bound, which LIKE matches as SQLite's does (ASCII letters in
any case), the sum that never overflows and the bound meaning "no limit" are the backend's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chronodb.database import ChronoDB
from chronodb.dialects import POSTGRES, for_location


@dataclass(frozen=True)
class SqlPieces:
    like: str  # the operator matching SQLite's LIKE
    no_limit: Any  # a LIMIT bound that sets none
    json_lists: bool  # lists are bound as one JSON array (SQLite) or one array (PostgreSQL)

    def total(self, column: str) -> str:
        """The sum of ``column``'s values, never overflowing."""
        return f"total({column})" if self.json_lists else f"sum({column})"

    def in_list(self, expr: str, values: Sequence[Any], params: list[Any]) -> str:
        """``expr`` is one of ``values`` (one SQL text for any number of them)."""
        if not values:
            return "1 = 0"
        if any(isinstance(v, bytes) for v in values):
            params.extend(values)
            return f"{expr} IN ({', '.join('?' * len(values))})"
        if self.json_lists:
            params.append(json.dumps(list(values)))
            return f"{expr} IN (SELECT value FROM json_each(?))"
        params.append(list(values))
        return f"{expr} = ANY(?)"

    def in_tuples(
        self, columns: Sequence[str], keys: Sequence[Sequence[Any]], params: list[Any]
    ) -> str:
        """``(columns)`` is one of ``keys`` (each a tuple of values, in column order)."""
        row = ", ".join(columns)
        if self.json_lists:
            picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
            params.append(json.dumps([list(k) for k in keys]))
            return f"({row}) IN (SELECT {picks} FROM json_each(?))"
        one = "(" + ", ".join("?" * len(columns)) + ")"
        for key in keys:
            params.extend(key)
        return f"({row}) IN ({', '.join([one] * len(keys))})"


SQLITE_PIECES = SqlPieces(like="LIKE", no_limit=-1, json_lists=True)
POSTGRES_PIECES = SqlPieces(like="ILIKE", no_limit=None, json_lists=False)


def pieces_for(db: ChronoDB) -> SqlPieces:
    """The pieces for ``db``'s backend."""
    return POSTGRES_PIECES if for_location(db.path) is POSTGRES else SQLITE_PIECES
