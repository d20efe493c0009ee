"""The flat public API: what ``from chronomap import ...`` offers."""

import chronomap


def test_all_is_sorted_and_exact() -> None:
    assert chronomap.__all__ == [
        "AsyncChronoMap",
        "AsyncSnapshotContext",
        "ChronoMap",
        "ChronoMapError",
        "ChronoMapKeyError",
        "ChronoMapTypeError",
        "ChronoMapValueError",
        "ChronoMapWarning",
        "RWLock",
        "SnapshotContext",
        "Subscription",
    ]
    assert chronomap.__all__ == sorted(chronomap.__all__)
    for name in chronomap.__all__:
        assert getattr(chronomap, name) is not None


def test_error_tree() -> None:
    for error in (
        chronomap.ChronoMapKeyError,
        chronomap.ChronoMapTypeError,
        chronomap.ChronoMapValueError,
    ):
        assert issubclass(error, chronomap.ChronoMapError)
    assert issubclass(chronomap.ChronoMapKeyError, KeyError)
    assert issubclass(chronomap.ChronoMapTypeError, TypeError)
    assert issubclass(chronomap.ChronoMapValueError, ValueError)


def test_async_map_offers_every_public_method_of_the_sync_map() -> None:
    public = {name for name in dir(chronomap.ChronoMap) if not name.startswith("_")}
    assert public <= set(dir(chronomap.AsyncChronoMap))
