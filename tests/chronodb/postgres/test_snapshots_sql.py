"""The SQL ``postgres/snapshots.py`` generates for small versioned tables: it parses with
sqlglot's PostgreSQL dialect, renders back to itself, names only the layout's and the
table's names, and equals the golden text in ``fixtures/snapshots.sql``.

The golden file holds ``# title:`` lines, each followed by one line: the SQL of the call
of that title in :data:`CASES`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlglot
from hypothesis import given
from hypothesis import strategies as st
from sqlglot import exp
from tests.chronodb.golden import read_golden

from chronodb.postgres import bounds, names, snapshots
from chronodb.postgres.tables import Versioned

GOLDEN = Path(__file__).parent / "fixtures" / "snapshots.sql"

ACCOUNTS = Versioned(
    "public", "Accounts", "_chrono_h1_Accounts", ("id", "Region"), ("id", "Region", "name"), 1
)
"""Two key columns, one of them needing quotes."""
RENAMED = Versioned("app", "people", "_chrono_h2_people", ("id",), ("id", "nick"), 2, ("id", "_c2"))
"""A column whose history column has another name (a renamed column)."""

HORIZON = "%(_hz)s"
INSIDE = bounds.expression("public", HORIZON, "%(_hg)s")


def _point(v: Versioned) -> str:
    return snapshots.point_at_tx(v, "%(_pt0)s", HORIZON)


CASES: dict[str, tuple[Versioned, Callable[[], str]]] = {
    "point at a transaction, horizon taken inside": (
        ACCOUNTS,
        lambda: snapshots.point_at_tx(ACCOUNTS, "%(_pt0)s", INSIDE),
    ),
    "point at a time": (ACCOUNTS, lambda: snapshots.point_at_time(ACCOUNTS, "%(_pt0)s", HORIZON)),
    "point with no horizon": (ACCOUNTS, lambda: snapshots.point_at_tx(ACCOUNTS, "7")),
    "as of, a writer": (ACCOUNTS, lambda: snapshots.as_of(ACCOUNTS, _point(ACCOUNTS))),
    "as of, read-only": (RENAMED, lambda: snapshots.as_of(RENAMED, _point(RENAMED), writer=False)),
    "as of from history": (RENAMED, lambda: snapshots.as_of_history(RENAMED, _point(RENAMED))),
    "as of one key": (
        ACCOUNTS,
        lambda: snapshots.as_of_key(ACCOUNTS, _point(ACCOUNTS), ["%(_p1)s", "'north'"]),
    ),
    "as of one key, renamed": (
        RENAMED,
        lambda: snapshots.as_of_key(RENAMED, _point(RENAMED), ["-3"]),
    ),
    "all versions": (
        RENAMED,
        lambda: snapshots.versions(RENAMED, snapshots.range_condition("ALL"), HORIZON),
    ),
    "versions between": (
        ACCOUNTS,
        lambda: snapshots.versions(
            ACCOUNTS, snapshots.range_condition("BETWEEN", "%(_pt0)s", "%(_pt1)s"), HORIZON
        ),
    ),
    "versions from to": (
        ACCOUNTS,
        lambda: snapshots.versions(
            ACCOUNTS, snapshots.range_condition("FROM", "%(_pt0)s", "%(_pt1)s"), HORIZON
        ),
    ),
    "versions contained in": (
        ACCOUNTS,
        lambda: snapshots.versions(
            ACCOUNTS, snapshots.range_condition("CONTAINED IN", "%(_pt0)s", "%(_pt1)s"), HORIZON
        ),
    ),
    "versions of a dropped table": (
        RENAMED,
        lambda: snapshots.versions(RENAMED, "true", None, (9, 1700000000000000)),
    ),
}

# Names the layout gives its tables' columns, and the aliases its SQL uses.
LAYOUT_COLUMNS = {
    names.SEQ,
    names.XID,
    names.OP,
    names.FROM,
    names.TO,
    names.NEXT,
    names.TX,
    *snapshots.PERIOD,
    "tx_id",
    "tx_time",
    "seq_hi",
    "seq_lo",
}
LAYOUT_COLUMNS |= {"xid", "ctid", "n", "b", "lo", "is_called", "last_value"}
ALIASES = {"h", "x", "p", "t", "c", "v", "q", "s", "w"}


def _golden() -> dict[str, str]:
    return read_golden(GOLDEN)


def test_golden_file_covers_every_case() -> None:
    assert sorted(_golden()) == sorted(CASES)


@pytest.mark.parametrize("title", sorted(CASES))
def test_sql_equals_golden(title: str) -> None:
    assert CASES[title][1]() == _golden()[title]


def _names(v: Versioned) -> tuple[set[str], set[str]]:
    """The tables and the columns SQL about ``v`` may name."""
    tables = {
        v.table,
        v.hist,
        names.TX_TABLE,
        names.PENDING,
        names.POINT,
        names.LOW,
        names.CHANGED_KEYS,
        names.changed_of(v.hist),
    }
    tables |= {"_chrono_ddl_count", "_chrono_tx_next"}  # read by the horizon taken inside
    columns = set(v.columns) | set(v.history_columns) | LAYOUT_COLUMNS
    return tables, columns


def _check_names(sql: str, v: Versioned) -> None:
    tree = sqlglot.parse_one(sql, read="postgres")
    tables, columns = _names(v)
    for table in tree.find_all(exp.Table):
        name = table.this.name if isinstance(table.this, exp.Func) else table.name
        assert name in tables, name
        assert table.db in ("", v.schema), table.db
    for call in tree.find_all(exp.Anonymous):
        if isinstance(call.parent, exp.Dot):
            assert call.name in tables | {"_chrono_read_horizon"}, call.name
    for column in tree.find_all(exp.Column):
        if not isinstance(column.this, exp.Star):
            assert column.name in columns, column.name
        assert column.table in ALIASES | {""}, column.table
    for alias in tree.find_all(exp.TableAlias):
        if isinstance(alias.parent, exp.CTE):
            assert alias.name in (names.POINT, names.LOW, names.CHANGED_KEYS), alias.name
        else:
            assert alias.name in ALIASES, alias.name


@pytest.mark.parametrize("title", sorted(CASES))
def test_sql_parses_and_names_only_the_layout(title: str) -> None:
    v, build = CASES[title]
    sql = build()
    tree = sqlglot.parse_one(sql, read="postgres")
    assert tree.sql(dialect="postgres", normalize_functions=False) == sql
    _check_names(sql, v)


def test_placeholders_survive_rendering() -> None:
    sql = snapshots.as_of_key(
        ACCOUNTS, snapshots.point_at_time(ACCOUNTS, "%(when)s", INSIDE), ["%(id)s", "%s"]
    )
    for placeholder in ("%(when)s", "%(_hz)s", "%(_hg)s", "%(id)s", "%s"):
        assert placeholder in sql


def test_unknown_period_predicate_is_refused() -> None:
    with pytest.raises(ValueError, match="OVERLAPS"):
        snapshots.range_condition("OVERLAPS", "1", "2")


# Any name PostgreSQL takes as a quoted identifier (no NUL), including quotes, spaces,
# capitals and keywords.
_name = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
)


@given(
    st.lists(_name, min_size=2, max_size=4, unique=True),
    st.sampled_from(["order", "Tab le", 'q"t']),
)
def test_any_names_are_quoted_and_kept(columns: list[str], table: str) -> None:
    v = Versioned("sch", table, "_chrono_h3_" + table, (columns[0],), tuple(columns), 3)
    point = _point(v)
    for sql in (
        snapshots.as_of(v, point),
        snapshots.as_of_history(v, point),
        snapshots.versions(v),
    ):
        tree = sqlglot.parse_one(sql, read="postgres")
        named = {c.name for c in tree.find_all(exp.Column) if c.table in ("t", "v", "s", "w")}
        assert set(columns) <= named
        _check_names(sql, v)
