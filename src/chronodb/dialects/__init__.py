"""Dialects: what differs between the backends ChronoDB runs on (see ``base.py``)."""

from __future__ import annotations

from chronodb.dialects.base import Dialect
from chronodb.dialects.postgres import POSTGRES
from chronodb.dialects.sqlite import SQLITE
from chronodb.storage.urls import is_postgres_url, refuse_conninfo


def for_location(location: str) -> Dialect:
    """The dialect of ``location``: a ``postgresql://``/``postgres://`` URL or a SQLite file
    (ConfigError for a libpq connection string, which would name a new file)."""
    if is_postgres_url(location):
        return POSTGRES
    refuse_conninfo(location)
    return SQLITE


__all__ = ["POSTGRES", "SQLITE", "Dialect", "for_location"]
