"""The database file a command names: one check and one wording for a missing file."""

from __future__ import annotations

from pathlib import Path

import click

from chronodb.storage.urls import is_postgres_url, redact


def require_file(path: str, *, can_create: bool = False) -> None:
    """Stop the command unless ``path`` exists (":memory:" always does).

    ``can_create``: the command has ``--create``, and the message says so.
    """
    if is_postgres_url(path):
        raise click.ClickException(
            f"{redact(path)}: the command line is not supported on PostgreSQL yet; "
            "open the URL with ChronoDB(...) from Python"
        )
    if path == ":memory:" or Path(path).exists():
        return
    hint = "; pass --create to make a new one" if can_create else ""
    raise click.ClickException(f"No such database file: {path}{hint}")
