"""Worker processes for the storage tests, killed if a test leaves them running."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from storage_support import WORKER

Spawn = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start ``chrono_worker.py`` with arguments; ``clock_offset_us`` shifts its wall clock."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: object, clock_offset_us: int = 0) -> subprocess.Popen[str]:
        env = dict(os.environ, CHRONO_CLOCK_OFFSET_US=str(clock_offset_us))
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
