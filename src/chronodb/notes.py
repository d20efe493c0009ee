"""A result's notes, and the ChronoDBWarning that carries each one by default.

The CLI and the server show a Result's notes themselves (on stderr, in the JSON answer), so
they turn the warning off for the calls they make, per thread: ``warnings.catch_warnings``
changes the whole process, and the server runs requests on several threads at once.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from chronodb.errors import ChronoDBWarning

_state = threading.local()
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


@contextmanager
def notes_only() -> Iterator[None]:
    """Within this block, on this thread, notes are not also issued as warnings."""
    previous = getattr(_state, "quiet", False)
    _state.quiet = True
    try:
        yield
    finally:
        _state.quiet = previous


def warn(note: str) -> None:
    """Issue ``note`` as a ChronoDBWarning, pointing at the first caller outside ChronoDB,
    unless this thread is in :func:`notes_only`."""
    if getattr(_state, "quiet", False):
        return
    level, frame = 1, sys._getframe(1)
    caller: FrameType | None = frame
    while caller is not None and caller.f_code.co_filename.startswith(_PACKAGE):
        level, caller = level + 1, caller.f_back
    warnings.warn(note, ChronoDBWarning, stacklevel=level + 1)
