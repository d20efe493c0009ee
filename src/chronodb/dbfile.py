"""The database a command names: one check and one wording for a missing file."""

from __future__ import annotations

from pathlib import Path

import click

from chronodb.storage.urls import is_postgres_url, redact


def require_file(path: str, *, can_create: bool = False, sqlite_only: str | None = None) -> None:
    """Stop the command unless ``path`` exists (":memory:" always does).

    A ``postgresql://`` URL names a server, which the command reaches when it opens the
    database (an unreachable one is a ServerUnavailableError then); ``sqlite_only``: why a
    command that works on SQLite files alone refuses one. ``can_create``: the command has
    ``--create``, and the message says so.
    """
    if is_postgres_url(path):
        if sqlite_only is None:
            return
        raise click.ClickException(f"{redact(path)}: {sqlite_only}")
    if path == ":memory:" or Path(path).exists():
        return
    hint = "; pass --create to make a new one" if can_create else ""
    raise click.ClickException(f"No such database file: {path}{hint}")
