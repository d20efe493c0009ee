"""The home page's sizes from the versions themselves, on a backend without the health report."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB
from chronodb.server.ui import home
from chronodb.server.ui.home import table_summary

# A transaction: (key, what) pairs; what is a new value, or None to delete the key.
transactions = st.lists(
    st.lists(st.tuples(st.integers(1, 4), st.none() | st.integers(0, 2)), min_size=1, max_size=4),
    min_size=1,
    max_size=8,
)
_tables = itertools.count()


def replay(db: ChronoDB, table: str, workload: list[list[tuple[int, int | None]]]) -> None:
    db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v INTEGER)")
    for writes in workload:
        with db.transaction():
            for key, value in writes:
                if value is None:
                    db.execute(f"DELETE FROM {table} WHERE id = ?", [key])
                else:
                    db.execute(
                        f"INSERT INTO {table} VALUES (?, ?) "
                        "ON CONFLICT (id) DO UPDATE SET v = excluded.v",
                        [key, value],
                    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(workload=transactions)
def test_history_rows_count_every_insert_update_and_delete(backend_db: ChronoDB, workload):
    db = backend_db
    table = f"t{next(_tables)}"
    replay(db, table, workload)
    summary = table_summary(db, table, None, {})  # no health report: counted from versions
    changes = db.changes(table)  # one entry per insert, update and delete
    assert summary["history_rows"] == len(changes)
    assert summary["rows"] == db.execute(f"SELECT count(*) FROM {table}").scalar()
    assert summary["last_change"] == (max(c["tx_time"] for c in changes) if changes else None)


def test_a_history_too_long_to_scan_shows_no_count(backend_db: ChronoDB, monkeypatch):
    db = backend_db
    replay(db, "t", [[(1, 0)], [(1, 1)], [(1, None)]])
    monkeypatch.setattr(home, "LAST_CHANGE_SCAN", 1)
    summary = table_summary(db, "t", None, {})
    assert (summary["rows"], summary["history_rows"], summary["last_change"]) == (0, None, None)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # PostgreSQL needs a key
def test_a_table_without_a_key_shows_no_history_count(backend_db: ChronoDB):
    db = backend_db
    db.execute("CREATE TABLE loose (v INTEGER)")
    db.execute("INSERT INTO loose VALUES (1)")
    summary = table_summary(db, "loose", None, {})
    assert (summary["rows"], summary["history_rows"]) == (1, None)
