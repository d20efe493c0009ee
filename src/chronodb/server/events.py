"""A row change as the stream sends it: its ``data_change`` event, encoded once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chronodb.server.frames import text_frame


@dataclass(frozen=True, slots=True)
class Change:
    """One row change, with its event already encoded once for every subscriber.

    ``text`` is the ``data_change`` event's JSON; ``frame`` the same as a WebSocket frame.
    """

    table: str  # the table's name as it is spelt in its schema
    table_key: str  # the same, lower-cased
    tx_id: int
    tx_time: float
    operation: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    text: str
    frame: bytes

    @property
    def values(self) -> dict[str, Any] | None:
        """What a filter looks at: the new values, or the old ones for a delete."""
        return self.before if self.operation == "DELETE" else self.after


def encode(
    table: str,
    operation: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    tx_id: int,
    tx_time: float,
    tx_hash: str | None,
    user: str | None,
) -> Change:
    """The change with its event's JSON text and WebSocket frame."""
    event = {
        "type": "data_change",
        "table": table,
        "operation": operation,
        "before": before,
        "after": after,
        "tx_id": tx_id,
        "tx_time": tx_time,
        "tx_hash": tx_hash,
        "user": user,
    }
    text = json.dumps(event, separators=(",", ":"), default=str)
    return Change(
        table, table.lower(), tx_id, tx_time, operation, before, after, text, text_frame(text)
    )


def tx_of(change: Change) -> int:
    return change.tx_id


def in_commit_order(changes: list[Change]) -> list[Change]:
    """Several tables' changes merged by transaction; a stable sort keeps each table's own
    order within a transaction, and the tables in the order they were read."""
    if len(changes) > 1:
        changes.sort(key=tx_of)
    return changes
