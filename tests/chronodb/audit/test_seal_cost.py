"""The seal of a one-version autocommit write: one statement, and the same leaf as ever.

A write that made one history version is sealed by one UPDATE that reads that version and
puts the leaf on it (``Ledger._seal_one``); every other write by reading its versions first.
Both must give the leaf the canonical form defines (``audit/digests.py``), whatever the
values: REALs that need scaling, infinities, BLOBs, text, NULL.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB
from chronodb.audit.digests import table_digests
from chronodb.audit.leaf import Leaf
from chronodb.database import engine_of

VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.sampled_from([5e-324, 1e-300, 2.0**-11, 2.0**63, 1e300, math.inf, -math.inf, 0.1 + 0.2]),
    st.text(max_size=20),
    st.binary(max_size=8),
)


def _statements_of(db: ChronoDB, sql: str, params: Any) -> tuple[list[str], Any]:
    ran: list[str] = []
    db.connection.set_trace_callback(ran.append)
    try:
        result = db.execute(sql, params)
    finally:
        db.connection.set_trace_callback(None)
    return ran, result


def _leaf_of(db: ChronoDB, tx_id: int) -> Leaf:
    found = engine_of(db).ledger.leaf_of(tx_id)
    assert found is not None
    return Leaf.decode(found[1])


def test_an_autocommit_update_is_sealed_by_one_statement(tmp_path) -> None:
    with ChronoDB(tmp_path / "one.db") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, name TEXT)")
        db.execute("INSERT INTO t VALUES (1, 0, 'a')")
        ran, result = _statements_of(db, "UPDATE t SET v = ? WHERE id = ?", (5, 1))
        ledger = [s for s in ran if "_chrono_h1_t" in s and "_chrono_leaf" in s]
        assert len(ledger) == 1 and ledger[0].startswith("UPDATE")
        assert not any(s.startswith("SELECT") for s in ran)
        leaf = _leaf_of(db, result.tx_id)
        assert [(t.table_id, t.versions) for t in leaf.tables] == [(1, 1)]
        assert db.verify_audit_integrity()


def _check_sealed_as_verified(db: ChronoDB, tx_id: int) -> None:
    """The transaction's leaf holds the digests verification computes."""
    engine = engine_of(db)
    leaf = _leaf_of(db, tx_id)
    expected = table_digests(engine.conn, engine.catalog, tx_id)
    assert [(t.table_id, t.versions, t.digest) for t in leaf.tables] == expected


def _write_and_check(
    tmp_path_factory, columns: list[str], first: tuple, second: tuple, kind: str
) -> None:
    """Write ``first`` into a table of ``columns`` (after its key), then ``second`` by
    ``kind``; check the second's leaf and verify the whole file."""
    path = tmp_path_factory.mktemp("seal") / "v.db"
    names = [c.split()[0] for c in columns]
    marks = ", ".join("?" * (len(columns) + 1))
    with ChronoDB(path) as db:
        db.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, {', '.join(columns)})")
        db.execute(f"INSERT INTO t VALUES ({marks})", (1, *first))
        if kind == "UPDATE":
            sets = ", ".join(f"{n} = ?" for n in names)
            result = db.execute(f"UPDATE t SET {sets} WHERE id = 1", second)
        elif kind == "INSERT":
            result = db.execute(f"INSERT INTO t VALUES ({marks})", (2, *second))
        elif kind == "BATCH":  # sealed by the statement that reads every version
            rows = [(2, *second), (3, *first)]
            result = db.executemany(f"INSERT INTO t VALUES ({marks})", rows)
        else:
            result = db.execute("DELETE FROM t WHERE id = 1")
        if result.tx_id is None:  # the UPDATE changed nothing: no transaction
            return
        _check_sealed_as_verified(db, result.tx_id)
        assert db.verify_audit_integrity()


KINDS = st.sampled_from(["UPDATE", "INSERT", "DELETE", "BATCH"])


@settings(max_examples=60, deadline=None)
@given(first=st.tuples(VALUES, VALUES), second=st.tuples(VALUES, VALUES), kind=KINDS)
def test_every_seal_digests_the_versions_as_verification_does(
    tmp_path_factory, first: tuple, second: tuple, kind: str
) -> None:
    _write_and_check(tmp_path_factory, ["r REAL", "x"], first, second, kind)


@settings(max_examples=60, deadline=None)
@given(
    first=st.tuples(VALUES, VALUES, VALUES), second=st.tuples(VALUES, VALUES, VALUES), kind=KINDS
)
def test_typed_columns_are_sealed_as_verification_digests_them(
    tmp_path_factory, first: tuple, second: tuple, kind: str
) -> None:
    """TEXT columns go into the seal's statements as they are; a BLOB in one (which no
    affinity turns into text) makes them fall back to the full statement, same leaf."""
    _write_and_check(tmp_path_factory, ["s TEXT", "n INTEGER", "c VARCHAR(9)"], first, second, kind)


def test_a_blob_in_a_text_column_is_sealed_the_general_way(tmp_path) -> None:
    with ChronoDB(tmp_path / "blob.db") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)")
        db.execute("INSERT INTO t VALUES (1, 'a')")
        db.execute("UPDATE t SET s = 'b' WHERE id = 1")  # the one-statement seal is ready
        for value in (b"\x00", b'"x"', b"\x0c\x01", 'é "q" \\ \n'):
            result = db.execute("UPDATE t SET s = ? WHERE id = 1", (value,))
            _check_sealed_as_verified(db, result.tx_id)
        assert db.verify_audit_integrity()


ROW = st.tuples(VALUES, VALUES, VALUES, VALUES)
WORKLOAD = st.lists(
    st.tuples(st.sampled_from(["UPSERT", "UPDATE", "DELETE", "MANY"]), st.integers(1, 3), ROW),
    min_size=1,
    max_size=10,
)


@settings(max_examples=30, deadline=None)
@given(ops=WORKLOAD)
def test_a_random_workload_seals_every_transaction_as_verification_digests_it(
    tmp_path_factory, ops: list[tuple[str, int, tuple]]
) -> None:
    path = tmp_path_factory.mktemp("work") / "w.db"
    upsert = "INSERT OR REPLACE INTO t VALUES (?, ?, ?, ?, ?)"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER, r REAL, x)")
        for op, key, row in ops:
            if op == "UPSERT":
                result = db.execute(upsert, (key, *row))
            elif op == "UPDATE":
                sql = "UPDATE t SET s = ?, n = ?, r = ?, x = ? WHERE id = ?"
                result = db.execute(sql, (*row, key))
            elif op == "DELETE":
                result = db.execute("DELETE FROM t WHERE id = ?", (key,))
            else:
                result = db.executemany(upsert, [(key, *row), (key + 1, *row[::-1])])
            if result.tx_id is not None:
                _check_sealed_as_verified(db, result.tx_id)
        assert db.verify_audit_integrity()
