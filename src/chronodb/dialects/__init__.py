"""Dialects: what differs between the backends ChronoDB runs on (see ``base.py``)."""

from __future__ import annotations

from chronodb.dialects.base import Dialect
from chronodb.dialects.postgres import POSTGRES
from chronodb.dialects.sqlite import SQLITE
from chronodb.storage.urls import is_postgres_url


def for_location(location: str) -> Dialect:
    """The dialect of ``location``: a ``postgresql://``/``postgres://`` URL or a SQLite file."""
    return POSTGRES if is_postgres_url(location) else SQLITE


__all__ = ["POSTGRES", "SQLITE", "Dialect", "for_location"]
