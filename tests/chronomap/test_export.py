"""Full-history exports: pandas DataFrame, CSV and Parquet, read back."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from chronomap import ChronoMap


@pytest.fixture
def cm() -> ChronoMap:
    cm = ChronoMap()
    cm.put("temp", 20, timestamp=100)
    cm.put("temp", 22, timestamp=200)
    cm.put("temp", 24, timestamp=300)
    cm.put("mode", "auto", timestamp=150)
    return cm


def test_to_dataframe(cm: ChronoMap) -> None:
    df = cm.to_dataframe()
    assert list(df.columns) == ["key", "value", "timestamp", "datetime", "version"]
    temp = df[df["key"] == "temp"]
    assert temp["value"].tolist() == [20, 22, 24]
    assert temp["timestamp"].tolist() == [100.0, 200.0, 300.0]
    assert temp["version"].tolist() == [0, 1, 2]
    assert df["datetime"].iloc[0] == pd.Timestamp("1970-01-01 00:01:40")
    assert df[df["key"] == "mode"]["value"].tolist() == ["auto"]


def test_empty_dataframe_has_the_columns() -> None:
    df = ChronoMap().to_dataframe()
    assert len(df) == 0
    assert list(df.columns) == ["key", "value", "timestamp", "datetime", "version"]


def test_to_csv_reads_back(cm: ChronoMap, tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    cm.to_csv(path)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["key"] for row in rows] == ["temp", "temp", "temp", "mode"]
    assert rows[1] == {
        "key": "temp",
        "value": "22",
        "timestamp": "200.0",
        "datetime": "1970-01-01T00:03:20",
        "version": "1",
    }
    df = pd.read_csv(path, parse_dates=["datetime"])
    assert df["datetime"].iloc[0] == datetime(1970, 1, 1, 0, 1, 40)


def test_to_parquet_reads_back(cm: ChronoMap, tmp_path: Path) -> None:
    path = tmp_path / "history.parquet"
    only_numbers = ChronoMap()
    only_numbers.put("temp", 20.5, timestamp=100)
    only_numbers.put("temp", 21.0, timestamp=200)
    only_numbers.to_parquet(path)
    df = pd.read_parquet(path)
    assert list(df.columns) == ["key", "value", "timestamp", "datetime", "version"]
    assert df["value"].tolist() == [20.5, 21.0]
    assert df["datetime"].tolist() == [pd.Timestamp(100, unit="s"), pd.Timestamp(200, unit="s")]
    # Mixed value types share no Arrow type: they are stored as text.
    cm.put("config", {"a": [1, 2]}, timestamp=400)
    cm.to_parquet(path)
    df = pd.read_parquet(path)
    assert df["value"].tolist() == ["20", "22", "24", "auto", '{"a": [1, 2]}']
    assert df["version"].tolist() == [0, 1, 2, 0, 0]


@pytest.mark.parametrize(
    ("module", "call", "message"),
    [
        ("pandas", lambda cm, path: cm.to_dataframe(), r"pandas is required .*chronodb\[pandas\]"),
        ("pyarrow", lambda cm, path: cm.to_parquet(path), r"pyarrow .*chronodb\[parquet\]"),
    ],
)
def test_missing_optional_dependencies(
    cm: ChronoMap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module, call, message
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=message):
        call(cm, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
