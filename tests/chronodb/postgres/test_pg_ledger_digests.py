"""The same values digest to the same bytes on PostgreSQL as on SQLite.

Rows SQLite can hold are written to a SQLite ChronoDB and to a versioned PostgreSQL table, one
transaction each; each transaction's table digest must be equal on both, and PostgreSQL's own
verification must pass.
"""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB
from chronodb.audit.digests import _value as sqlite_value
from chronodb.audit.leaf import Leaf
from chronodb.postgres import install, version_table
from chronodb.postgres.digests import value_sql as pg_value
from chronodb.postgres.verify import verify

PG_TABLE = (
    "id bigint PRIMARY KEY, i bigint, f double precision, r real, s text, b bytea, "
    "ok boolean, ts timestamp, tz timestamptz, d date"
)
SQLITE_TABLE = (
    "id INTEGER PRIMARY KEY, i INTEGER, f REAL, r REAL, s TEXT, b BLOB, ok INTEGER, "
    "ts TEXT, tz TEXT, d TEXT"
)
COLUMNS = "id, i, f, r, s, b, ok, ts, tz, d"

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
row = st.tuples(
    st.none() | st.integers(-(2**63), 2**63 - 1),
    st.none() | st.floats(allow_nan=False),
    st.none() | st.floats(allow_nan=False, width=32),
    st.none() | text,
    st.none() | st.binary(max_size=40),
    st.none() | st.booleans(),
    st.none() | moments,
    st.none() | moments.map(lambda m: m.replace(tzinfo=UTC)),
    st.none() | st.dates(),
)
counter = itertools.count()


def sqlite_values(key: int, values: tuple) -> tuple:
    """What Python's sqlite3 stores for these values (its datetime adapters' text)."""
    i, f, r, s, b, ok, ts, tz, d = values
    moments = [None if m is None else m.isoformat(" ") for m in (ts, tz)]
    return (key, i, f, r, s, b, ok, *moments, None if d is None else d.isoformat())


def leaf_of(db: ChronoDB, tx_hash: str) -> Leaf:
    return Leaf.decode(bytes.fromhex(db.audit_trail.prove(tx_hash)["leaf"]))


def pg_leaf(pg: psycopg.Connection) -> Leaf:
    row = pg.execute("SELECT leaf FROM _chrono_tx ORDER BY tx_id DESC LIMIT 1").fetchone()
    assert row is not None
    return Leaf.decode(bytes(row[0]))


def digests(leaf: Leaf) -> list[tuple[int, bytes]]:
    return [(t.versions, t.digest) for t in leaf.tables]


@settings(
    max_examples=15,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(row, min_size=1, max_size=6), changed=row)
def test_row_digests_are_sqlites(
    pg: psycopg.Connection, tmp_path: Path, rows: list[tuple], changed: tuple
) -> None:
    name = f"t{next(counter)}"
    pg.execute(f"CREATE TABLE {name} ({PG_TABLE})")
    version_table(pg, name)
    db = ChronoDB(str(tmp_path / f"{name}.db"))
    try:
        db.execute(f"CREATE TABLE {name} ({SQLITE_TABLE})")
        marks = ", ".join(["?"] * 10)
        for key, values in enumerate(rows):
            done = db.execute(f"INSERT INTO {name} VALUES ({marks})", sqlite_values(key, values))
            pg.execute(
                f"INSERT INTO {name} ({COLUMNS}) VALUES ({marks.replace('?', '%s')})",
                (key, *values),
            )
            assert digests(pg_leaf(pg)) == digests(leaf_of(db, done.tx_hash))
        sets = ", ".join(f"{c} = ?" for c in COLUMNS.split(", ")[1:])
        done = db.execute(f"UPDATE {name} SET {sets} WHERE id = 0", sqlite_values(0, changed)[1:])
        pg.execute(
            f"UPDATE {name} SET {sets.replace('?', '%s')} WHERE id = 0",
            sqlite_values(0, changed)[1:7] + changed[6:],
        )
        if done.tx_hash is not None:  # SQLite wrote a version (the row changed)
            assert digests(pg_leaf(pg)) == digests(leaf_of(db, done.tx_hash))
        done = db.execute(f"DELETE FROM {name} WHERE id = 0")
        pg.execute(f"DELETE FROM {name} WHERE id = 0")
        assert digests(pg_leaf(pg)) == digests(leaf_of(db, done.tx_hash))
    finally:
        db.close()
    assert verify(pg).ok


EDGES = [0.0, -0.0, 5e-324, -5e-324, 2.0**-11, 2.0**-11 - 2.0**-70, 2.0**63, -(2.0**63), 1e308]
EDGES += [float("inf"), float("-inf"), 0.1, 1 / 3, 2.0**62 + 1024, 2.0**-1022, 1.5e-300]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.floats(allow_nan=False), max_size=20))
def test_floats_have_sqlites_exact_form(pg: psycopg.Connection, values: list[float]) -> None:
    install(pg)
    sqlite = sqlite3.connect(":memory:")
    sqlite.execute("CREATE TABLE v (x REAL)")
    for x in EDGES + values:
        (expected,) = sqlite.execute(
            f"SELECT json_array({sqlite_value('x')}) FROM (SELECT ? AS x)", (x,)
        ).fetchone()
        row = pg.execute(
            f"SELECT {pg_value('public', 'v.x', 'double precision')} "
            "FROM (SELECT %s::float8 AS x) AS v",
            (x,),
        )
        assert "[" + row.fetchone()[0] + "]" == expected, x
