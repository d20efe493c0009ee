"""A PostgreSQL primary and its streaming hot standby, started for a test module.

Both run from the machine's PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``, or
CHRONODB_TEST_PG_BIN) in a temporary directory, on free loopback ports: the primary made by
``initdb``, the standby by ``pg_basebackup -R``. initdb and pg_ctl refuse to run as root, so
when the tests run as root the servers run as the ``postgres`` OS user (``runuser``), in a
directory it owns. Missing binaries fail the tests, naming where they were looked for: CI
must run them, never skip. Both servers are stopped and the directory removed afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.chronodb.pgserver import as_url, fresh_database

REPLAY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Pair:
    """A running primary and standby: their ``postgresql://`` URLs, naming one database."""

    primary: str
    standby: str


@contextlib.contextmanager
def fresh_pair_database(pair: Pair) -> Iterator[Pair]:
    """A uniquely named database on the primary, once the standby has it too (URLs of both),
    dropped afterwards."""
    with fresh_database(pair.primary) as conninfo:
        primary = as_url(conninfo)
        standby = pair.standby.rsplit("/", 1)[0] + "/" + primary.rsplit("/", 1)[1]
        wait_for_replay(pair.primary, pair.standby)
        yield Pair(primary, standby)


def _binaries() -> Path:
    chosen = os.environ.get("CHRONODB_TEST_PG_BIN")
    candidates = [chosen] if chosen else sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    for candidate in reversed(candidates):
        if (Path(candidate) / "pg_basebackup").exists():
            return Path(candidate)
    pytest.fail(
        "PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup) were not found in "
        f"{chosen or '/usr/lib/postgresql/*/bin'} (set CHRONODB_TEST_PG_BIN)",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(as_user: str | None, *command: str | Path) -> None:
    args = [str(c) for c in command]
    if as_user is not None:
        args = ["runuser", "-u", as_user, "--", *args]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")


@contextlib.contextmanager
def replica_pair() -> Iterator[Pair]:
    """Start a primary and a streaming standby; stop both and remove them afterwards."""
    bin_dir = _binaries()
    as_user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="chronodb-replica-"))
    if as_user is not None:
        entry = pwd.getpwnam(as_user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    primary, standby = root / "primary", root / "standby"
    ports = _free_port(), _free_port()
    started: list[Path] = []
    try:
        _run(
            as_user,
            bin_dir / "initdb",
            "-D",
            primary,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        )
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {ports[0]}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{root}'\nwal_level = replica\n"
                "max_wal_senders = 4\nhot_standby = on\nfsync = off\n"
                "full_page_writes = off\n"
            )
        with open(primary / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        _run(as_user, bin_dir / "pg_ctl", "-D", primary, "-w", "-l", root / "primary.log", "start")
        started.append(primary)
        _run(
            as_user,
            bin_dir / "pg_basebackup",
            "-D",
            standby,
            "-R",
            "-X",
            "stream",
            "-h",
            "127.0.0.1",
            "-p",
            str(ports[0]),
            "-U",
            "postgres",
        )
        with open(standby / "postgresql.conf", "a") as conf:
            conf.write(f"port = {ports[1]}\nhot_standby_feedback = on\n")
        _run(as_user, bin_dir / "pg_ctl", "-D", standby, "-w", "-l", root / "standby.log", "start")
        started.append(standby)
        yield Pair(
            f"postgresql://postgres@127.0.0.1:{ports[0]}/postgres",
            f"postgresql://postgres@127.0.0.1:{ports[1]}/postgres",
        )
    finally:
        for data in reversed(started):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run(as_user, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def wait_for_replay(primary: str, standby: str, timeout: float = REPLAY_TIMEOUT) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    import psycopg

    with psycopg.connect(primary, autocommit=True) as p:
        target = p.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    with psycopg.connect(standby, autocommit=True) as s:
        while True:
            done = s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[
                0
            ]
            if done:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the standby did not replay up to {target} in {timeout}s")
            time.sleep(0.01)
