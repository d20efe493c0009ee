"""Copying a database with its full history and audit ledger to another place or backend.

``copy_database(source, destination)`` writes into an empty destination everything the
source answers about its past: every version of every row with the transaction that wrote
it (same ids, times and users), the tables' shapes over time (ALTERed and dropped tables),
the views' definitions over time, erasures, saved digests, and the ledger's leaves byte for
byte, so the copy's Merkle root is the source's. Afterwards it verifies the copy and checks
that its root is the source's.

- SQLite file to SQLite file: SQLite's online backup into a temporary file beside the
  destination, moved into place only once complete (never over an existing file).
- SQLite file to PostgreSQL: one transaction (``postgres_target.py``, over the layout's
  loader ``postgres/load.py``); a failure leaves the schema as it was.

The destination must be new: a file that does not exist (or is empty), or a PostgreSQL
schema with no tables or views and no recorded transactions; anything else is refused with
a :class:`~chronodb.errors.CopyError` naming it, before anything is written.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chronodb.copy.model import Progress
from chronodb.database import ChronoDB, engine_of
from chronodb.errors import CopyError, NotSupportedError
from chronodb.storage.urls import is_postgres_url, redact

__all__ = ["CopyReport", "copy_database"]


@dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_database` copied: transactions, versions, and the ledger's size and
    root (hex), the same in the source and the copy."""

    source: str
    destination: str
    transactions: int
    versions: int
    tree_size: int
    root: str


def _name(location: str) -> str:
    return redact(location) if is_postgres_url(location) else location


def copy_database(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy the database at ``source`` to the new database ``destination`` (a file path or
    a ``postgresql://`` URL), with its history and ledger; ``progress`` is called with
    (versions copied, versions in all) as it goes. Raises CopyError if the destination is
    not empty or the copy cannot be exact; the destination is then left as it was."""
    src, dst = str(source), str(destination)
    if is_postgres_url(src):
        raise NotSupportedError("copying from a PostgreSQL database", "PostgreSQL")

    def refuse(message: str) -> CopyError:
        return CopyError(message, source=_name(src), destination=_name(dst))

    if not is_postgres_url(src) and not Path(src).is_file():
        raise refuse(f"no such database file: {src}")
    with ChronoDB(src, read_only=True) as db:
        before = db.audit_trail.digest(save=False)
        transactions = len(db.transactions())
    if is_postgres_url(dst):
        versions = _to_postgres(src, dst, progress, refuse)
    else:
        versions = _to_file(src, dst, progress, refuse)
    with ChronoDB(dst) as copy:
        ok = copy.verify_audit_integrity()
        after = copy.audit_trail.digest(save=False)
    if not ok or (after.tree_size, after.root) != (before.tree_size, before.root):
        raise refuse(
            f"the copy at {_name(dst)} does not verify against the source's ledger "
            f"(source root {before.root} of {before.tree_size} leaves, copy root "
            f"{after.root} of {after.tree_size}); check it with `chronodb verify`"
        )
    return CopyReport(_name(src), _name(dst), transactions, versions, after.tree_size, after.root)


def _to_file(src: str, dst: str, progress: Progress | None, refuse) -> int:  # type: ignore[no-untyped-def]
    target = Path(dst)
    if target.exists() and target.stat().st_size > 0:
        raise refuse(f"destination {dst} exists and is not empty; a copy never overwrites")
    directory = target.resolve().parent
    if not directory.is_dir():
        raise refuse(f"destination {dst}: no such directory {directory}")
    handle, temporary = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=directory)
    os.close(handle)
    try:
        reader = sqlite3.connect(f"file:{Path(src).resolve()}?mode=ro", uri=True)
        writer = sqlite3.connect(temporary)
        try:

            def step(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            reader.backup(writer, pages=1024, progress=step)
        finally:
            writer.close()
            reader.close()
        if target.exists():
            if target.stat().st_size > 0:
                raise refuse(f"destination {dst} was written during the copy; left alone")
            target.unlink()
        os.link(temporary, target)  # fails rather than replace a file made meanwhile
    except OSError as err:
        raise refuse(f"cannot write {dst}: {err}") from err
    finally:
        Path(temporary).unlink(missing_ok=True)
    with ChronoDB(dst, read_only=True) as copy:
        return _versions(copy)


def _versions(db: ChronoDB) -> int:
    """How many versions the history of ``db`` holds."""
    from chronodb.copy.sqlite_source import read

    with read(db) as dump:
        return dump.total_versions


def _to_postgres(src: str, dst: str, progress: Progress | None, refuse) -> int:  # type: ignore[no-untyped-def]
    import psycopg

    from chronodb.copy import postgres_target, sqlite_source
    from chronodb.postgres import load
    from chronodb.storage.postgres import PostgresBackend

    # Checked before ChronoDB opens the destination, which would adopt the tables it found.
    probe = PostgresBackend(dst)
    try:
        held = load.held(probe.conn, probe.schema)
    finally:
        probe.close()
    if held:
        raise refuse(
            f"destination {_name(dst)} (schema {probe.schema}) is not empty: it holds "
            f"{', '.join(held)}; a copy never overwrites"
        )
    with ChronoDB(src, read_only=True) as source, ChronoDB(dst) as target:
        engine = engine_of(target)
        schema = engine.backend.schema
        with engine.lock, sqlite_source.read(source) as dump:
            if load.held(engine.conn, schema):  # filled meanwhile
                raise refuse(f"destination {_name(dst)} was written to meanwhile; left alone")
            try:
                postgres_target.write(engine.conn, schema, dump, progress)
            except postgres_target.Refused as err:
                raise refuse(str(err)) from err
            except psycopg.Error as err:
                raise refuse(f"writing {_name(dst)} failed, nothing was kept: {err}") from err
            return dump.total_versions
