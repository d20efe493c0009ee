"""Fuzz the whole public API with odd arguments: only ChronoDBErrors escape, and afterwards
the database still verifies and another connection can write (no lock is left held).

The number of examples is small for CI; CHRONODB_FUZZ_EXAMPLES=5000 runs a longer search.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodb import ChronoDB, ChronoDBError

EXAMPLES = int(os.environ.get("CHRONODB_FUZZ_EXAMPLES", "150"))

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=8),
    st.text(max_size=12),
    st.sampled_from(["\ud800", "a\x00b", "'", '"', "users", "t", "zz", "1e9", "[", "{"]),
    st.builds(object),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.lists(st.integers(), max_size=2),
)

CLAUSES = [
    "AS OF TIMESTAMP {x}",
    "AS OF TRANSACTION {x}",
    "FOR SYSTEM_TIME AS OF {x}",
    "FOR SYSTEM_TIME BETWEEN {x} AND {y}",
    "FOR SYSTEM_TIME FROM {x} TO {y}",
    "FOR SYSTEM_TIME ALL",
]
PIECES = ["'2024", "99999999999999999999999", "?", ":p", "(", ")", "'\ud800'", "1e9", "-3", ""]


@st.composite
def temporal_sql(draw: Any) -> str:
    clause = draw(st.sampled_from(CLAUSES)).format(
        x=draw(st.sampled_from(PIECES)), y=draw(st.sampled_from(PIECES))
    )
    depth = draw(st.sampled_from([0, 1, 50, 3000]))
    inner = "(" * depth + "1" + ")" * depth
    sql = draw(
        st.sampled_from(
            [
                f"SELECT {inner} FROM t {clause}",
                f"SELECT * FROM t {clause} WHERE id = {inner}",
                f"INSERT INTO t SELECT * FROM t {clause}",
                f"SELECT * FROM t WHERE id IN (SELECT id FROM t {clause})",
            ]
        )
    )
    cut = draw(st.integers(min_value=0, max_value=len(sql)))
    return draw(st.sampled_from([sql, sql[:cut], sql + draw(st.sampled_from(PIECES))]))


SQL = st.one_of(temporal_sql(), ODD)
PARAMS = st.one_of(ODD, st.lists(ODD, max_size=3), st.dictionaries(st.just("p"), ODD))


def calls(db: ChronoDB) -> dict[str, Any]:
    """Every public call, each taking one drawn value per argument."""
    trail = db.audit_trail
    return {
        "execute": (db.execute, (SQL, PARAMS)),
        "executemany": (db.executemany, (SQL, st.one_of(ODD, st.lists(PARAMS, max_size=2)))),
        "executescript": (db.executescript, (SQL,)),
        "changes": (db.changes, (ODD, ODD, ODD)),
        "get_change_history": (db.get_change_history, (ODD, ODD)),
        "prune_history": (db.prune_history, (ODD,)),
        "erase": (db.erase, (ODD, ODD, ODD)),
        "tx_hash": (db.tx_hash, (ODD,)),
        "transactions": (db.transactions, (ODD,)),
        "transaction": (_transaction(db), (ODD,)),
        "verify_transaction": (trail.verify_transaction, (ODD,)),
        "prove": (trail.prove, (ODD,)),
        "verify_consistency": (trail.verify_consistency, (st.one_of(ODD, PARAMS),)),
        "generate_audit_report": (trail.generate_audit_report, (ODD, ODD, ODD)),
        "constructor": (_open, (ODD, ODD, ODD)),
        "from_config": (ChronoDB.from_config, (ODD,)),
    }


def _transaction(db: ChronoDB) -> Any:
    def run(sql: Any) -> None:
        with db.transaction():
            db.execute(sql)

    return run


def _open(path: Any, user: Any, timeout: Any) -> None:
    ChronoDB(":memory:" if path is None else path, user=user, timeout=timeout).close()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChronoDB, ChronoDB, Path]]:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "fuzz.db"
    db = ChronoDB(path, user="fuzzer")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    db.execute("UPDATE t SET v = 'c' WHERE id = 1")
    other = ChronoDB(path, user="other", timeout=5)
    cwd = os.getcwd()
    os.chdir(folder)  # a path drawn as a file name lands here
    try:
        yield db, other, path
    finally:
        os.chdir(cwd)
        other.close()
        db.close()


@pytest.mark.parametrize(
    "name",
    [
        "execute",
        "executemany",
        "executescript",
        "changes",
        "get_change_history",
        "prune_history",
        "erase",
        "tx_hash",
        "transactions",
        "transaction",
        "verify_transaction",
        "prove",
        "verify_consistency",
        "generate_audit_report",
        "constructor",
        "from_config",
    ],
)
@pytest.mark.filterwarnings("ignore::chronodb.ChronoDBWarning")  # a point before t existed
def test_only_chronodb_errors_escape_the_public_api(
    fuzzed: tuple[ChronoDB, ChronoDB, Path], name: str
) -> None:
    db, other, _ = fuzzed
    call, argument_strategies = calls(db)[name]
    ran = []

    @settings(
        max_examples=max(EXAMPLES // 8, 5),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(args=st.tuples(*argument_strategies))
    def fuzz(args: tuple) -> None:
        ran.append(args)
        with contextlib.suppress(ChronoDBError):
            call(*args)
        if db.in_transaction:  # a BEGIN drawn as SQL opened one: a state, not a leak
            db.execute("ROLLBACK")
        other.execute("INSERT INTO t (v) VALUES ('from another connection')")

    fuzz()
    assert ran
    assert db.audit_trail.verify().ok
    assert db.check_history(quick=True) == []
    db.execute("INSERT INTO t (v) VALUES ('still writable')")
