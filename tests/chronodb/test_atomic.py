"""Batches are all or nothing: executemany, executescript, transactions, on every route.

A batch whose last part fails leaves the database as it was: no rows, no table, no
version, no transaction; inside an open transaction it leaves the transaction as it was
before the batch, still open, and what the transaction did before it commits.

The tests run on both backends (``backend``, ``conftest.py``), except the batches and
statements only SQLite has (``CREATE TABLE AS`` with parameters, ``ALTER TABLE``, tables
created by their first INSERT, ``INSERT OR ROLLBACK``, ``RAISE(ROLLBACK)``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chronodb import ChronoDB
from chronodb.errors import ChronoDBError, IntegrityError, TransactionError

COPY = "INSERT INTO t (id, name) SELECT ?, name FROM t AS OF TRANSACTION ? WHERE id = 1"


def _state(db: ChronoDB) -> tuple[list[tuple[object, ...]], list[str], int]:
    """The rows of t, the versioned tables, and how many versions t's history holds."""
    rows = [tuple(r) for r in db.execute("SELECT * FROM t ORDER BY id")]
    versions = sum(len(db.get_change_history("t", r[0])) for r in rows)
    return rows, db.tables(), versions


@pytest.fixture
def db(backend_db: ChronoDB) -> ChronoDB:
    backend_db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    backend_db.execute("INSERT INTO t VALUES (1, 'ann')")
    return backend_db


def _sound(db: ChronoDB) -> None:
    """History and ledger agree with the data."""
    assert db.check_history() == []
    assert db.verify_audit_integrity() is True


def _tx(db: ChronoDB) -> int:
    return db.transactions(limit=1)[0]["tx_id"]


# Each batch's last part fails on t's primary key or on a table that exists by then.
BATCHES: dict[str, Callable[[ChronoDB], object]] = {
    "executemany, temporal source": lambda db: db.executemany(
        COPY, [(10, _tx(db)), (11, _tx(db)), (1, _tx(db))]
    ),
    "executemany, plain": lambda db: db.executemany(
        "INSERT INTO t VALUES (?, ?)", [(10, "a"), (11, "b"), (1, "c")]
    ),
    "executescript": lambda db: db.executescript(
        "INSERT INTO t VALUES (10, 'a'); CREATE TABLE made (v INTEGER PRIMARY KEY);"
        "INSERT INTO made VALUES (1); INSERT INTO t (id, name) VALUES (1, 'dup')"
    ),
    "executescript, temporal write": lambda db: db.executescript(
        f"INSERT INTO t VALUES (10, 'a'); {COPY.replace('?', '11', 1).replace('?', str(_tx(db)))};"
        "INSERT INTO t VALUES (1, 'dup')"
    ),
}
SQLITE_BATCHES: dict[str, Callable[[ChronoDB], object]] = {
    "executemany, DDL": lambda db: db.executemany(
        "CREATE TABLE made AS SELECT ? AS v", [(1,), (2,)]
    ),
    "executescript, ALTER": lambda db: db.executescript(
        "INSERT INTO t VALUES (10, 'a'); CREATE TABLE made (v); ALTER TABLE t ADD COLUMN x;"
        "INSERT INTO made VALUES (1); INSERT INTO t (id, name) VALUES (1, 'dup')"
    ),
    "auto-created table": lambda db: db.execute(
        "INSERT INTO fresh (id, v) VALUES (1, 'a'), (1, 'b')"
    ),
}
EVERY_BATCH = {**BATCHES, **SQLITE_BATCHES}
ON_EACH_BACKEND = [
    pytest.param(backend, batch, id=f"{backend}-{batch}")
    for backend in ("sqlite", "postgresql")
    for batch in BATCHES
] + [pytest.param("sqlite", batch, id=f"sqlite-{batch}") for batch in SQLITE_BATCHES]
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.mark.parametrize(("backend", "batch"), ON_EACH_BACKEND, indirect=["backend"])
def test_a_failing_batch_leaves_nothing(db: ChronoDB, batch: str) -> None:
    before, txs = _state(db), db.transactions()
    with pytest.raises(ChronoDBError):
        EVERY_BATCH[batch](db)
    assert _state(db) == before
    assert db.transactions() == txs
    _sound(db)


@pytest.mark.parametrize(("backend", "batch"), ON_EACH_BACKEND, indirect=["backend"])
def test_a_failing_batch_inside_a_transaction_undoes_only_itself(db: ChronoDB, batch: str) -> None:
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (5, 'kept')")
    db.execute("SAVEPOINT s")
    db.execute("INSERT INTO t VALUES (6, 'kept too')")
    during = _state(db)
    with pytest.raises(ChronoDBError):
        EVERY_BATCH[batch](db)
    assert _state(db) == during
    db.execute("RELEASE s")
    db.execute("COMMIT")
    rows, tables, _ = _state(db)
    assert rows == [(1, "ann"), (5, "kept"), (6, "kept too")]
    assert tables == ["t"]
    _sound(db)


def test_a_with_block_that_catches_a_failed_batch_commits_the_rest(db: ChronoDB) -> None:
    with db.transaction():
        db.execute("INSERT INTO t VALUES (5, 'kept')")
        with pytest.raises(IntegrityError):
            db.executescript(
                "CREATE TABLE made (v INTEGER PRIMARY KEY); INSERT INTO t VALUES (1, 'dup')"
            )
        db.execute("INSERT INTO t VALUES (6, 'kept too')")
    assert _state(db)[:2] == ([(1, "ann"), (5, "kept"), (6, "kept too")], ["t"])
    _sound(db)


def test_a_script_commits_as_one_transaction(db: ChronoDB) -> None:
    txs = len(db.transactions())
    db.executescript("INSERT INTO t VALUES (2, 'b'); UPDATE t SET name = 'c' WHERE id = 2")
    assert len(db.transactions()) == txs + 1
    assert [v["operation"] for v in db.get_change_history("t", 2)] == ["INSERT"]


def test_a_script_with_its_own_transactions_runs_as_written(db: ChronoDB) -> None:
    with pytest.raises(IntegrityError):
        db.executescript(
            "BEGIN; INSERT INTO t VALUES (2, 'b'); COMMIT; INSERT INTO t VALUES (1, 'x')"
        )
    assert _state(db)[0] == [(1, "ann"), (2, "b")]


@SQLITE_ONLY
def test_a_transaction_sqlite_rolled_back_writes_nothing_more(db: ChronoDB) -> None:
    """INSERT OR ROLLBACK ends the whole transaction in SQLite: ChronoDB's ends with it, and
    what follows is refused instead of committed statement by statement."""
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (2, 'gone')")
    with pytest.raises(IntegrityError):
        db.execute("INSERT OR ROLLBACK INTO t VALUES (1, 'dup')")
    with pytest.raises(TransactionError, match="rolled this transaction back"):
        db.execute("INSERT INTO t VALUES (3, 'refused')")
    with pytest.raises(TransactionError, match="none of it was committed"):
        db.execute("COMMIT")
    assert not db.in_transaction
    assert _state(db)[0] == [(1, "ann")]
    db.execute("INSERT INTO t VALUES (4, 'after')")
    assert _state(db)[0] == [(1, "ann"), (4, "after")]
    _sound(db)


@SQLITE_ONLY
def test_a_with_block_that_catches_a_rollback_commits_nothing(db: ChronoDB) -> None:
    db.execute(
        "CREATE TRIGGER no_ben BEFORE INSERT ON t WHEN NEW.name = 'ben' "
        "BEGIN SELECT RAISE(ROLLBACK, 'no ben'); END"
    )
    with pytest.raises(TransactionError), db.transaction():
        db.execute("INSERT INTO t VALUES (2, 'cy')")
        with pytest.raises(ChronoDBError, match="no ben"):
            db.execute("INSERT INTO t VALUES (3, 'ben')")
    assert _state(db)[0] == [(1, "ann")]
    _sound(db)
