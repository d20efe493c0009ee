"""A fresh database on a PostgreSQL server for one benchmark run, dropped after it."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from urllib.parse import urlsplit


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str = "chronodb_bench") -> Iterator[str]:
    """The URL of a new, empty database on the server ``server_url`` names."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(server_url)._replace(path="/" + name).geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
