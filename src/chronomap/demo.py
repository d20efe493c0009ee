"""A short tour of ChronoMap, run by ``python -m chronomap``."""

from __future__ import annotations

from collections.abc import Callable

from chronomap.map import ChronoMap


def run_demo(echo: Callable[[str], object] = print) -> ChronoMap:
    """Write a few versions, travel in time, snapshot and roll back; return the map."""
    cm = ChronoMap()
    cm.on_change(lambda key, old, new, ts: echo(f"  change: {key}: {old!r} -> {new!r}"))

    echo("Writing three temperatures at t=100, 200, 300")
    for ts, temp in ((100, 20.5), (200, 22.0), (300, 19.5)):
        cm.put("temperature", temp, timestamp=ts)

    echo(f"Latest: {cm['temperature']}")
    echo(f"As of t=250: {cm.get('temperature', timestamp=250)}")
    echo(f"Between t=150 and t=300: {cm.get_range('temperature', start_ts=150, end_ts=300)}")

    cm["mode"] = "auto"
    try:
        with cm.snapshot_context():
            cm["mode"] = "manual"
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    echo(f"After a failed change inside snapshot_context, mode is {cm['mode']!r}")
    echo(f"History of 'temperature': {cm.history('temperature')}")
    echo(f"Stats: {cm.get_stats()}")
    return cm
