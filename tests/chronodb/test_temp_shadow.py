"""A TEMP table with a versioned table's name: ChronoDB keeps to the file's table.

SQLite looks an unqualified name up among a connection's TEMP tables first, so ChronoDB's
own SQL names the file's tables as ``main.``; the user's statements name what they mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chronodb import ChronoDB
from chronodb.database import engine_of


def _work(db: ChronoDB, shadow: bool) -> list[int]:
    """The same writes to the file's table ``t``, with or without a TEMP ``t`` in the way;
    returns the transactions."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    if shadow:
        db.execute("CREATE TEMP TABLE t (x)")
        db.execute("INSERT INTO temp.t VALUES ('temporary')")
    return [
        db.execute("INSERT INTO main.t VALUES (1, 'ann'), (2, 'ben')").tx_id,
        db.execute("UPDATE main.t SET name = 'cy' WHERE id = 1").tx_id,
        db.execute("DELETE FROM main.t WHERE id = 2").tx_id,
        db.execute("INSERT INTO main.t VALUES (3, 'dee')").tx_id,
    ]


def _seen(db: ChronoDB, txs: list[int]) -> dict[str, Any]:
    def plain(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(e["operation"], e["values"], e["before"]) for e in entries]

    return {
        "as of": [
            [tuple(r) for r in db.execute("SELECT * FROM t AS OF TRANSACTION ? ORDER BY id", [tx])]
            for tx in txs
        ],
        "history": [plain(db.get_change_history("t", key)) for key in (1, 2, 3)],
        "changes": [(c["operation"], c["before"], c["after"]) for c in db.changes("t")],
        "check": db.check_history(),
        "verify": db.verify_audit_integrity(),
    }


@pytest.mark.parametrize("path", [":memory:", "file"])
def test_a_temp_table_does_not_hide_the_versioned_one(tmp_path: Path, path: str) -> None:
    where = path if path == ":memory:" else str(tmp_path / "{}.db")
    plain, shadowed = (ChronoDB(where.format(n)) for n in ("plain", "shadowed"))
    expected = _seen(plain, _work(plain, shadow=False))
    assert expected["as of"][-1] == [(1, "cy"), (3, "dee")]
    assert expected["check"] == [] and expected["verify"] is True
    assert _seen(shadowed, _work(shadowed, shadow=True)) == expected
    assert [tuple(r) for r in shadowed.execute("SELECT * FROM t")] == [("temporary",)]
    plain.close()
    shadowed.close()


def test_erase_removes_the_versioned_row_not_the_temp_one(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO t VALUES (1, 'ann')")
    db.execute("CREATE TEMP TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO temp.t VALUES (1, 'temporary')")
    db.erase("t", 1)
    assert db.execute("SELECT count(*) FROM main.t").scalar() == 0
    assert [tuple(r) for r in db.execute("SELECT * FROM temp.t")] == [(1, "temporary")]
    assert db.check_history() == []
    assert db.verify_audit_integrity() is True


def test_ddl_on_the_temp_table_leaves_the_versioned_one_alone(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    tx = db.execute("INSERT INTO t VALUES (1, 'ann')").tx_id
    db.execute("CREATE TEMP TABLE t (x)")
    db.execute("ALTER TABLE t ADD COLUMN y")  # SQLite alters the TEMP table
    db.execute("DROP TABLE t")  # and drops it
    db.execute("CREATE TABLE temp.u (z)")  # a TEMP table by its schema's name
    assert db.tables() == ["t"]
    db.execute("UPDATE t SET name = 'ben'")
    assert [tuple(r) for r in db.execute("SELECT * FROM t AS OF TRANSACTION ?", [tx])] == [
        (1, "ann")
    ]
    assert [e["values"]["name"] for e in db.get_change_history("t", 1)] == ["ann", "ben"]
    assert db.check_history() == []
    assert db.verify_audit_integrity() is True


def test_temp_tables_named_like_chronodbs_own_change_nothing(tmp_path: Path) -> None:
    db = ChronoDB(tmp_path / "f.db")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    tx = db.execute("INSERT INTO t VALUES (1, 'ann')").tx_id
    for name in ("_chrono_tx", "_chrono_meta", "_chrono_schema", "_chrono_merkle"):
        engine_of(db).conn.execute(f"CREATE TEMP TABLE {name} (x)")
    db.execute("UPDATE t SET name = 'ben'")
    db.execute("ALTER TABLE t ADD COLUMN note TEXT")
    db.execute("UPDATE t SET note = 'n'")
    assert [tuple(r) for r in db.execute("SELECT * FROM t AS OF TRANSACTION ?", [tx])] == [
        (1, "ann")
    ]
    assert len(db.get_change_history("t", 1)) == 3
    assert db.check_history() == []
    assert db.verify_audit_integrity() is True
    db.close()
    again = ChronoDB(tmp_path / "f.db")
    assert again.check_history() == []
    assert again.verify_audit_integrity() is True
    again.close()
