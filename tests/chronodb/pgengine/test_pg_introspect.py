"""db.foreign_keys(table) on PostgreSQL: the same answers as on a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB
from chronodb.errors import SchemaError
from chronodb.introspect import ForeignKey


@pytest.fixture
def db(pg_url: str) -> Iterator[ChronoDB]:
    database = ChronoDB(pgserver.as_url(pg_url))
    yield database
    database.close()


def test_foreign_keys_with_their_actions_in_declared_order(db: ChronoDB) -> None:
    db.execute("CREATE TABLE shops (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE skus (shop INT, code TEXT, PRIMARY KEY (shop, code))")
    db.execute(
        "CREATE TABLE lines (id INTEGER PRIMARY KEY, shop INT REFERENCES shops ON DELETE CASCADE,"
        " s INT, c TEXT, FOREIGN KEY (s, c) REFERENCES skus (shop, code) ON UPDATE SET NULL)"
    )
    assert db.foreign_keys("lines") == [
        ForeignKey("lines", ("shop",), "shops", ("id",), "NO ACTION", "CASCADE"),
        ForeignKey("lines", ("s", "c"), "skus", ("shop", "code"), "SET NULL", "NO ACTION"),
    ]
    assert db.foreign_keys("shops") == []


def test_foreign_keys_of_a_missing_table_name_it(db: ChronoDB) -> None:
    with pytest.raises(SchemaError, match="nowhere") as info:
        db.foreign_keys("nowhere")
    assert info.value.table == "nowhere"
