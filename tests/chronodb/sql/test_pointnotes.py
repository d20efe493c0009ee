"""A time-travel read that only its point makes empty says so; a column the point lacked
says when it came. Every test runs once per backend (``backend_db``, ``conftest.py``)."""

from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner

from chronodb import ChronoDB, ChronoDBWarning, SchemaError
from chronodb.cli import main

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


def test_an_unquoted_date_is_named_as_arithmetic(shop: ChronoDB) -> None:
    with pytest.warns(ChronoDBWarning) as caught:
        result = shop.execute("SELECT * FROM items AS OF TIMESTAMP 2026-12-07")
    assert result.rows == []
    (note,) = result.notes
    assert str(caught[0].message) == note
    assert note.startswith("items AS OF TIMESTAMP '1970-01-01T00:33:27.000000Z' is before")
    first = shop.transactions()[-1]["tx_id"]
    assert f"its first transaction is {first}, at " in note
    assert note.endswith(
        "2026-12-07 without quotes is arithmetic: write AS OF TIMESTAMP '2026-12-07'"
    )
    assert caught[0].filename == __file__  # the warning points at the caller's line


def test_a_point_before_the_first_transaction_names_it(shop: ChronoDB) -> None:
    with pytest.warns(ChronoDBWarning, match=r"items AS OF TRANSACTION 0 is before"):
        assert shop.execute("SELECT * FROM items AS OF TRANSACTION ?", [0]).rows == []
    early = time.time() - 3600
    with pytest.warns(ChronoDBWarning) as caught:
        shop.execute("SELECT * FROM items AS OF TIMESTAMP ?", [early])
    note = str(caught[0].message)
    first = re.search(rf"its first transaction is (\d+), at ({ISO})", note)
    assert first is not None and int(first.group(1)) == shop.transactions()[-1]["tx_id"]
    # Pasted back, the time the note names reads the table as its first transaction left it.
    created = shop.execute(f"SELECT * FROM items AS OF TIMESTAMP '{first.group(2)}'")
    assert created.notes == [] and created.columns == ["id", "name"]


def test_each_table_of_a_join_gets_its_own_note(shop: ChronoDB) -> None:
    shop.execute("CREATE TABLE tags (id INTEGER PRIMARY KEY, item INTEGER)")
    before_tags = shop.transactions(limit=1)[0]["tx_id"] - 1
    with pytest.warns(ChronoDBWarning):
        result = shop.execute(
            "SELECT * FROM items JOIN tags ON tags.item = items.id AS OF TRANSACTION ?",
            [before_tags],
        )
    assert [note.split(" AS OF")[0] for note in result.notes] == ["tags"]


def test_reads_that_find_rows_or_are_empty_for_other_reasons_have_no_note(
    shop: ChronoDB,
) -> None:
    now = shop.execute("SELECT * FROM items AS OF TIMESTAMP ?", [time.time()])
    assert len(now.rows) == 1 and now.notes == []
    missing = shop.execute("SELECT * FROM items AS OF TIMESTAMP ? WHERE id = 99", [time.time()])
    assert missing.rows == [] and missing.notes == []
    shop.execute("DELETE FROM items")
    assert shop.execute("SELECT * FROM items AS OF TIMESTAMP ?", [time.time()]).notes == []


def test_a_column_the_point_lacked_names_the_point_and_when_it_was_added(
    shop: ChronoDB,
) -> None:
    before = shop.transactions()[0]["tx_id"]
    shop.execute("ALTER TABLE items RENAME COLUMN name TO title")
    added = shop.execute("ALTER TABLE items ADD COLUMN price REAL")
    shop.execute("UPDATE items SET price = 2.5")
    with pytest.raises(SchemaError) as info:
        shop.execute("SELECT price FROM items AS OF TRANSACTION ?", [before])
    message = str(info.value)
    assert f"no such column: price in items AS OF TRANSACTION {before};" in message
    assert re.search(rf"price was added in transaction \d+, at {ISO}", message)
    added_tx = int(re.search(r"added in transaction (\d+)", message).group(1))
    assert added_tx <= added.tx_id
    assert info.value.column == "price" and info.value.table == "items"
    assert shop.execute("SELECT price FROM items AS OF TRANSACTION ?", [added_tx]).rows


def test_the_cli_prints_the_note_on_stderr(shop: ChronoDB) -> None:
    path = shop.path
    shop.close()
    result = CliRunner().invoke(
        main, ["exec", path, "SELECT * FROM items AS OF TIMESTAMP 2026-12-07"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("id | name")
    note = result.stderr.strip()
    assert note.startswith("Note: items AS OF TIMESTAMP '1970-01-01T00:33:27.000000Z'")
    assert "Warning" not in result.stderr and len(result.stderr.splitlines()) == 1
