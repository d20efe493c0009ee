"""Concurrent writers through ChronoDB on PostgreSQL: exact history, stable snapshots.

Writer threads and writer processes, each with its own ``ChronoDB(url)``, commit or roll
back random transactions (inserts, updates, deletes, some in a savepoint rolled back, under
READ COMMITTED or REPEATABLE READ, some a single autocommit statement) while reader threads
check snapshot stability: the ids a reader has seen stay, a newly appearing id is above
every id it saw before, and AS OF TRANSACTION n answers what it answered the first time.
Afterwards, for every committed transaction n, AS OF TRANSACTION n equals a replay of the
committed transactions in id order.

Every transaction inserts a row into ``marks`` naming itself, so its id is found through
ChronoDB afterwards (``db.changes("marks")``) and a rolled-back one leaves no trace.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB, SerializationError

KEYS = 6
THREADS = 3
PROCESSES = 2
READERS = 2

# What a writer's transaction left: per key it changed, its value, or None if deleted.
Left = dict[int, int | None]


@dataclass
class Transaction:
    """A random transaction: ``ops`` kept, ``undone`` rolled back to a savepoint."""

    ops: list[tuple[str, int]]
    undone: list[tuple[str, int]]
    isolation: str  # "" (the server's default: READ COMMITTED), or "REPEATABLE READ"
    commit: bool
    context: bool  # through ``with db.transaction()`` rather than BEGIN/COMMIT
    auto: bool  # one autocommit statement: its first op, and its mark in a CTE


def plans(seed: int, writers: int, length: int) -> list[list[Transaction]]:
    rng = random.Random(seed)

    def ops(most: int) -> list[tuple[str, int]]:
        kinds = ["upsert", "upsert", "update", "delete"]
        return [(rng.choice(kinds), rng.randrange(KEYS)) for _ in range(rng.randint(0, most))]

    return [
        [
            Transaction(
                ops=ops(4),
                undone=ops(2) if rng.random() < 0.4 else [],
                isolation=rng.choice(["", "", "REPEATABLE READ"]),
                commit=rng.random() < 0.8,
                context=rng.random() < 0.3,
                auto=rng.random() < 0.25,
            )
            for _ in range(length)
        ]
        for _ in range(writers)
    ]


class Undo(Exception):
    """Raised inside ``db.transaction()`` to roll it back."""


def _statement(db: ChronoDB, kind: str, key: int, value: int) -> set[int]:
    """One statement; the keys it changed."""
    if kind == "upsert":
        sql = "INSERT INTO t VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET v = ? RETURNING id"
        found = db.execute(sql, [key, value, value])
    elif kind == "update":
        found = db.execute("UPDATE t SET v = ? WHERE id = ? RETURNING id", [value, key])
    else:
        found = db.execute("DELETE FROM t WHERE id = ? RETURNING id", [key])
    return {row[0] for row in found.rows}


def _body(db: ChronoDB, tx: Transaction, mark: str, values: list[int]) -> Left:
    """The transaction's statements; the values its kept writes left."""
    db.execute("INSERT INTO marks VALUES (?)", [mark])
    touched: set[int] = set()
    for kind, key in tx.ops:
        values[0] += 1
        touched |= _statement(db, kind, key, values[0])
    if tx.undone:
        db.execute("SAVEPOINT undone")
        for kind, key in tx.undone:
            values[0] += 1
            _statement(db, kind, key, values[0])
        db.execute("ROLLBACK TO SAVEPOINT undone")
    # The rows it wrote stay locked by it until it ends, so this is what it commits.
    left: Left = dict.fromkeys(touched)
    if touched:
        marks = ", ".join("?" * len(touched))
        found = db.execute(f"SELECT id, v FROM t WHERE id IN ({marks})", sorted(touched))
        left.update({row[0]: row[1] for row in found.rows})
    return left


AUTOCOMMIT = {
    "upsert": (
        "WITH m AS (INSERT INTO marks VALUES (?)) INSERT INTO t VALUES (?, ?) "
        "ON CONFLICT (id) DO UPDATE SET v = excluded.v RETURNING id, v"
    ),
    "update": "WITH m AS (INSERT INTO marks VALUES (?)) UPDATE t SET v = ? WHERE id = ? "
    "RETURNING id, v",
    "delete": "WITH m AS (INSERT INTO marks VALUES (?)) DELETE FROM t WHERE id = ? "
    "RETURNING id, NULL",
}


def _autocommit(db: ChronoDB, kind: str, key: int, mark: str, value: int) -> tuple[Left, int]:
    """One autocommit statement writing ``mark`` and one op; what it left, and its id."""
    params = {"upsert": [mark, key, value], "update": [mark, value, key], "delete": [mark, key]}
    result = db.execute(AUTOCOMMIT[kind], params[kind])
    assert result.tx_id is not None
    return {row[0]: row[1] for row in result.rows}, result.tx_id


def write(url: str, writer: int, plan: list[Transaction]) -> tuple[dict[str, Left], dict]:
    """Run ``plan`` through a ChronoDB of its own; per mark of a transaction it tried to
    commit, what it left (whether it committed shows in ``marks``), and per mark of an
    autocommit statement, the tx_id its Result gave."""
    tried: dict[str, Left] = {}
    given: dict[str, int] = {}
    values = [writer * 100_000]
    with ChronoDB(url, user=f"writer{writer}") as db:
        for number, tx in enumerate(plan):
            mark = f"{writer}.{number}"
            if tx.auto:
                kind, key = tx.ops[0] if tx.ops else ("upsert", 0)
                values[0] += 1
                # A deadlock with other writers' transactions undoes it, mark and all.
                with contextlib.suppress(SerializationError):
                    tried[mark], given[mark] = _autocommit(db, kind, key, mark, values[0])
                continue
            try:
                if tx.context:
                    with db.transaction():
                        left = _body(db, tx, mark, values)
                        if not tx.commit:
                            raise Undo
                        tried[mark] = left
                    continue
                db.execute(f"BEGIN ISOLATION LEVEL {tx.isolation}" if tx.isolation else "BEGIN")
                left = _body(db, tx, mark, values)
                if tx.commit:
                    tried[mark] = left
                    db.execute("COMMIT")
                else:
                    db.execute("ROLLBACK")
            except (Undo, SerializationError):
                if db.in_transaction:
                    db.execute("ROLLBACK")
    return tried, given


@dataclass
class Reader:
    """A reader's record: the ids it has seen, and what AS OF each n answered first."""

    seen: set[int] = field(default_factory=set)
    answers: dict[int, list[tuple]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def read(url: str, stop: threading.Event, reader: Reader, rng: random.Random) -> None:
    with ChronoDB(url, user="reader", read_only=True) as db:
        while not stop.is_set():
            repeatable = rng.random() < 0.5
            if repeatable:
                db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            try:
                ids = {t["tx_id"] for t in db.transactions()}
                horizon = max(reader.seen, default=0)
                if not reader.seen <= ids:
                    reader.errors.append(f"ids {sorted(reader.seen - ids)} disappeared")
                new = ids - reader.seen
                if new and min(new) <= horizon:
                    reader.errors.append(f"id {min(new)} appeared after {horizon} was seen")
                reader.seen |= ids
                for n in {max(ids), rng.choice(sorted(ids))} if ids else ():
                    sql = "SELECT id, v FROM t AS OF TRANSACTION ? ORDER BY id"
                    rows = [tuple(r) for r in db.execute(sql, [n]).rows]
                    first = reader.answers.setdefault(n, rows)
                    if first != rows:
                        reader.errors.append(f"AS OF {n} answered {first}, later {rows}")
            finally:
                if repeatable:
                    db.execute("COMMIT")
            if reader.errors:
                return


@pytest.fixture(scope="module")
def processes() -> Iterator[ProcessPoolExecutor]:
    """Writer processes, started once for the module (each opens its own ChronoDB)."""
    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_concurrent_writers_keep_exact_history(
    pg_url: str, processes: ProcessPoolExecutor, seed: int
) -> None:
    url = pgserver.as_url(pg_url)
    with ChronoDB(url, user="setup") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        db.execute("CREATE TABLE marks (mark TEXT PRIMARY KEY)")
        base = db.execute("INSERT INTO t VALUES (0, 0)").tx_id
    work = plans(seed, THREADS + PROCESSES, 12)
    stop = threading.Event()
    readers = [Reader() for _ in range(READERS)]
    reading = [
        threading.Thread(target=read, args=(url, stop, r, random.Random(seed * 10 + i)))
        for i, r in enumerate(readers)
    ]
    for thread in reading:
        thread.start()
    with ThreadPoolExecutor(THREADS) as threads:
        running: list[Future[tuple[dict[str, Left], dict[str, int]]]] = [
            processes.submit(write, url, w, plan) for w, plan in enumerate(work[:PROCESSES])
        ]
        running += [
            threads.submit(write, url, w, plan)
            for w, plan in enumerate(work[PROCESSES:], PROCESSES)
        ]
        tried: dict[str, Left] = {}
        given: dict[str, int] = {}
        for future in running:
            left, ids = future.result(timeout=120)
            tried.update(left)
            given.update(ids)
    stop.set()
    for thread in reading:
        thread.join(60)
    assert [e for r in readers for e in r.errors] == []
    assert all(len(r.answers) > 1 for r in readers), "the readers read while writers wrote"

    with ChronoDB(url, user="checker", read_only=True) as db:
        ids = sorted(t["tx_id"] for t in db.transactions() if t["tx_id"] > base)
        by_mark = {c["mark"]: c["tx_id"] for c in db.changes("marks")}
        assert sorted(by_mark.values()) == ids, "one mark per committed transaction"
        assert set(by_mark) <= set(tried), "a mark of a transaction rolled back"
        assert given and {m: by_mark[m] for m in given} == given, "an autocommit's tx_id"
        assert len(by_mark) > len(work), "most transactions committed"
        state: dict[int, int] = {0: 0}
        replay = [(base, {}), *sorted((tx, tried[mark]) for mark, tx in by_mark.items())]
        for tx_id, left in replay:
            for key, value in left.items():
                if value is None:
                    state.pop(key, None)
                else:
                    state[key] = value
            sql = "SELECT id, v FROM t AS OF TRANSACTION ? ORDER BY id"
            got = [tuple(r) for r in db.execute(sql, [tx_id]).rows]
            assert got == sorted(state.items()), f"AS OF TRANSACTION {tx_id}"
        now = [tuple(r) for r in db.execute("SELECT id, v FROM t ORDER BY id").rows]
        assert now == sorted(state.items())
        for reader in readers:  # what the readers saw agrees with the replay too
            for n, rows in reader.answers.items():
                assert rows == [tuple(r) for r in db.execute(sql, [n]).rows]


def test_a_repeatable_read_transaction_agrees_with_itself(pg_url: str) -> None:
    """Inside one snapshot, the history calls and AS OF see the same transactions, though
    another one commits between BEGIN and the first read."""
    url = pgserver.as_url(pg_url)
    with ChronoDB(url) as writer, ChronoDB(url) as reader:
        created = writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)").tx_id
        first = writer.execute("INSERT INTO t VALUES (1, 1)").tx_id
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        later = writer.execute("UPDATE t SET v = 2").tx_id
        listed = [t["tx_id"] for t in reader.transactions()]
        sql = "SELECT v FROM t AS OF TRANSACTION ?"
        assert listed == [first, created]
        assert reader.execute(sql, [later]).scalar() == 1
        assert reader.tx_hash(later) is None
        assert [c["after"]["v"] for c in reader.changes("t")] == [1]
        reader.execute("COMMIT")
        assert [t["tx_id"] for t in reader.transactions()] == [later, first, created]
        assert reader.execute(sql, [later]).scalar() == 2
