"""A shop with a history for the pages: orders that change, users they reference.

The shop is a SQLite file; a test (or module) that also asks for the ``backend`` fixture
(``tests/chronodb/conftest.py``) runs once on a file and once on a fresh PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jinja2")

from starlette.testclient import TestClient

from chronodb import ChronoDB
from chronodb.server import create_app


@pytest.fixture
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """users 1-2, orders 1-3; then order 1 ships, Alice's email changes, order 3 goes."""
    if "backend" in request.fixturenames:
        path: Path | str = request.getfixturevalue("backend")
    else:
        path = tmp_path / "shop.db"
    with ChronoDB(path, user="setup") as db:
        from chronodb.server.sample import seed_sample

        seed_sample(db)
    return path


@pytest.fixture
def txs(shop: Path | str) -> list[int]:
    """The shop's transaction ids, oldest first."""
    with ChronoDB(shop) as db:
        return [t["tx_id"] for t in reversed(db.transactions())]


@pytest.fixture
def make_client(shop: Path | str) -> Iterator[Callable[..., TestClient]]:
    opened: list[TestClient] = []

    def make(**options: Any) -> TestClient:
        client = TestClient(create_app(shop, **options))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
