"""ChronoDB on a PostgreSQL hot standby (``read_only=True``): AS OF, the history calls and
the ledger's verification answer as on the primary, and every write is refused.

A primary and its streaming standby of their own (``tests/chronodb/replicas.py``), shared
by the module; each test has its own database on them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from tests.chronodb.replicas import Pair, wait_for_replay

from chronodb import ChronoDB, ChronoDBError, ReadOnlyError

TABLES = ("accounts", "notes")


def _rows(db: ChronoDB, sql: str, params: list | None = None) -> list[tuple]:
    return sorted(tuple(r) for r in db.execute(sql, params))


@pytest.fixture
def dbs(pair_urls: Pair) -> Iterator[tuple[ChronoDB, ChronoDB]]:
    """The primary, written through ChronoDB and raw psycopg, and the standby, read-only,
    once it has replayed everything."""
    primary = ChronoDB(pair_urls.primary, user="alice")
    primary.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL)")
    primary.execute("INSERT INTO accounts VALUES (1, 'ann', 10), (2, 'bob', 20)")
    primary.execute("UPDATE accounts SET balance = balance + 5 WHERE id = 1")
    with primary.transaction():
        primary.execute("DELETE FROM accounts WHERE id = 2")
        primary.execute("INSERT INTO accounts VALUES (3, 'cy', 30)")
    with psycopg.connect(pair_urls.primary, autocommit=True) as raw:
        raw.execute("SET chronodb.\"user\" = 'raw'")
        raw.execute("UPDATE accounts SET owner = 'ann b.' WHERE id = 1")
        raw.execute("INSERT INTO accounts VALUES (4, 'di', 40)")
    primary.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    primary.execute("INSERT INTO notes VALUES (1, 'first')")
    primary.execute("ALTER TABLE notes ADD COLUMN pinned BOOLEAN")
    primary.execute("UPDATE notes SET pinned = true, body = 'edited' WHERE id = 1")
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    standby = ChronoDB(pair_urls.standby, read_only=True)
    yield primary, standby
    standby.close()
    primary.close()


@pytest.mark.filterwarnings("ignore::chronodb.ChronoDBWarning")  # points before a table was
def test_every_point_of_every_table_reads_as_on_the_primary(
    dbs: tuple[ChronoDB, ChronoDB],
) -> None:
    primary, standby = dbs
    log = primary.transactions()
    assert standby.transactions() == log
    top = log[0]["tx_id"]
    for table in TABLES:
        for n in range(top + 2):
            sql = f"SELECT * FROM {table} AS OF TRANSACTION ?"
            assert _rows(standby, sql, [n]) == _rows(primary, sql, [n]), f"{table} AS OF {n}"
        for tx in log:
            sql = f"SELECT * FROM {table} AS OF TIMESTAMP ?"
            at = [tx["tx_time"]]
            assert _rows(standby, sql, at) == _rows(primary, sql, at), f"{table} at {at}"
        every = f"SELECT * FROM {table} FOR SYSTEM_TIME ALL"
        assert _rows(standby, every) == _rows(primary, every)
        assert standby.changes(table) == primary.changes(table)
        assert standby.tables(as_of=top) == primary.tables(as_of=top)
    for pk in (1, 2, 3, 4):
        assert standby.get_change_history("accounts", pk) == primary.get_change_history(
            "accounts", pk
        )
    assert _rows(standby, "SELECT * FROM accounts") == _rows(primary, "SELECT * FROM accounts")


def test_the_ledger_verifies_on_the_standby(dbs: tuple[ChronoDB, ChronoDB]) -> None:
    primary, standby = dbs
    assert standby.verify_audit_integrity()
    report = standby.audit_trail.verify()
    assert report.ok, report
    mine, theirs = standby.audit_trail.digest(), primary.audit_trail.digest()
    assert (mine.tree_size, mine.root) == (theirs.tree_size, theirs.root)
    assert standby.audit_trail.verify_consistency(theirs)
    top = primary.transactions()[0]["tx_id"]
    assert standby.tx_hash(top) == primary.tx_hash(top)


@pytest.mark.parametrize(
    "write",
    [
        lambda db: db.execute("INSERT INTO accounts VALUES (9, 'eve', 0)"),
        lambda db: db.execute("UPDATE accounts SET balance = 0"),
        lambda db: db.execute("CREATE TABLE more (id INTEGER PRIMARY KEY)"),
        lambda db: db.executemany("INSERT INTO notes (id) VALUES (?)", [[7], [8]]),
        lambda db: db.prune_history(time.time()),
        lambda db: db.erase("accounts", 1),
    ],
    ids=["insert", "update", "create", "executemany", "prune", "erase"],
)
def test_writes_on_the_standby_are_refused(dbs: tuple[ChronoDB, ChronoDB], write) -> None:
    _, standby = dbs
    before = _rows(standby, "SELECT * FROM accounts")
    with pytest.raises(ReadOnlyError, match="standby"):
        write(standby)
    assert _rows(standby, "SELECT * FROM accounts") == before


def test_a_standby_opened_for_writing_says_to_open_it_read_only(pair_urls: Pair) -> None:
    ChronoDB(pair_urls.primary).close()
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    with pytest.raises(ReadOnlyError, match="read_only=True"):
        ChronoDB(pair_urls.standby)


def test_a_point_seen_on_the_standby_never_changes(pair_urls: Pair) -> None:
    """Writers commit on the primary while a standby reader reads AS OF the newest point it
    sees and those it saw before: the rows of a point, once read, stay as they were, and are
    the primary's."""
    with ChronoDB(pair_urls.primary) as setup:
        setup.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)")
        setup.execute("INSERT INTO counters VALUES (1, 0), (2, 0), (3, 0)")
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    stop = threading.Event()

    def writer(key: int) -> None:
        with ChronoDB(pair_urls.primary, user=f"w{key}") as db:
            while not stop.is_set():
                db.execute("UPDATE counters SET n = n + 1 WHERE id = ?", [key])
                db.execute("UPDATE counters SET n = n + 1 WHERE id = ?", [(key % 3) + 1])

    threads = [threading.Thread(target=writer, args=(k,)) for k in (1, 2, 3)]
    for t in threads:
        t.start()
    seen: dict[int, list[tuple]] = {}
    deadline = time.monotonic() + 3
    try:
        with ChronoDB(pair_urls.standby, read_only=True) as reader:
            while time.monotonic() < deadline:
                log = reader.transactions(limit=1)  # up to the standby's horizon
                top = log[0]["tx_id"] if log else 0
                for n in {top, *list(seen)[-5:]}:
                    rows = _rows(reader, "SELECT * FROM counters AS OF TRANSACTION ?", [n])
                    assert seen.setdefault(n, rows) == rows, f"AS OF {n} changed"
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    assert len(seen) > 3
    with ChronoDB(pair_urls.primary) as primary:
        for n, rows in seen.items():
            assert _rows(primary, "SELECT * FROM counters AS OF TRANSACTION ?", [n]) == rows


def test_the_command_line_reads_a_standby_and_refuses_its_writes(
    dbs: tuple[ChronoDB, ChronoDB], pair_urls: Pair
) -> None:
    from click.testing import CliRunner

    from chronodb.cli import main

    primary, _ = dbs
    expected = _rows(primary, "SELECT id FROM accounts AS OF TRANSACTION 3")
    read = CliRunner().invoke(
        main,
        ["exec", pair_urls.standby, "SELECT id FROM accounts AS OF TRANSACTION 3", "-f", "json"],
    )
    assert read.exit_code == 0, read.output
    assert sorted((r["id"],) for r in json.loads(read.output)) == expected
    verified = CliRunner().invoke(main, ["verify", pair_urls.standby])
    assert verified.exit_code == 0, verified.output
    written = CliRunner().invoke(main, ["exec", pair_urls.standby, "DELETE FROM accounts"])
    assert written.exit_code != 0 and "standby" in written.output


def test_a_standby_of_an_older_layout_asks_for_the_primary_to_be_opened(
    pair_urls: Pair,
) -> None:
    with ChronoDB(pair_urls.primary) as primary:
        primary.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        primary.execute("INSERT INTO t VALUES (1)")
    with psycopg.connect(pair_urls.primary, autocommit=True) as raw:
        raw.execute("ALTER TABLE _chrono_tx DROP COLUMN settled")
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    with pytest.raises(ChronoDBError, match="open its primary once"):
        ChronoDB(pair_urls.standby, read_only=True)
    ChronoDB(pair_urls.primary).close()  # upgrades
    wait_for_replay(pair_urls.primary, pair_urls.standby)
    with ChronoDB(pair_urls.standby, read_only=True) as standby:
        assert _rows(standby, "SELECT * FROM t AS OF TRANSACTION 2") == [(1,)]
