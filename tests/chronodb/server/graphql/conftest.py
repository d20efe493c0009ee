"""A shop database (users, orders referencing users) and a GraphQL service over it.

The shop is a SQLite file; a test (or module) that also asks for the ``backend`` fixture
(``tests/chronodb/conftest.py``) runs once on a file and once on a fresh PostgreSQL database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("graphql")
pytest.importorskip("starlette")

from chronodb import ChronoDB
from chronodb.server.graphql.service import GraphQLService


class Shop:
    """The shop's database and the transactions that built it."""

    def __init__(self, db: ChronoDB) -> None:
        self.db = db
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
        db.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), "
            "total REAL, status TEXT)"
        )
        self.tx_users = db.execute(
            "INSERT INTO users VALUES (1, 'Alice', 'alice@email.com'), (2, 'Bob', 'bob@x.org'), "
            "(3, 'Carol', NULL)"
        ).tx_id
        self.tx_orders = db.execute(
            "INSERT INTO orders VALUES (10, 1, 25.5, 'shipped'), (11, 1, 100.0, 'pending'), "
            "(12, 2, 7.25, 'shipped'), (13, 3, 60.0, 'cancelled')"
        ).tx_id
        self.before_changes = time.time()
        time.sleep(0.002)
        self.tx_rename = db.execute("UPDATE users SET name = 'Alicia' WHERE id = 1").tx_id
        self.tx_new_order = db.execute("INSERT INTO orders VALUES (14, 1, 5.0, 'pending')").tx_id


@pytest.fixture
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    if "backend" in request.fixturenames:
        location: Path | str = request.getfixturevalue("backend")
    else:
        location = tmp_path / "shop.db"
    db = ChronoDB(location, user="tester")
    yield Shop(db)
    db.close()


@pytest.fixture
def service(shop: Shop) -> GraphQLService:
    return GraphQLService(shop.db)


@pytest.fixture
def gql(service: GraphQLService) -> Any:
    """Run an operation that must succeed; returns its data."""

    def run(query: str, variables: dict[str, Any] | None = None) -> Any:
        result = service.run(query, variables)
        assert result.errors is None, result.errors
        return result.data

    return run
