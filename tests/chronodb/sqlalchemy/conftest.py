"""SQLAlchemy engines over ChronoDB for the dialect's tests, on each backend, disposed
afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine
from tests.chronodb.sqlalchemy.models import Base


def sqlalchemy_url(location: str) -> str:
    """The SQLAlchemy URL of a ChronoDB location (a SQLite path or a postgresql:// URL)."""
    if location.startswith("postgresql://"):
        return "postgresql+chronodb://" + location.removeprefix("postgresql://")
    return f"sqlite+chronodb:///{location}"


@pytest.fixture
def sa_url(backend: str) -> str:
    """A fresh database on each backend, as a SQLAlchemy URL."""
    return sqlalchemy_url(backend)


@pytest.fixture
def engine(sa_url: str) -> Iterator[Engine]:
    """An engine on a fresh database of each backend."""
    made = create_engine(sa_url)
    yield made
    made.dispose()


@pytest.fixture
def shop(engine: Engine) -> Engine:
    """``engine`` with the users and orders tables created (versioned) and empty."""
    Base.metadata.create_all(engine)
    return engine
