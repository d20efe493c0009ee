"""The dialects: entry points, versioned DDL and writes, one tx per transaction, reflection."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from tests.chronodb.sqlalchemy.models import Order, User

from chronodb.sqlalchemy.postgresql import PGDialect_chronodb
from chronodb.sqlalchemy.sqlite import SQLiteDialect_chronodb


def _chronodb(engine: Engine):  # type: ignore[no-untyped-def]
    """A ChronoDB connection of the engine's pool (the DB-API connection's database)."""
    return engine.raw_connection().dbapi_connection.db  # type: ignore[union-attr]


def _versions(engine: Engine, table: str) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT id, name, sys_to IS NULL FROM {table} FOR SYSTEM_TIME ALL "
            "ORDER BY id, sys_from"
        )
        return [tuple(r) for r in rows]


def test_the_entry_points_name_the_dialects() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="sqlalchemy.dialects")}
    assert names["sqlite.chronodb"] == "chronodb.sqlalchemy.sqlite:SQLiteDialect_chronodb"
    assert names["postgresql.chronodb"] == "chronodb.sqlalchemy.postgresql:PGDialect_chronodb"


def test_create_engine_picks_the_chronodb_dialect(engine: Engine) -> None:
    assert isinstance(engine.dialect, SQLiteDialect_chronodb | PGDialect_chronodb)
    assert engine.dialect.driver == "chronodb"
    assert engine.dialect.dbapi.__name__.startswith("chronodb.")


def test_create_all_makes_versioned_tables_and_reflection_hides_history(shop: Engine) -> None:
    inspector = inspect(shop)
    assert sorted(inspector.get_table_names()) == ["orders", "users"]
    assert not any(name.startswith("_chrono") for name in inspector.get_view_names())
    if shop.dialect.supports_sequences:  # PostgreSQL: ChronoDB's id sequences are its own
        assert not any(name.startswith("_chrono") for name in inspector.get_sequence_names())
    assert [c["name"] for c in inspector.get_columns("users")] == ["id", "name"]
    assert inspector.get_foreign_keys("orders")[0]["referred_table"] == "users"
    reflected = MetaData()
    reflected.reflect(shop)
    assert sorted(reflected.tables) == ["orders", "users"]
    assert sorted(_chronodb(shop).tables()) == ["orders", "users"]  # versioned by ChronoDB


def _tx_ids(engine: Engine) -> set[int]:
    return {t["tx_id"] for t in _chronodb(engine).transactions()}


def test_an_orm_transaction_is_one_chronodb_transaction(shop: Engine) -> None:
    before = _tx_ids(shop)
    with Session(shop) as session:
        session.add_all([User(id=1, name="ann"), User(id=2, name="bob")])
        session.add(Order(id=1, user_id=1, amount=5))
        session.commit()
    with Session(shop) as session:
        session.get(User, 1).name = "anna"  # type: ignore[union-attr]
        session.commit()
    db = _chronodb(shop)
    first, second = sorted(_tx_ids(shop) - before)
    history = db.get_change_history("users", 1)
    assert [(v["operation"], v["tx_id"]) for v in history] == [
        ("INSERT", first),
        ("UPDATE", second),
    ]
    assert db.get_change_history("orders", 1)[0]["tx_id"] == first


def test_a_rolled_back_session_leaves_no_version(shop: Engine) -> None:
    before = _tx_ids(shop)
    with Session(shop) as session:
        session.add(User(id=1, name="ann"))
        session.flush()
        session.rollback()
    assert _versions(shop, "users") == []
    assert _tx_ids(shop) == before


def test_bulk_update_delete_and_executemany_insert_are_versioned(shop: Engine) -> None:
    before = _tx_ids(shop)
    with Session(shop) as session:
        session.execute(insert(User), [{"id": i, "name": f"u{i}"} for i in (1, 2, 3)])
        session.commit()
        session.execute(update(User).where(User.id < 3).values(name="renamed"))
        session.execute(delete(User).where(User.id == 3))
        session.commit()
    assert _versions(shop, "users") == [
        (1, "u1", False),
        (1, "renamed", True),
        (2, "u2", False),
        (2, "renamed", True),
        (3, "u3", False),
    ]
    with shop.connect() as conn:
        now = conn.execute(select(User.id, User.name).order_by(User.id)).all()
    assert [tuple(r) for r in now] == [(1, "renamed"), (2, "renamed")]
    assert len(_tx_ids(shop) - before) == 2


def test_core_writes_in_engine_begin_share_one_transaction(engine: Engine) -> None:
    metadata = MetaData()
    notes = Table(
        "notes", metadata, Column("id", Integer, primary_key=True), Column("body", String(20))
    )
    metadata.create_all(engine)
    before = _tx_ids(engine)
    with engine.begin() as conn:
        conn.execute(notes.insert(), [{"id": 1, "body": "a"}, {"id": 2, "body": "b"}])
        conn.execute(notes.update().where(notes.c.id == 1).values(body="c"))
    assert len(_tx_ids(engine) - before) == 1
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT body FROM notes FOR SYSTEM_TIME ALL ORDER BY body"))
        assert [r[0] for r in rows] == ["b", "c"]  # one transaction: its final versions


def test_autocommit_runs_each_statement_in_its_own_transaction(shop: Engine) -> None:
    before = _tx_ids(shop)
    auto = shop.execution_options(isolation_level="AUTOCOMMIT")
    with auto.connect() as conn:
        conn.execute(insert(User).values(id=1, name="a"))
        conn.execute(update(User).values(name="b"))
    assert len(_tx_ids(shop) - before) == 2


def test_sqlite_memory_url_works() -> None:
    engine = create_engine("sqlite+chronodb://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 'x')")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT v FROM t FOR SYSTEM_TIME ALL").scalar() == "x"
    engine.dispose()


def test_percent_signs_survive_with_and_without_parameters(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 'a%b'")).scalar() == "a%b"
        assert conn.exec_driver_sql("SELECT 'a%b'").scalar() == "a%b"
        assert conn.execute(text("SELECT 'a%b' || :x"), {"x": "c"}).scalar() == "a%bc"


def test_postgresql_read_only_and_deferrable_options_say_what_they_can(pg_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import StatementError
    from tests.chronodb import pgserver

    from chronodb.errors import NotSupportedError

    url = pgserver.as_url(pg_url).replace("postgresql://", "postgresql+chronodb://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.dialect.get_readonly(conn.connection.dbapi_connection) is False
            assert conn.dialect.get_deferrable(conn.connection.dbapi_connection) is False
            same = conn.execution_options(postgresql_readonly=False)
            assert same.execute(text("SELECT 1")).scalar() == 1
        refused = pytest.raises((NotSupportedError, StatementError), match="read-only")
        with engine.connect() as conn, refused:
            conn.execution_options(postgresql_readonly=True).execute(text("SELECT 1"))
    finally:
        engine.dispose()
