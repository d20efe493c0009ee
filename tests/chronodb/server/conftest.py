"""A real server on a free loopback port over a temporary database, and clients for it.

The database is a SQLite file; a test (or module) that also asks for the ``backend`` fixture
(``tests/chronodb/conftest.py``) runs once on a file and once on a fresh PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("websockets")

from chronodb import ChronoDB
from chronodb.server import BackgroundServer

SCHEMA = (
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, total REAL)",
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
)


@pytest.fixture
def db_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The served database: a file, or the ``backend`` fixture's location if the test uses it."""
    if "backend" in request.fixturenames:
        path: Path | str = request.getfixturevalue("backend")
    else:
        path = tmp_path / "shop.db"
    with ChronoDB(path, user="setup") as db:
        for statement in SCHEMA:
            db.execute(statement)
    return path


@pytest.fixture
def writer(db_path: Path | str) -> Iterator[ChronoDB]:
    """Another connection to the same database, as another program would write it."""
    db = ChronoDB(db_path, user="writer")
    yield db
    db.close()


@pytest.fixture
def start_server(db_path: Path | str) -> Iterator[Callable[..., BackgroundServer]]:
    """Start a server with options; every server started is stopped after the test."""
    started: list[BackgroundServer] = []

    def start(**options: Any) -> BackgroundServer:
        server = BackgroundServer(db_path, port=0, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., BackgroundServer]) -> BackgroundServer:
    return start_server()
