"""JSON from clients: parsed with a bound on nesting, so that no message reaches Python's
recursion limit (in ``json`` or in any code that walks it afterwards).

A frame or body under the size limits can still nest tens of thousands of levels deep;
``json.loads`` then raises RecursionError, which is not a ValueError. Here every failure is
a ValueError with a message fit to send back.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # levels of arrays and objects; the protocol's messages need a handful


def loads(data: str | bytes | bytearray) -> Any:
    """The JSON value in ``data``; ValueError if it is not JSON or nests too deeply."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    if _depth_over(value, MAX_DEPTH):
        raise ValueError(f"JSON nested more than {MAX_DEPTH} levels deep")
    return value


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` has more than ``limit`` levels of arrays and objects; walks level by
    level, without recursion."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        inner: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            inner.extend(x for x in children if isinstance(x, dict | list))
        level = inner
    return False
