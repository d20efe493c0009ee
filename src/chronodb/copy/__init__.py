"""Copying a database with its full history and audit ledger to another place or backend.

``copy_database(source, destination)`` writes into an empty destination everything the
source answers about its past: every version of every row with the transaction that wrote
it (same ids, times and users), the tables' shapes over time (ALTERed and dropped tables),
the views' definitions over time, erasures, saved digests, and the ledger's leaves byte for
byte, so the copy's Merkle root is the source's. Afterwards it verifies the copy and checks
that its root is the source's.

- SQLite file to SQLite file: SQLite's online backup.
- Into PostgreSQL (from either): one transaction (``postgres_target.py``, over the layout's
  loader ``postgres/load.py``); a failure writes none of the source's rows (ChronoDB's own
  empty objects, which opening the schema installs, stay).
- PostgreSQL into a SQLite file: ``sqlite_target.py`` over ``versioning/load.py``.

A SQLite destination is written to a temporary file beside it and moved into place only
once it verifies, never over an existing file.

The destination must be new: a file that does not exist (or is empty), or a PostgreSQL
schema with no tables or views and no recorded transactions; anything else is refused with
a :class:`~chronodb.errors.CopyError` naming it, before anything is written.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from chronodb.copy.model import Dump, Progress, Refused
from chronodb.database import ChronoDB, postgres_engine_of
from chronodb.errors import CopyError
from chronodb.storage.urls import is_postgres_url, redact

__all__ = ["CopyReport", "copy_database"]

Refuse = Callable[[str], CopyError]


class Copied(NamedTuple):
    """What a copy wrote, as read from the source in one snapshot."""

    transactions: int
    versions: int
    tree_size: int
    root: str


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
    """Copy the database at ``source`` to the new database ``destination`` (each a file path
    or a ``postgresql://`` URL), with its history and ledger; ``progress`` is called with
    (done, all) as it goes: versions, or pages from a file to a file. Raises CopyError if
    the destination is not empty or the copy cannot be exact; the destination is then left
    as it was."""
    src, dst = os.fspath(source), os.fspath(destination)

    def refuse(message: str) -> CopyError:
        return CopyError(message, source=_name(src), destination=_name(dst))

    if not is_postgres_url(src) and not Path(src).is_file():
        raise refuse(f"no such database file: {src}")
    if _same(src, dst):
        raise refuse(f"source and destination are the same database: {_name(dst)}")
    if is_postgres_url(dst):
        copied = _to_postgres(src, dst, progress, refuse)
        _check(dst, copied, refuse)
    else:
        copied = _to_file(src, dst, progress, refuse)
    return CopyReport(_name(src), _name(dst), *copied)


def _same(src: str, dst: str) -> bool:
    if is_postgres_url(src) or is_postgres_url(dst):
        return src == dst
    return Path(src).resolve() == Path(dst).resolve()


def _copied(dump: Dump) -> Copied:
    size, root = dump.ledger()
    return Copied(len(dump.transactions), dump.total_versions, size, root)


def _check(dst: str, copied: Copied, refuse: Refuse) -> None:
    """Verify the copy at ``dst`` and compare its ledger with the source's as read."""
    with ChronoDB(dst) as copy:
        ok = copy.verify_audit_integrity()
        after = copy.audit_trail.digest(save=False)
    if not ok or (after.tree_size, after.root) != (copied.tree_size, copied.root):
        raise refuse(
            f"the copy at {_name(dst)} does not verify against the source's ledger "
            f"(source root {copied.root} of {copied.tree_size} leaves, copy root "
            f"{after.root} of {after.tree_size})"
        )


@contextmanager
def _reading(src: str) -> Iterator[Dump]:
    """The source's :class:`Dump`, from whichever backend holds it."""
    with ChronoDB(src, read_only=True) as db:
        if is_postgres_url(src):
            from chronodb.copy import postgres_source as reader
        else:
            from chronodb.copy import sqlite_source as reader  # type: ignore[no-redef]
        with reader.read(db) as dump:
            yield dump


def _to_file(src: str, dst: str, progress: Progress | None, refuse: Refuse) -> Copied:
    target = Path(dst)
    if target.exists() and target.stat().st_size > 0:
        raise refuse(f"destination {dst} exists and is not empty; a copy never overwrites")
    directory = target.resolve().parent
    if not directory.is_dir():
        raise refuse(f"destination {dst}: no such directory {directory}")
    handle, temporary = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=directory)
    os.close(handle)
    parts = [Path(temporary + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    try:
        if is_postgres_url(src):
            from chronodb.copy import sqlite_target

            with _reading(src) as dump:
                copied = _copied(dump)
                try:
                    sqlite_target.write(temporary, dump, progress)
                except Refused as err:
                    raise refuse(str(err)) from err
        else:
            _backup(src, temporary, progress)
            with _reading(temporary) as dump:
                copied = _copied(dump)
        _check(temporary, copied, refuse)
        if target.exists():
            if target.stat().st_size > 0:
                raise refuse(f"destination {dst} was written during the copy; left alone")
            target.unlink()
        os.link(temporary, target)  # fails rather than replace a file made meanwhile
    except OSError as err:
        raise refuse(f"cannot write {dst}: {err}") from err
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    return copied


def _backup(src: str, path: str, progress: Progress | None) -> None:
    """SQLite's online backup of the file ``src`` into ``path``: every page, the ledger's
    and history's included, as one consistent state."""
    reader = sqlite3.connect(f"file:{Path(src).resolve()}?mode=ro", uri=True)
    writer = sqlite3.connect(path)
    try:

        def step(_status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(total - remaining, total)

        reader.backup(writer, pages=1024, progress=step)
    finally:
        writer.close()
        reader.close()


def _to_postgres(src: str, dst: str, progress: Progress | None, refuse: Refuse) -> Copied:
    import psycopg

    from chronodb.copy import postgres_target
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
    with _reading(src) as dump, ChronoDB(dst) as target:
        engine = postgres_engine_of(target)
        schema = engine.backend.schema
        with engine.lock:
            if load.held(engine.conn, schema):
                raise refuse(f"destination {_name(dst)} was written to meanwhile; left alone")
            try:
                postgres_target.write(engine.conn, schema, dump, progress)
            except Refused as err:
                raise refuse(str(err)) from err
            except psycopg.Error as err:
                raise refuse(f"writing {_name(dst)} failed, nothing was kept: {err}") from err
        return _copied(dump)
