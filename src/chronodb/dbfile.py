"""The database file a command names: one check and one wording for a missing file."""

from __future__ import annotations

from pathlib import Path

import click


def require_file(path: str, *, can_create: bool = False) -> None:
    """Stop the command unless ``path`` exists (":memory:" always does).

    ``can_create``: the command has ``--create``, and the message says so.
    """
    if path == ":memory:" or Path(path).exists():
        return
    hint = "; pass --create to make a new one" if can_create else ""
    raise click.ClickException(f"No such database file: {path}{hint}")
