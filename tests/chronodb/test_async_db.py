"""AsyncChronoDB: ChronoDB's methods as coroutines on one worker thread."""

from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path

import pytest

from chronodb import AsyncChronoDB, ChronoDB, ClosedError, TransactionError, UniqueViolation


@pytest.fixture
async def adb(tmp_path: Path) -> AsyncChronoDB:
    db = AsyncChronoDB(tmp_path / "a.db", user="tester")
    await db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    yield db
    await db.close()


def test_every_public_method_of_chronodb_has_a_coroutine() -> None:
    skipped = {"close", "from_config", "transaction"}  # close and transaction: own versions
    names = [
        n
        for n, v in vars(ChronoDB).items()
        if not n.startswith("_") and inspect.isfunction(v) and n not in skipped
    ]
    for name in names:
        assert inspect.iscoroutinefunction(getattr(AsyncChronoDB, name)), name
        assert getattr(AsyncChronoDB, name).__doc__ == getattr(ChronoDB, name).__doc__


async def test_statements_run_off_the_event_loop_thread(adb: AsyncChronoDB) -> None:
    seen: list[str] = []
    await adb.execute("INSERT INTO items VALUES (1, 'pen')")
    adb.sync.connection.create_function(
        "whereami", 0, lambda: seen.append(threading.current_thread().name) or 1
    )
    await adb.execute("SELECT whereami()")
    assert seen and seen[0] != threading.current_thread().name
    assert (await adb.execute("SELECT name FROM items")).scalar() == "pen"


async def test_history_and_introspection_are_awaitable(adb: AsyncChronoDB) -> None:
    first = await adb.execute("INSERT INTO items VALUES (1, 'pen')")
    await adb.execute("UPDATE items SET name = 'ink'")
    history = await adb.get_change_history("items", 1)
    assert [e["operation"] for e in history] == ["INSERT", "UPDATE"]
    old = await adb.execute("SELECT name FROM items AS OF TRANSACTION ?", [first.tx_id])
    assert old.scalar() == "pen"
    assert await adb.tables() == ["items"]
    assert [c.name for c in await adb.columns("items")] == ["id", "name"]
    assert await adb.verify_audit_integrity() is True
    assert await adb.check_history() == []
    assert len(await adb.transactions()) == 3
    assert await adb.tx_hash(first.tx_id) == adb.sync.tx_hash(first.tx_id)


async def test_a_transaction_is_one_tx_and_rolls_back_on_error(adb: AsyncChronoDB) -> None:
    async with adb.transaction():
        a = await adb.execute("INSERT INTO items VALUES (1, 'pen')")
        b = await adb.execute("INSERT INTO items VALUES (2, 'ink')")
        assert adb.in_transaction
    assert a.tx_id == b.tx_id and not adb.in_transaction
    before = await adb.transactions()
    with pytest.raises(UniqueViolation):
        async with adb.transaction():
            await adb.execute("INSERT INTO items VALUES (3, 'cap')")
            await adb.execute("INSERT INTO items VALUES (1, 'dup')")
    assert await adb.transactions() == before
    assert (await adb.execute("SELECT count(*) FROM items")).scalar() == 2


async def test_a_nested_transaction_is_refused(adb: AsyncChronoDB) -> None:
    async with adb.transaction():
        with pytest.raises(TransactionError):
            async with adb.transaction():
                pass


async def test_other_tasks_wait_for_an_open_transaction(adb: AsyncChronoDB) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def writer() -> None:
        async with adb.transaction():
            await adb.execute("INSERT INTO items VALUES (1, 'pen')")
            inside.set()
            await release.wait()
            order.append("commit")

    async def other() -> None:
        await inside.wait()
        result = await adb.execute("SELECT count(*) FROM items")
        order.append(f"other saw {result.scalar()}")

    task = asyncio.create_task(writer())
    reader = asyncio.create_task(other())
    await inside.wait()
    await asyncio.sleep(0.05)
    assert order == []  # the other task waits rather than joining the transaction
    release.set()
    await asyncio.gather(task, reader)
    assert order == ["commit", "other saw 1"]


async def test_async_with_closes(tmp_path: Path) -> None:
    async with AsyncChronoDB(tmp_path / "b.db") as db:
        await db.execute("CREATE TABLE t (x)")
        assert not db.closed
    assert db.closed
    assert repr(db).startswith("Async<ChronoDB")
    with pytest.raises(ClosedError):
        await db.execute("SELECT 1")


def test_opening_errors_are_chronodbs(tmp_path: Path) -> None:
    from chronodb import ConfigError

    with pytest.raises(ConfigError):
        AsyncChronoDB(tmp_path / "c.db", colour="blue")
