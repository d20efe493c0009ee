"""The engine under ChronoDB, used through its internal API as ddl, audit and optimizer do."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronodb import ChronoDB, Result
from chronodb.database import engine_of
from chronodb.engine import Engine
from chronodb.errors import ClosedError, TransactionError
from chronodb.storage import SQLiteBackend, open_backend
from chronodb.storage.base import Backend

_PROTOCOL = [n for n in vars(Backend) if not n.startswith("_")] + list(Backend.__annotations__)


def test_open_backend_gives_a_backend_with_every_member_of_the_protocol(tmp_path: Path) -> None:
    backend = open_backend(str(tmp_path / "b.db"), timeout=1.0)
    try:
        assert isinstance(backend, SQLiteBackend)
        missing = [name for name in _PROTOCOL if not hasattr(backend, name)]
        assert missing == []
    finally:
        backend.close()


def test_an_engine_alone_runs_statements_transactions_and_history(tmp_path: Path) -> None:
    path = str(tmp_path / "alone.db")
    engine = Engine(open_backend(path), path=path, user="engine")
    engine.open()
    engine.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    first = engine.execute("INSERT INTO t VALUES (1, 'a')")
    with engine.transaction():
        engine.execute("UPDATE t SET v = 'b' WHERE id = 1")
        assert engine.explicit and engine.open_tx is not None
    assert not engine.explicit and engine.open_tx is None
    then = engine.execute("SELECT v FROM t AS OF TRANSACTION ?", [first.tx_id])
    assert then.scalar() == "a"
    assert engine.catalog.current("t") is not None
    assert engine.ledger is not None and engine.ledger.hash_of(first.tx_id) is not None
    engine.close()
    assert engine.closed
    with pytest.raises(ClosedError):
        engine.execute("SELECT 1")
    # The file it wrote is an ordinary ChronoDB file.
    with ChronoDB(path) as db:
        assert db.get_change_history("t", 1)[0]["user"] == "engine"


def test_run_write_gives_the_result_its_transaction(db: ChronoDB) -> None:
    engine = engine_of(db)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    insert = "INSERT INTO t VALUES (7)"
    result = engine.run_write(lambda: Result(engine.conn.execute(insert)), sql=insert)
    assert result.tx_id is not None
    assert db.tx_hash(result.tx_id) == result.tx_hash


def test_the_facade_forwards_its_options_to_the_engine(db: ChronoDB) -> None:
    engine = engine_of(db)
    db.user = "someone else"
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (1)")
    assert engine.user == "someone else"
    assert db.transactions(1)[0]["user"] == "someone else"
    assert (db.path, db.read_only) == (engine.path, engine.read_only) == (":memory:", False)


def test_a_transaction_begun_on_the_engine_is_the_databases(db: ChronoDB) -> None:
    engine = engine_of(db)
    engine.begin()
    assert db.in_transaction
    with pytest.raises(TransactionError):
        db.execute("BEGIN")
    engine.rollback()
    assert not db.in_transaction
