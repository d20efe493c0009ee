"""pandas over the dialects: read_sql (now and AS OF) and to_sql making versioned tables."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from sqlalchemy import Column, Engine, Float, Integer, MetaData, String, Table, text
from sqlalchemy.exc import DBAPIError

from chronodb import dbapi


def _keyed(engine: Engine, table_name: str, /, **columns: object) -> None:
    """On PostgreSQL, where ChronoDB versions rows by primary key, the table pandas fills
    is made first with one (pandas makes none); SQLite keys rows by rowid."""
    if engine.dialect.name != "postgresql":
        return
    table = Table(
        table_name,
        MetaData(),
        Column("id", Integer, primary_key=True),
        *(Column(column, kind) for column, kind in columns.items()),
    )
    table.create(engine)


def test_to_sql_creates_and_fills_a_versioned_table(engine: Engine) -> None:
    frame = pd.DataFrame({"id": [1, 2], "city": ["Oslo", "Lima"], "temp": [3.5, 19.0]})
    _keyed(engine, "weather", city=String, temp=Float)
    assert frame.to_sql("weather", engine, index=False, if_exists="append") == 2
    with engine.connect() as conn:
        first = conn.execute(text("SELECT city FROM weather ORDER BY id")).scalars().all()
    assert first == ["Oslo", "Lima"]
    frame.assign(id=[3, 4], temp=[4.0, 20.0]).to_sql(
        "weather", engine, index=False, if_exists="append"
    )
    versions = pd.read_sql(
        "SELECT id, temp FROM weather FOR SYSTEM_TIME ALL ORDER BY sys_from, temp", engine
    )
    assert versions["temp"].tolist() == [3.5, 19.0, 4.0, 20.0]


def test_to_sql_without_a_key_on_postgresql_says_what_to_add(engine: Engine) -> None:
    frame = pd.DataFrame({"id": [1], "v": ["x"]})
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="primary key"):
            frame.to_sql("loose", engine, index=False)
    else:
        assert frame.to_sql("loose", engine, index=False) == 1
        with engine.connect() as conn:
            all_versions = text("SELECT v FROM loose FOR SYSTEM_TIME ALL")
            assert conn.execute(all_versions).scalars().all() == ["x"]


def _stocked(engine: Engine) -> float:
    """Two items written; returns a time after them, before one is renamed."""
    _keyed(engine, "items", name=String)
    frame = pd.DataFrame({"id": [1, 2], "name": ["pen", "ink"]})
    frame.to_sql("items", engine, index=False, if_exists="append")
    with engine.connect() as conn:
        point = conn.execute(text("SELECT max(sys_from) FROM items FOR SYSTEM_TIME ALL"))
        then = float(point.scalar_one())
    with engine.begin() as conn:
        conn.execute(text("UPDATE items SET name = 'PEN' WHERE id = 1"))
    return then


def test_read_sql_with_the_engine_reads_as_of_a_point(engine: Engine) -> None:
    then = _stocked(engine)
    now = pd.read_sql("SELECT name FROM items ORDER BY id", engine)
    assert now["name"].tolist() == ["PEN", "ink"]
    past = pd.read_sql(
        text("SELECT name FROM items AS OF TIMESTAMP :t ORDER BY id"), engine, params={"t": then}
    )
    assert past["name"].tolist() == ["pen", "ink"]
    table = pd.read_sql_table("items", engine)
    assert sorted(table["name"]) == ["PEN", "ink"]


def test_read_sql_with_a_dbapi_connection_reads_as_of_a_point(engine: Engine) -> None:
    then = _stocked(engine)
    location = engine.url.set(drivername=engine.url.get_backend_name())
    conn = dbapi.connect(location.render_as_string(hide_password=False).replace("sqlite:///", ""))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pandas only supports SQLAlchemy")
            past = pd.read_sql(
                "SELECT name FROM items AS OF TIMESTAMP ? ORDER BY id", conn, params=(then,)
            )
        assert past["name"].tolist() == ["pen", "ink"]
    finally:
        conn.close()
