"""create_async_engine over ChronoDB: versioned writes and time travel from asyncio."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from tests.chronodb.sqlalchemy.models import Base, Order, User

from chronodb.sqlalchemy import transaction


def _async_url(sa_url: str) -> str:
    return sa_url.replace("+chronodb://", "+chronodb_async://", 1)


async def test_an_async_session_writes_versions_and_reads_as_of(sa_url: str) -> None:
    engine = create_async_engine(_async_url(sa_url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with AsyncSession(engine) as session:
            session.add(User(id=1, name="ann", orders=[Order(id=1, amount=5)]))
            await session.commit()
        async with engine.connect() as conn:
            all_versions = await conn.exec_driver_sql(
                "SELECT count(*) FROM users FOR SYSTEM_TIME ALL"
            )
            assert all_versions.scalar() == 1
            first = (await conn.exec_driver_sql("SELECT 1")).scalar()
            assert first == 1
        async with AsyncSession(engine) as session:
            await session.execute(update(User).values(name="anna"))
            await session.commit()
        async with engine.connect() as conn:
            rows = await conn.exec_driver_sql(
                "SELECT name FROM users FOR SYSTEM_TIME ALL ORDER BY sys_from"
            )
            assert [r[0] for r in rows] == ["ann", "anna"]
        async with AsyncSession(engine) as session:
            db = (await session.connection()).sync_connection.connection.dbapi_connection.db
            history = await asyncio.to_thread(db.get_change_history, "users", 1)
            point = transaction(history[0]["tx_id"])
            then = await session.execute(select(User.name).execution_options(chronodb_as_of=point))
            assert then.scalar_one() == "ann"
    finally:
        await engine.dispose()


async def test_statements_leave_the_event_loop_free(sa_url: str) -> None:
    engine = create_async_engine(_async_url(sa_url))
    loop_thread = threading.get_ident()
    try:
        async with engine.connect() as conn:
            seen = await conn.run_sync(
                lambda sync: sync.connection.dbapi_connection.call(threading.get_ident)
            )
            assert seen != loop_thread
    finally:
        await engine.dispose()


def test_the_plain_driver_name_gives_the_async_twin(sa_url: str) -> None:
    from chronodb.sqlalchemy.aio import PGDialect_chronodb_async, SQLiteDialect_chronodb_async

    engine = create_async_engine(sa_url)  # sqlite+chronodb:// or postgresql+chronodb://
    assert isinstance(engine.dialect, SQLiteDialect_chronodb_async | PGDialect_chronodb_async)
    assert create_async_engine(_async_url(sa_url)).dialect.is_async
