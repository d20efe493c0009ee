"""The SQL ``versioning/history.py`` generates on SQLite: it equals the golden text in
``fixtures/history.sql`` (``# title:`` lines, each followed by the SQL of the call of that
title in :data:`CASES`), parses with sqlglot's SQLite dialect and renders back to itself,
and reads, prunes and erases a table's history whatever its columns are called."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.chronodb.golden import check_case

from chronodb import ChronoDB
from chronodb.layout import PREFIX
from chronodb.versioning import history
from chronodb.versioning.tables import quote

GOLDEN = Path(__file__).parent / "fixtures" / "history.sql"

HIST = "_chrono_h1_Accounts"
KEYS = ("id", "Region")

CASES: dict[str, Callable[[], str]] = {
    "one row's versions": lambda: history.versions_sql(HIST, KEYS),
    "one row's versions, a quoted key": lambda: history.versions_sql("_chrono_h2_t", ('k"y',)),
    "versions ended by a point": lambda: history.doomed_sql(HIST, KEYS),
    "oldest survivors": lambda: history.survivors_sql(HIST, KEYS),
    "oldest updates": lambda: history.firsts_sql(HIST, KEYS),
}


@pytest.mark.parametrize("title", sorted(CASES))
def test_sql_equals_golden_and_renders_back(title: str) -> None:
    check_case(GOLDEN, CASES, title, "sqlite")


def test_the_versions_text_is_built_once_per_key() -> None:
    assert history.versions_sql(HIST, KEYS) is history.versions_sql(HIST, KEYS)


# Names SQLite takes as quoted column names (no NUL, none of the layout's), told apart
# without regard to ASCII case as SQLite does.
_name = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda n: not n.lower().startswith(PREFIX) and n.lower() != "rowid")
_awkward = st.sampled_from(['q"t', "it's", "two words", "select", "Ünïcødé", "日本", "User"])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.one_of(_awkward, _name), min_size=2, max_size=3, unique_by=str.lower),
    st.sampled_from(["t", "order", "Tab le", 'q"t']),
)
def test_any_names_read_back_prune_and_erase(columns: list[str], name: str) -> None:
    """A row's versions come back as written, pruning keeps the last of each key as its
    insert, and erasure leaves nothing of the key, on a table with those names."""
    key, *rest = columns
    table = quote(name)
    with ChronoDB(":memory:", user="tester") as db:
        defs = ", ".join([f"{quote(key)} INTEGER PRIMARY KEY", *(f"{quote(c)} TEXT" for c in rest)])
        db.execute(f"CREATE TABLE {table} ({defs})")
        cols = ", ".join(quote(c) for c in columns)
        marks = ", ".join("?" * len(columns))
        db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", [1, *("a" for _ in rest)])
        db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", [2, *("b" for _ in rest)])
        db.execute(f"UPDATE {table} SET {quote(rest[0])} = 'c' WHERE {quote(key)} = 1")
        db.execute(f"DELETE FROM {table} WHERE {quote(key)} = 2")
        first = {c: 1 if c == key else "a" for c in columns}
        updated = {**first, rest[0]: "c"}
        one = db.get_change_history(name, 1)
        assert [(h["operation"], h["values"]) for h in one] == [
            ("INSERT", first),
            ("UPDATE", updated),
        ]
        assert {h["user"] for h in one} == {"tester"}
        assert [h["operation"] for h in db.get_change_history(name, 2)] == ["INSERT", "DELETE"]

        time.sleep(0.002)  # the prune's point falls after the delete
        assert db.prune_history(time.time()) == 3  # key 1's insert, key 2's both versions
        assert [(h["operation"], h["values"]) for h in db.get_change_history(name, 1)] == [
            ("INSERT", updated)
        ]
        assert db.get_change_history(name, 2) == []

        assert db.erase(name, 1) == 1
        assert db.get_change_history(name, 1) == []
        assert list(db.execute(f"SELECT * FROM {table}")) == []
