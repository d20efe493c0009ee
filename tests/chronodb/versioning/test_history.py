"""Reading and trimming history: one row's versions, changes between points, pruning, erasure."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chronodb import ChronoDB, ChronoDBError, SchemaError


def rows(db: ChronoDB, sql: str, params: object = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


@pytest.fixture
def accounts(db: ChronoDB) -> dict[str, float]:
    """Open two accounts, pay in, close one; returns when each step committed."""
    db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER)")
    times = {
        "opened": db.execute("INSERT INTO accounts VALUES (1, 'ann', 0), (2, 'ben', 5)").tx_time,
        "paid": db.execute("UPDATE accounts SET balance = balance + 100 WHERE id = 1").tx_time,
        "closed": db.execute("DELETE FROM accounts WHERE id = 2").tx_time,
    }
    return times


# ------------------------------------------------------------ change history
def test_change_history_lists_every_version(db: ChronoDB, accounts: dict[str, float]) -> None:
    history = db.get_change_history("accounts", 1)
    assert [h["operation"] for h in history] == ["INSERT", "UPDATE"]
    first, second = history
    assert first["values"] == {"id": 1, "owner": "ann", "balance": 0}
    assert first["before"] is None
    assert second["before"] == {"id": 1, "owner": "ann", "balance": 0}
    assert second["values"] == second["after"] == {"id": 1, "owner": "ann", "balance": 100}
    assert (first["tx_time"], second["tx_time"]) == (accounts["opened"], accounts["paid"])
    assert first["tx_id"] < second["tx_id"]
    assert {h["user"] for h in history} == {"tester"}


def test_change_history_of_a_deleted_row(db: ChronoDB, accounts: dict[str, float]) -> None:
    history = db.get_change_history("accounts", 2)
    assert [h["operation"] for h in history] == ["INSERT", "DELETE"]
    assert history[-1]["before"] == {"id": 2, "owner": "ben", "balance": 5}
    assert history[-1]["after"] is None
    assert history[-1]["tx_time"] == accounts["closed"]


def test_change_history_of_an_unknown_key_or_table(db: ChronoDB, accounts: dict) -> None:
    assert db.get_change_history("accounts", 99) == []
    with pytest.raises(SchemaError) as info:
        db.get_change_history("nope", 1)
    assert info.value.table == "nope"


@pytest.mark.parametrize("key", [object(), [object()], {"id": 1.5j}])
def test_a_key_that_cannot_be_a_value_is_named(
    db: ChronoDB, accounts: dict[str, float], key: object
) -> None:
    """It used to surface as sqlite3.ProgrammingError from deep inside."""
    for call in (db.get_change_history, db.erase):
        with pytest.raises(ChronoDBError, match="A key of accounts is a number") as info:
            call("accounts", key)
        assert "got " in str(info.value)
    assert len(db.get_change_history("accounts", 1)) == 2


def test_transactions_takes_a_limit_of_zero_or_more(db: ChronoDB, accounts: dict) -> None:
    assert len(db.transactions()) == 4  # CREATE, then the three writes
    assert [len(db.transactions(n)) for n in (0, 1, 10)] == [0, 1, 4]
    for bad in (-1, "2", 1.5, True):
        with pytest.raises(ChronoDBError, match="limit"):
            db.transactions(bad)  # type: ignore[arg-type]
    with pytest.raises(ChronoDBError, match="transaction id is an integer"):
        db.tx_hash("1")  # type: ignore[arg-type]


# ------------------------------------------------------------------ changes
def test_changes_over_everything(db: ChronoDB, accounts: dict[str, float]) -> None:
    changes = db.changes("accounts")
    summary = [(c["operation"], c["id"], c["before"], c["after"]) for c in changes]
    assert summary == [
        ("INSERT", 1, None, {"id": 1, "owner": "ann", "balance": 0}),
        ("INSERT", 2, None, {"id": 2, "owner": "ben", "balance": 5}),
        (
            "UPDATE",
            1,
            {"id": 1, "owner": "ann", "balance": 0},
            {"id": 1, "owner": "ann", "balance": 100},
        ),
        ("DELETE", 2, {"id": 2, "owner": "ben", "balance": 5}, None),
    ]
    assert [c["tx_time"] for c in changes] == [accounts["opened"]] * 2 + [
        accounts["paid"],
        accounts["closed"],
    ]


def test_changes_between_two_points_excludes_the_start(
    db: ChronoDB, accounts: dict[str, float]
) -> None:
    changes = db.changes("accounts", accounts["opened"], accounts["paid"])
    assert [(c["operation"], c["id"]) for c in changes] == [("UPDATE", 1)]
    changes = db.changes("accounts", accounts["paid"])
    assert [(c["operation"], c["id"]) for c in changes] == [("DELETE", 2)]
    assert db.changes("accounts", accounts["closed"]) == []


def test_changes_accept_iso_strings(db: ChronoDB, accounts: dict[str, float]) -> None:
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(accounts["opened"], UTC).isoformat()
    assert [c["operation"] for c in db.changes("accounts", start)] == ["UPDATE", "DELETE"]


def test_changes_in_sql(db: ChronoDB, accounts: dict[str, float]) -> None:
    result = db.execute(
        "SELECT operation, id FROM chrono_changes('accounts', ?, ?)",
        [accounts["opened"], accounts["closed"]],
    )
    assert [tuple(r) for r in result] == [("UPDATE", 1), ("DELETE", 2)]


# ------------------------------------------------------------------ pruning
def test_prune_history_keeps_later_points(db: ChronoDB, accounts: dict[str, float]) -> None:
    now = rows(db, "SELECT * FROM accounts FOR SYSTEM_TIME AS OF ? ORDER BY id", [accounts["paid"]])
    removed = db.prune_history(accounts["paid"])
    # ann's first version ended at "paid"; ben's versions are kept until he closed
    assert removed == 1
    assert (
        rows(db, "SELECT * FROM accounts AS OF TIMESTAMP ? ORDER BY id", [accounts["paid"]]) == now
    )
    assert [h["operation"] for h in db.get_change_history("accounts", 1)] == ["INSERT"]
    assert db.get_change_history("accounts", 1)[0]["values"]["balance"] == 100
    assert rows(db, "SELECT * FROM accounts ORDER BY id") == [(1, "ann", 100)]


def test_prune_everything_before_now_keeps_current_rows(
    db: ChronoDB, accounts: dict[str, float]
) -> None:
    db.prune_history(time.time() + 1)
    assert db.get_change_history("accounts", 2) == []
    assert rows(db, "SELECT * FROM accounts FOR SYSTEM_TIME ALL") == [
        (1, "ann", 100, accounts["paid"], None)
    ]
    db.execute("UPDATE accounts SET balance = 1")
    assert [h["operation"] for h in db.get_change_history("accounts", 1)] == ["INSERT", "UPDATE"]


def test_prune_leaves_no_trace_of_a_key_whose_history_went(db: ChronoDB) -> None:
    """A key is data too: once every version of it is pruned, the key set forgets it."""
    db.execute("CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))")
    db.execute("INSERT INTO pairs VALUES ('x', 1, 'kept'), ('y', 2, 'gone')")
    deleted = db.execute("DELETE FROM pairs WHERE a = 'y'").tx_time
    db.execute("INSERT INTO pairs VALUES ('y', 3, 'later')")
    assert db.prune_history(deleted) == 2
    keys = rows(db, "SELECT a, b FROM _chrono_k1_pairs ORDER BY a, b")
    assert keys == [("x", 1), ("y", 3)]
    assert rows(db, "SELECT * FROM pairs AS OF TIMESTAMP ? ORDER BY a", [deleted]) == [
        ("x", 1, "kept")
    ]
    assert rows(db, "SELECT * FROM pairs ORDER BY a") == [("x", 1, "kept"), ("y", 3, "later")]


def test_retention_days_prunes_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.db"
    real = time.time_ns
    # the file is made, and these transactions happen, ten days ago
    monkeypatch.setattr(time, "time_ns", lambda: real() - 10 * 86400 * 10**9)
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        db.execute("INSERT INTO t VALUES (1, 0)")
        db.execute("UPDATE t SET v = 1")
        monkeypatch.setattr(time, "time_ns", real)
        db.execute("UPDATE t SET v = 2")
    with ChronoDB(path, retention_days=30) as kept:
        assert [h["values"]["v"] for h in kept.get_change_history("t", 1)] == [0, 1, 2]
    with ChronoDB(path, retention_days=5) as pruned:
        assert [h["values"]["v"] for h in pruned.get_change_history("t", 1)] == [1, 2]
        assert pruned.apply_retention() == 0
        assert rows(pruned, "SELECT v FROM t") == [(2,)]


# ------------------------------------------------------------------ erasure
def test_erase_removes_row_and_history(db: ChronoDB, accounts: dict[str, float]) -> None:
    removed = db.erase("accounts", 1, reason="GDPR request")
    assert removed == 2
    assert rows(db, "SELECT * FROM accounts") == []
    assert db.get_change_history("accounts", 1) == []
    assert rows(db, "SELECT * FROM accounts FOR SYSTEM_TIME ALL WHERE id = 1") == []
    assert rows(db, "SELECT id FROM _chrono_k1_accounts") == [(2,)]  # the key is gone too
    assert rows(db, "SELECT * FROM accounts AS OF TIMESTAMP ?", [accounts["paid"]]) == [
        (2, "ben", 5)
    ]
    record = db.execute("SELECT table_name, row_key, versions, user, reason FROM _chrono_erasures")
    assert [tuple(r) for r in record] == [("accounts", "[1]", 2, "tester", "GDPR request")]


def test_erase_a_deleted_row(db: ChronoDB, accounts: dict[str, float]) -> None:
    assert db.erase("accounts", 2) == 2
    assert db.get_change_history("accounts", 2) == []
    assert rows(db, "SELECT count(*) FROM accounts AS OF TIMESTAMP ?", [accounts["opened"]]) == [
        (1,)
    ]


def test_erase_by_rowid(db: ChronoDB) -> None:
    """A composite key: tests/chronodb/test_backends_maintenance.py, on both backends."""
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('keep'), ('secret')")
    assert db.erase("notes", 2) == 1
    assert rows(db, "SELECT body FROM notes FOR SYSTEM_TIME ALL") == [("keep",)]


def test_changes_of_a_table_without_primary_key_name_the_rowid(db: ChronoDB) -> None:
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('a'), ('b')")
    db.execute("UPDATE notes SET body = 'c' WHERE rowid = 2")
    changes = db.changes("notes")
    assert [(c["operation"], c["rowid"], c["after"]) for c in changes] == [
        ("INSERT", 1, {"body": "a"}),
        ("INSERT", 2, {"body": "b"}),
        ("UPDATE", 2, {"body": "c"}),
    ]
    assert not any(name.startswith("_chrono") for c in changes for name in c)


def test_changes_show_the_columns_each_version_had(db: ChronoDB) -> None:
    db.execute("CREATE TABLE cols (id INTEGER PRIMARY KEY, a TEXT)")
    db.execute("INSERT INTO cols VALUES (1, 'x')")
    db.execute("ALTER TABLE cols ADD COLUMN b INTEGER DEFAULT 7")
    db.execute("UPDATE cols SET a = 'y' WHERE id = 1")
    db.execute("ALTER TABLE cols DROP COLUMN a")
    db.execute("UPDATE cols SET b = 8 WHERE id = 1")
    changes = [(c["before"], c["after"]) for c in db.changes("cols")]
    assert changes == [
        (None, {"id": 1, "a": "x"}),
        ({"id": 1, "a": "x"}, {"id": 1, "a": "y", "b": 7}),
        ({"id": 1, "a": "y", "b": 7}, {"id": 1, "b": 8}),
    ]
    history = [h["values"] for h in db.get_change_history("cols", 1)]
    assert history == [after for _, after in changes]


def test_changes_carry_blob_values_as_bytes(db: ChronoDB) -> None:
    db.execute("CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB)")
    db.execute("INSERT INTO files VALUES (1, ?)", [b"\x00\x01"])
    db.execute("UPDATE files SET data = ? WHERE id = 1", [b"\xff"])
    (inserted, updated) = db.changes("files")
    assert inserted["after"] == {"id": 1, "data": b"\x00\x01"}
    assert updated["before"]["data"] == b"\x00\x01" and updated["after"]["data"] == b"\xff"
    raw = db.execute("SELECT after FROM chrono_changes('files', 0)").fetchall()
    assert raw[-1]["after"] == '{"id":1,"data":{"$hex":"FF"}}'


def test_erase_and_prune_a_key_holding_a_null_leave_no_copy_of_it(db: ChronoDB) -> None:
    db.execute("CREATE TABLE c (a TEXT, b TEXT, v, PRIMARY KEY (a, b))")
    db.execute("INSERT INTO c VALUES ('secret', NULL, 1), ('gone', NULL, 2), ('kept', 'x', 3)")
    deleted = db.execute("DELETE FROM c WHERE a = 'gone'").tx_time
    db.erase("c", ("secret", None))
    assert db.prune_history(deleted) == 2
    held = db.connection.execute(
        "SELECT name FROM sqlite_schema WHERE name GLOB '_chrono_[kn]*_c'"
    ).fetchall()
    assert len(held) == 2
    for (table,) in held:
        assert rows(db, f'SELECT a FROM "{table}" ORDER BY a') in ([], [("kept",)]), table
    assert [tuple(r) for r in db.execute("SELECT * FROM c")] == [("kept", "x", 3)]
    assert db.check_history() == []


def test_columns_named_user_and_tx_time_are_values_not_the_record(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, user TEXT, tx_time TEXT)")
    done = db.execute("INSERT INTO t VALUES (1, 'mallory', 'noon')")
    [entry] = db.get_change_history("t", 1)
    assert (entry["user"], entry["tx_time"]) == ("tester", done.tx_time)
    assert entry["values"] == {"id": 1, "user": "mallory", "tx_time": "noon"}
