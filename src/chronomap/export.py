"""Exporting a ChronoMap's full history for analysis: pandas, CSV, Parquet.

Every export has one row per version with the columns key, value, timestamp
(epoch seconds), datetime (naive UTC) and version (0 = oldest version of that
key). pandas and pyarrow are optional; without them the export raises an
ImportError naming the extra to install.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronomap._timestamps import to_datetime
from chronomap.persistence import atomic_write

if TYPE_CHECKING:
    import pandas

    from chronomap.map import State

COLUMNS = ("key", "value", "timestamp", "datetime", "version")


def rows(state: State) -> Iterator[tuple[Any, Any, float, int]]:
    """(key, value, timestamp, version) for every version, key by key, oldest first."""
    stamps, vals, _ = state
    for key, key_stamps in stamps.items():
        for version, (ts, value) in enumerate(zip(key_stamps, vals[key], strict=True)):
            yield key, value, ts, version


def to_dataframe(state: State) -> pandas.DataFrame:
    """The full history as a pandas DataFrame with ``COLUMNS``."""
    pd = _require("pandas", "pandas", "to_dataframe()")
    keys, values, stamps, versions = _columns(state)
    return pd.DataFrame(
        {
            "key": keys,
            "value": values,
            "timestamp": pd.Series(stamps, dtype="float64"),
            "datetime": pd.to_datetime(pd.Series(stamps, dtype="float64"), unit="s"),
            "version": pd.Series(versions, dtype="int64"),
        },
        columns=list(COLUMNS),
    )


def to_csv(state: State, file_path: str | Path) -> None:
    """Write the full history as CSV (values as text), atomically."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for key, value, ts, version in rows(state):
        writer.writerow((key, value, repr(ts), to_datetime(ts).isoformat(), version))
    atomic_write(file_path, buffer.getvalue().encode("utf-8"))


def to_parquet(state: State, file_path: str | Path) -> None:
    """Write the full history as Parquet, atomically.

    A column whose values share no Arrow type (say ints mixed with dicts) is
    stored as text (strings as they are, other values as JSON), so any map can
    be exported.
    """
    pa = _require("pyarrow", "parquet", "to_parquet()")
    pq = _require("pyarrow.parquet", "parquet", "to_parquet()")
    keys, values, stamps, versions = _columns(state)
    table = pa.table(
        {
            "key": _arrow_array(pa, keys),
            "value": _arrow_array(pa, values),
            "timestamp": pa.array(stamps, type=pa.float64()),
            "datetime": pa.array([to_datetime(ts) for ts in stamps], type=pa.timestamp("us")),
            "version": pa.array(versions, type=pa.int64()),
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write(file_path, sink.getvalue().to_pybytes())


def _require(module: str, extra: str, feature: str) -> Any:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.partition(".")[0]
        raise ImportError(
            f"{package} is required for {feature}: pip install 'chronodb[{extra}]'"
        ) from None


def _columns(state: State) -> tuple[list[Any], list[Any], list[float], list[int]]:
    table = list(rows(state))
    return (
        [row[0] for row in table],
        [row[1] for row in table],
        [row[2] for row in table],
        [row[3] for row in table],
    )


def _arrow_array(pa: Any, items: list[Any]) -> Any:
    try:
        return pa.array(items)
    except (pa.ArrowException, TypeError, ValueError):
        text = [item if isinstance(item, str) else json.dumps(item, default=repr) for item in items]
        return pa.array(text, type=pa.string())
