"""A damaged file is reported, never answered from wrongly: byte edits on copies of a file."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from chronodb import ChronoDB, CorruptDatabaseError, NotADatabaseError
from chronodb.audit.trail import Digest

KEY_INDEX = "SELECT name, rootpage FROM sqlite_schema WHERE type = 'index' AND name LIKE '%key'"
SIZES = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 7: 8, 8: 0, 9: 0}


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    for k in range(9):
        byte = data[i + k]
        if k == 8:
            return (value << 8) | byte, i + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i + k + 1
    raise AssertionError("unreachable")


def index_entries(data: bytes, page: int, page_size: int) -> list[list[tuple[int, int]]]:
    """Each entry of a one-page (leaf) index: its values as (offset in the file, serial type)."""
    base = (page - 1) * page_size
    assert data[base] == 0x0A, "expected a leaf index page"
    entries = []
    for cell in range(int.from_bytes(data[base + 3 : base + 5], "big")):
        at = base + int.from_bytes(data[base + 8 + 2 * cell : base + 10 + 2 * cell], "big")
        _, start = _varint(data, at)  # the payload's size
        header, i = _varint(data, start)
        types = []
        while i < start + header:
            serial, i = _varint(data, i)
            types.append(serial)
        values, offset = [], start + header
        for serial in types:
            values.append((offset, serial))
            offset += SIZES.get(serial, (serial - 12) // 2)
        entries.append(values)
    return entries


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    """A small closed file: five accounts, twenty updates, one page per b-tree."""
    path = tmp_path / "bank.db"
    with ChronoDB(path, user="teller") as db:
        db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)")
        for i in range(1, 6):
            db.execute("INSERT INTO accounts VALUES (?, 100)", (i,))
        for k in range(20):
            db.execute("UPDATE accounts SET balance = balance + 1 WHERE id = ?", (k % 5 + 1,))
    return path


def _copy(path: Path, name: str) -> Path:
    target = path.with_name(name)
    shutil.copyfile(path, target)
    return target


def _flip_key_index_entry(path: Path) -> Path:
    """A copy whose history key index has one entry pointing at the neighbouring version."""
    with sqlite3.connect(path) as conn:
        (name, root), *_ = conn.execute(KEY_INDEX).fetchall()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    assert name.startswith("_chrono_h")
    data = bytearray(path.read_bytes())
    entries = index_entries(data, root, page_size)
    # The second version of account 1: (id, tx, rowid) with the rowid one byte long.
    offset, serial = entries[1][2]
    assert serial == 1
    data[offset] ^= 1
    damaged = path.with_name("flipped.db")
    damaged.write_bytes(data)
    return damaged


def _balances(db: ChronoDB) -> list[tuple]:
    return [
        tuple(r)
        for tx in [t["tx_id"] for t in db.transactions()]
        for r in db.execute(
            "SELECT ?, balance FROM accounts AS OF TRANSACTION ? WHERE id = 1", [tx, tx]
        )
    ]


def test_a_flipped_bit_in_the_history_key_index_is_reported(bank: Path) -> None:
    damaged = _flip_key_index_entry(bank)
    with ChronoDB(bank, read_only=True) as intact, ChronoDB(damaged) as db:
        assert _balances(db) != _balances(intact)  # the damage makes AS OF answer wrongly
        report = db.audit_trail.verify()
        assert not report.ok
        assert report.first_problem is not None
        assert report.first_problem.kind == "file damaged"
        assert "_key" in report.first_problem.detail
        assert "file damaged" in report.summary()
        problems = db.check_history()
        assert problems and "_key" in problems[0]
        # quick_check reads the pages only; it runs, and says so in a report, not a raise
        assert db.audit_trail.verify(quick=True).checked["file"] == 1
        assert isinstance(db.check_history(quick=True), list)
        assert not db.verify_audit_integrity()


def test_an_intact_file_passes_both_checks(bank: Path) -> None:
    with ChronoDB(bank) as db:
        for quick in (False, True):
            assert db.audit_trail.verify(quick=quick).ok
            assert db.check_history(quick=quick) == []


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    before = path.read_bytes()
    with pytest.raises(NotADatabaseError) as info:
        ChronoDB(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)
    assert path.read_bytes() == before


def _page_of(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", (table,))
        page = root.fetchone()[0]
    conn.close()
    return page


def _scramble_page(path: Path, page: int, name: str) -> Path:
    """A copy with the cells of ``page`` overwritten (its header kept)."""
    data = bytearray(path.read_bytes())
    base = (page - 1) * 4096
    data[base + 200 : base + 4096] = bytes((i * 37 + 11) % 256 for i in range(3896))
    damaged = path.with_name(name)
    damaged.write_bytes(data)
    return damaged


def test_verify_and_check_history_report_a_malformed_history_page(bank: Path) -> None:
    with sqlite3.connect(bank) as conn:
        hist = conn.execute(KEY_INDEX).fetchone()[0][: -len("_key")]
    conn.close()
    damaged = _scramble_page(bank, _page_of(bank, hist), "scrambled.db")
    with ChronoDB(damaged) as db:
        report = db.audit_trail.verify()
        assert not report.ok
        assert report.first_problem is not None
        assert report.first_problem.kind == "file damaged"
        assert any("malformed" in p.detail or hist in p.detail for p in report.problems)
        assert any("damaged" in p for p in db.check_history())


def test_opening_a_malformed_schema_says_the_file_is_damaged(bank: Path) -> None:
    damaged = _scramble_page(bank, 1, "schema.db")
    with pytest.raises(CorruptDatabaseError) as info:
        ChronoDB(damaged)
    assert str(damaged) in str(info.value)


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        ("UPDATE _chrono_schema SET keys = '[oops'", "_chrono_schema"),
        ("UPDATE _chrono_schema SET columns = '{\"a\": 1}'", "_chrono_schema"),
        ("UPDATE _chrono_schema SET hist = X'6869'", "_chrono_schema"),
        ("UPDATE _chrono_meta SET value = 'eight' WHERE key = 'format'", "format"),
        ("UPDATE _chrono_meta SET value = 'x' WHERE key = 'origin'", "origin"),
    ],
)
def test_damaged_chronodb_metadata_is_named_on_open(bank: Path, edit: str, names: str) -> None:
    damaged = _copy(bank, "meta.db")
    with sqlite3.connect(damaged) as conn:
        conn.execute(edit)
    conn.close()
    with pytest.raises(CorruptDatabaseError) as info:
        ChronoDB(damaged)
    assert names in str(info.value)
    assert "metadata is damaged" in str(info.value)


def test_a_torn_wal_gives_an_earlier_state_and_the_exported_digest_catches_it(
    tmp_path: Path,
) -> None:
    """SQLite keeps the last whole commit of a WAL cut mid-frame; only a digest kept elsewhere
    can tell that later transactions are gone."""
    path = tmp_path / "wal.db"
    db = ChronoDB(path)
    try:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(10):
            db.execute("INSERT INTO t VALUES (?, ?)", (i, "x" * 500))
        exported = db.audit_trail.export_digest(tmp_path / "digest.json")
        wal = path.with_name(path.name + "-wal")
        image, log = path.read_bytes(), wal.read_bytes()  # before any checkpoint
    finally:
        db.close()
    copy = tmp_path / "copy.db"
    copy.write_bytes(image)
    # A frame after the fourth commit from the end is cut in half: the commits after it
    # are lost. A frame's header (24 bytes) holds, at 4, the file's size after a commit.
    frame = 24 + int.from_bytes(log[8:12], "big")
    frames = (len(log) - 32) // frame
    commits = [f for f in range(frames) if int.from_bytes(log[36 + f * frame : 40 + f * frame])]
    assert len(commits) >= 4
    cut = 32 + (commits[-4] + 1) * frame + frame // 2
    copy.with_name(copy.name + "-wal").write_bytes(log[:cut])
    with ChronoDB(copy) as torn:
        rows = torn.execute("SELECT count(*) FROM t").scalar()
        assert rows < 10
        assert torn.audit_trail.verify().ok  # an earlier state, consistent in itself
        assert torn.check_history() == []
        saved = Digest.load(tmp_path / "digest.json")
        assert saved == exported
        assert not torn.audit_trail.verify_consistency(saved)
