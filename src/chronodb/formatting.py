"""Rows as text: aligned tables, CSV and JSON, as the ``chronodb`` command prints them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

#: Columns holding epoch seconds that a table shows as ISO-8601 times (periods of versions).
TIME_COLUMNS = frozenset({"sys_from", "sys_to"})


def iso_time(seconds: float) -> str:
    """Epoch seconds as an ISO-8601 UTC time with microseconds, e.g. ``2025-10-21T12:00:00.5Z``."""
    text = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


def cell(value: Any, *, time: bool = False) -> str:
    """One value as a table shows it: NULL for None, hex for bytes, ISO for time columns."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "x'" + value.hex() + "'"
    if time and isinstance(value, int | float) and not isinstance(value, bool):
        return iso_time(value)
    return str(value)


def identifier(name: str) -> str:
    """A table or column name as SQL to paste: bare when it is a plain word, else quoted.

    >>> identifier("users"), identifier("order items")
    ('users', '"order items"')
    """
    if name.isidentifier() and name.isascii():
        return name
    return '"' + name.replace('"', '""') + '"'


def cut(text: str, max_width: int | None) -> str:
    """``text`` at most ``max_width`` characters long (None: any length), "…" marking a cut.

    >>> cut("a long description", 7)
    'a long…'
    """
    if max_width is None or len(text) <= max_width:
        return text
    return text[: max(max_width - 1, 0)] + "…"


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    time_columns: Collection[str] = TIME_COLUMNS,
    max_width: int | None = None,
) -> str:
    """An aligned text table with a header and a rule; numbers are right-aligned. A value
    longer than ``max_width`` characters is cut to that width, ending in "…".

    >>> print(table(["id", "name"], [(1, "Alice"), (10, None)]))
    id | name
    ---+------
     1 | Alice
    10 | NULL
    """
    raw = [tuple(row) for row in rows]
    is_time = [c in time_columns for c in columns]
    body = [
        [cut(cell(v, time=t), max_width) for v, t in zip(row, is_time, strict=False)] for row in raw
    ]
    numeric = []
    for i, time_column in enumerate(is_time):
        present = [row[i] for row in raw if row[i] is not None]
        numeric.append(not time_column and bool(present) and all(_is_number(v) for v in present))
    widths = [max([len(c), *(len(row[i]) for row in body)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str], header: bool = False) -> str:
        parts = [
            v.rjust(w) if numeric[i] and not header else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=False))
        ]
        return " | ".join(parts).rstrip()

    out = [line(columns, header=True), "-+-".join("-" * w for w in widths)]
    out.extend(line(row) for row in body)
    return "\n".join(out)


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """RFC 4180 CSV with a header row; NULL is an empty field, bytes are hex."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else v.hex() if isinstance(v, bytes) else v for v in row])
    return buffer.getvalue().rstrip("\n")


def to_json(records: Any) -> str:
    """Indented JSON; bytes become hex strings and anything else unknown its ``str``."""
    return json.dumps(records, indent=2, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
