"""The SQL ``postgres/changes.py`` generates: it equals the golden text in
``fixtures/changes.sql`` (``# title:`` lines, each followed by the SQL of the call of that
title in :data:`CASES`), parses with sqlglot's PostgreSQL dialect and renders back to
itself, is built once per table shape, and reads back the changes of a table whatever its
columns are called."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.chronodb.golden import check_case

from chronodb.postgres import bounds, changes, version_table
from chronodb.postgres.names import PREFIX, quote
from chronodb.postgres.tables import Versioned

GOLDEN = Path(__file__).parent / "fixtures" / "changes.sql"

ACCOUNTS = Versioned(
    "public", "Accounts", "_chrono_h1_Accounts", ("id", "Region"), ("id", "Region", "name"), 1
)
"""Two key columns, one of them needing quotes."""
RENAMED = Versioned("app", "people", "_chrono_h2_people", ("id",), ("id", "nick"), 2, ("id", "_c2"))
"""A column whose history column has another name (a renamed column)."""

INSIDE = bounds.expression("app", "%(_hz)s", "%(_hg)s")

CASES: dict[str, Callable[[], str]] = {
    "changes over a period": lambda: changes.changes(ACCOUNTS, "%(_pt0)s", "%(_pt1)s", "%(_hz)s"),
    "changes, renamed column, horizon taken inside": lambda: changes.changes(
        RENAMED, "%(_pt0)s", "%(_pt1)s", INSIDE
    ),
    "changes by transactions": lambda: changes.by_transactions(ACCOUNTS, ACCOUNTS.history_columns),
    "changes by transactions, columns of past shapes": lambda: changes.by_transactions(
        RENAMED, ("id", "_c2", "old")
    ),
}


@pytest.mark.parametrize("title", sorted(CASES))
def test_sql_equals_golden_and_renders_back(title: str) -> None:
    check_case(GOLDEN, CASES, title, "postgres")


def test_the_text_is_built_once_per_shape() -> None:
    stored = ("id", "_c2", "old")
    assert changes.by_transactions(RENAMED, stored) is changes.by_transactions(RENAMED, stored)
    again = changes.changes(RENAMED, "%(a)s", "%(b)s", "%(c)s")
    assert again is changes.changes(RENAMED, "%(a)s", "%(b)s", "%(c)s")


# Names PostgreSQL takes as quoted column names: no NUL, none of its system columns' and
# none of the layout's, at most 63 bytes; and no "%", which psycopg reads as a parameter
# in a statement run with parameters, as the change feed's is.
_SYSTEM = {"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid", "oid"}
_name = st.text(
    st.characters(blacklist_characters="\x00%", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda n: n not in _SYSTEM and not n.startswith(PREFIX))
_tables = itertools.count()
_awkward = st.sampled_from(['q"t', "it's", "two words", "select", "Ünïcødé", "日本", "User"])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.one_of(_awkward, _name), min_size=2, max_size=3, unique=True),
    st.sampled_from(["t", "order", "Tab le", 'q"t']),
)
def test_any_names_read_back_their_changes(
    pg: psycopg.Connection, columns: list[str], name: str
) -> None:
    """Inserts, an update and a delete on a table with those column names come back from
    both readers as written, the JSON of ``changes`` keyed by the names."""
    key, *rest = columns
    name = f"{name} {next(_tables)}"  # a new table for each example
    defs = ", ".join([f"{quote(key)} int PRIMARY KEY", *(f"{quote(c)} text" for c in rest)])
    pg.execute(f"CREATE TABLE {quote(name)} ({defs})")
    v = version_table(pg, name)
    start = pg.execute(
        "SELECT coalesce(max(tx_id), 0), coalesce(max(tx_time), 0) FROM _chrono_tx"
    ).fetchone()
    cols = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    pg.execute(
        f"INSERT INTO {quote(name)} ({cols}) VALUES ({marks}), ({marks})",
        [1, *("a" for _ in rest), 2, *("b" for _ in rest)],
    )
    pg.execute(f"UPDATE {quote(name)} SET {quote(rest[0])} = 'c' WHERE {quote(key)} = 1")
    pg.execute(f"DELETE FROM {quote(name)} WHERE {quote(key)} = 2")
    hz = pg.execute("SELECT max(tx_id) FROM _chrono_tx").fetchone()[0]
    first = {c: 1 if c == key else "a" for c in columns}
    second = {c: 2 if c == key else "b" for c in columns}
    updated = {**first, rest[0]: "c"}

    rows = pg.execute(
        changes.by_transactions(v, v.history_columns), {"lo": start[0], "hi": hz}
    ).fetchall()
    n = len(columns)
    seen = [(r[n], dict(zip(columns, r[:n], strict=True)), r[n + 5 + n]) for r in rows]
    assert [(op, values) for op, values, _ in seen] == [
        ("I", first),
        ("I", second),
        ("U", updated),
        ("D", {key: 2, **{c: None for c in rest}}),
    ]
    assert [prev for _, _, prev in seen] == [None, None, "I", "I"]

    sql = changes.changes(v, "%(lo)s", "%(hi)s", "%(hz)s")
    found = pg.execute(
        f"SELECT operation, {quote(key)}, before, after FROM {sql} AS c",
        {"lo": start[1], "hi": 2**62, "hz": hz},
    ).fetchall()
    parsed = [(op, k, b and json.loads(b), a and json.loads(a)) for op, k, b, a in found]
    assert parsed == [
        ("INSERT", 1, None, first),
        ("INSERT", 2, None, second),
        ("UPDATE", 1, first, updated),
        ("DELETE", 2, second, None),
    ]
