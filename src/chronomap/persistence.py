"""Saving and loading a ChronoMap: plain dicts, JSON files, pickle files (optionally zlib).

Files are written to a temporary file in the target's directory and moved into
place with ``os.replace``, so a save that fails (a value JSON cannot encode, a
full disk) leaves the previous file untouched and never a half-written one.
The dict layout (``store``: key -> [(timestamp, value), ...], ``ttl``: key ->
expiry) is the one chronomap 2.x used, so its files load here too.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zlib
from collections.abc import Mapping
from copy import deepcopy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronomap._timestamps import to_epoch
from chronomap.errors import ChronoMapTypeError, ChronoMapValueError

if TYPE_CHECKING:
    from chronomap.map import State

FORMAT_VERSION = "2.1.0"
"""The layout version written into every file (chronomap 2.1.0's layout)."""

_ZLIB_LEVEL = 6


def to_dict(state: State, compress: bool = False) -> dict[str, Any] | bytes:
    """``state`` as ``{'store', 'ttl', 'version'}``; with ``compress``, zlib'd pickle bytes."""
    stamps, vals, expiry = state
    data = {
        "store": {key: list(zip(stamps[key], vals[key], strict=True)) for key in stamps},
        "ttl": dict(expiry),
        "version": FORMAT_VERSION,
    }
    if compress:
        return zlib.compress(pickle.dumps(data, pickle.HIGHEST_PROTOCOL), _ZLIB_LEVEL)
    return data


def from_dict(data: Mapping[str, Any] | bytes) -> State:
    """Rebuild a state from ``to_dict`` output: a dict, or (compressed) pickle bytes."""
    if isinstance(data, bytes | bytearray):
        return _from_mapping(_unpickle(bytes(data), "data"))
    return _from_mapping(data, copy_values=True)


def save_json(state: State, file_path: str | Path) -> None:
    """Write ``state`` as JSON. Keys that are not strings are kept with their type
    (int, float, bool, None, tuples of those); a value JSON cannot encode raises
    ChronoMapTypeError naming its key, before anything is written."""
    stamps, vals, expiry = state
    store, typed_store, ttl, typed_ttl = [], [], {}, []
    for key in stamps:
        versions = _json_versions(key, stamps[key], vals[key])
        if isinstance(key, str):
            store.append(f"    {json.dumps(key)}: {versions}")
            if key in expiry:
                ttl[key] = expiry[key]
        else:
            encoded = json.dumps(_encode_key(key))
            typed_store.append(f"    [{encoded}, {versions}]")
            if key in expiry:
                typed_ttl.append(f"[{encoded}, {expiry[key]!r}]")
    comma = ",\n"
    text = (
        f'{{\n  "version": "{FORMAT_VERSION}",\n'
        f'  "store": {{\n{comma.join(store)}\n  }},\n'
        f'  "typed_store": [\n{comma.join(typed_store)}\n  ],\n'
        f'  "ttl": {json.dumps(ttl)},\n'
        f'  "typed_ttl": [{", ".join(typed_ttl)}]\n}}\n'
    )
    atomic_write(file_path, text.encode("utf-8"))


def load_json(file_path: str | Path) -> State:
    """Read a file written by ``save_json`` (or by chronomap 2.x's)."""
    try:
        with open(file_path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise ChronoMapValueError(f"{file_path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ChronoMapValueError(f"{file_path} does not hold a ChronoMap (not a JSON object)")
    store = dict(data.get("store", {}))
    ttl = dict(data.get("ttl") or {})
    for encoded, versions in data.get("typed_store", []):
        store[_decode_key(encoded)] = versions
    for encoded, deadline in data.get("typed_ttl", []):
        ttl[_decode_key(encoded)] = deadline
    return _from_mapping({"store": store, "ttl": ttl})


def save_pickle(state: State, file_path: str | Path, compress: bool = False) -> None:
    """Write ``state`` as a pickle, zlib-compressed if ``compress``."""
    data = to_dict(state)
    payload = pickle.dumps(data, pickle.HIGHEST_PROTOCOL)
    if compress:
        payload = zlib.compress(payload, _ZLIB_LEVEL)
    atomic_write(file_path, payload)


def load_pickle(file_path: str | Path) -> State:
    """Read a ``save_pickle`` file; compressed or not is detected from its first bytes.

    Unpickling runs code from the file: load only files you trust.
    """
    return _from_mapping(_unpickle(Path(file_path).read_bytes(), str(file_path)))


def atomic_write(file_path: str | Path, payload: bytes) -> None:
    """Write ``payload`` to a temporary file beside ``file_path``, then move it into place."""
    target = Path(file_path)
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(payload)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _unpickle(raw: bytes, source: str) -> Any:
    """Unpickle ``raw``, decompressing it first when it starts with a zlib header."""
    if len(raw) >= 2 and raw[0] & 0x0F == 8 and (raw[0] << 8 | raw[1]) % 31 == 0:
        try:
            raw = zlib.decompress(raw)
        except zlib.error as error:
            raise ChronoMapValueError(f"{source}: corrupt compressed data ({error})") from None
    try:
        return pickle.loads(raw)
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError) as error:
        raise ChronoMapValueError(f"{source} is not a ChronoMap pickle: {error}") from None


def _from_mapping(data: Any, copy_values: bool = False) -> State:
    """Validate a ``{'store': ..., 'ttl': ...}`` mapping and turn it into a state."""
    if not isinstance(data, Mapping) or not isinstance(data.get("store"), Mapping):
        raise ChronoMapValueError("not a ChronoMap dump: expected a mapping with a 'store' mapping")
    stamps: dict[Any, list[float]] = {}
    vals: dict[Any, list[Any]] = {}
    for key, versions in data["store"].items():
        try:
            pairs = sorted(((to_epoch(ts), value) for ts, value in versions), key=_first)
        except (TypeError, ValueError) as error:
            raise ChronoMapValueError(f"bad history for key {key!r}: {error}") from None
        if pairs:
            stamps[key] = [ts for ts, _ in pairs]
            vals[key] = [value for _, value in pairs]
    if copy_values:
        vals = deepcopy(vals)
    expiry = {key: float(deadline) for key, deadline in (data.get("ttl") or {}).items()}
    return stamps, vals, {key: deadline for key, deadline in expiry.items() if key in stamps}


def _first(pair: tuple[float, Any]) -> float:
    return pair[0]


def _json_versions(key: Any, stamps: list[float], vals: list[Any]) -> str:
    try:
        return json.dumps([[ts, value] for ts, value in zip(stamps, vals, strict=True)])
    except (TypeError, ValueError) as error:
        raise ChronoMapTypeError(
            f"cannot save key {key!r} as JSON: {error}; use save_pickle for such values"
        ) from None


def _encode_key(key: Any) -> Any:
    if key is None or isinstance(key, bool | int | float | str):
        return key
    if isinstance(key, tuple):
        return {"tuple": [_encode_key(item) for item in key]}
    raise ChronoMapTypeError(
        f"cannot save key {key!r} ({type(key).__name__}) as JSON; use save_pickle"
    )


def _decode_key(encoded: Any) -> Any:
    if isinstance(encoded, dict):
        return tuple(_decode_key(item) for item in encoded["tuple"])
    return encoded
