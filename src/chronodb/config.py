"""Reading a YAML config file (seed 004's keys) into ChronoDB constructor options.

::

    database:
      data_file: "chronodb.data"     # -> path (relative to the config file's folder)
      wal_enabled: true              # -> wal
      compression: true              # -> compression
    features:
      time_travel:
        enabled: true                # -> time_travel
        retention_days: 365          # -> retention_days
      ml_optimizer:
        enabled: true                # -> ml_optimizer["enabled"]
        training_interval: 1000      # -> ml_optimizer["training_interval"]

Unknown keys and values of the wrong type raise :class:`ConfigError` naming both, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Any

import yaml

from chronodb.errors import ConfigError

Check = Callable[[Any], bool]


def _boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _non_negative_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> bool:
        return value in choices

    return check


# section -> {key: (constructor option, check, what the value must be)}
_DATABASE: dict[str, tuple[str, Check, str]] = {
    "data_file": ("path", _text, "a file name"),
    "wal_enabled": ("wal", _boolean, "true or false"),
    "compression": ("compression", _boolean, "true or false"),
    "user": ("user", _text, "a user name"),
    "durability": ("durability", _one_of("normal", "full", "off"), "'normal', 'full' or 'off'"),
    "auto_create_tables": ("auto_create_tables", _boolean, "true or false"),
    "read_only": ("read_only", _boolean, "true or false"),
    "adopt": ("adopt", _boolean, "true or false"),
    "timeout": ("timeout", _non_negative_number, "a number of seconds"),
}
_TIME_TRAVEL: dict[str, tuple[str, Check, str]] = {
    "enabled": ("time_travel", _boolean, "true or false"),
    "retention_days": ("retention_days", _non_negative_number, "a number of days"),
}
_ML_OPTIMIZER: dict[str, tuple[str, Check, str]] = {
    "enabled": ("enabled", _boolean, "true or false"),
    "training_interval": ("training_interval", _positive_int, "a positive whole number"),
}


def load_config(path: str | Path) -> dict[str, Any]:
    """The ChronoDB constructor options a YAML config file describes.

    >>> load_config("config.yaml")  # doctest: +SKIP
    {'path': '/srv/app/chronodb.data', 'wal': True, 'compression': True, 'time_travel': True,
     'retention_days': 365, 'ml_optimizer': {'enabled': True, 'training_interval': 1000}}
    """
    file = _expanded(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {str(path)!r}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"Cannot read config file {str(path)!r}: {err}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return parse_config(document, base=file.resolve().parent, source=str(path))


def _expanded(path: str | Path) -> Path:
    """``path`` with ``~`` or ``~user`` expanded; ConfigError for a user with no home."""
    try:
        return Path(path).expanduser()
    except RuntimeError as err:  # what pathlib raises for ~nobody-known
        raise ConfigError(f"{str(path)!r}: {err}") from None


def parse_config(document: Any, *, base: Path | None = None, source: str = "config") -> dict:
    """Options from an already-parsed config mapping; ``base`` anchors a relative data_file."""
    if document is None:
        document = {}
    top = _section(document, "", source)
    options: dict[str, Any] = {}
    _unknown(top, ("database", "features"), "", source)
    options.update(_read(_section(top.get("database"), "database", source), _DATABASE, source))
    features = _section(top.get("features"), "features", source)
    _unknown(features, ("time_travel", "ml_optimizer"), "features", source)
    time_travel = _section(features.get("time_travel"), "features.time_travel", source)
    options.update(_read(time_travel, _TIME_TRAVEL, source, "features.time_travel"))
    if "ml_optimizer" in features:
        optimizer = _section(features["ml_optimizer"], "features.ml_optimizer", source)
        options["ml_optimizer"] = _read(optimizer, _ML_OPTIMIZER, source, "features.ml_optimizer")
    data_file = options.get("path")
    if data_file is not None and data_file != ":memory:":
        location = _expanded(data_file)
        if not location.is_absolute() and base is not None:
            location = base / location
        options["path"] = str(location)
    return options


def _section(value: Any, name: str, source: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        where = name or "the top level"
        raise ConfigError(f"{source}: {where} must be a mapping of keys, not {value!r}")
    return value


def _unknown(section: Mapping[str, Any], known: tuple[str, ...], prefix: str, source: str) -> None:
    for key in section:
        if key not in known:
            name = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(
                f"{source}: unknown key {name!r} (value {section[key]!r}); "
                f"expected one of: {', '.join(f'{prefix}.{k}' if prefix else k for k in known)}"
            )


def _read(
    section: Mapping[str, Any],
    schema: dict[str, tuple[str, Check, str]],
    source: str,
    prefix: str = "database",
) -> dict[str, Any]:
    _unknown(section, tuple(schema), prefix, source)
    out: dict[str, Any] = {}
    for key, value in section.items():
        option, check, expected = schema[key]
        if value is None and option == "retention_days":
            out[option] = None  # an explicit null keeps history forever
            continue
        if not check(value):
            raise ConfigError(f"{source}: {prefix}.{key} must be {expected}, not {value!r}")
        out[option] = value
    return out


def _finite(value: Any) -> bool:
    return _non_negative_number(value) and value == value and value not in (float("inf"),)


def _path(value: Any) -> bool:
    return isinstance(value, str | PurePath)


def _user(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# constructor option -> (check, what the value must be)
OPTIONS: dict[str, tuple[Check, str]] = {
    "path": (_path, "a file name (str or Path)"),
    "user": (_user, "a string (UTF-8 encodable) or None"),
    "wal": (_boolean, "True or False"),
    "durability": (_one_of("normal", "full", "off"), "'normal', 'full' or 'off'"),
    "auto_create_tables": (_boolean, "True or False"),
    "time_travel": (_boolean, "True or False"),
    "retention_days": (lambda v: v is None or (_finite(v) and v < 1e9), "a number of days"),
    "read_only": (_boolean, "True or False"),
    "timeout": (lambda v: _finite(v) and v < 1e9, "a number of seconds, 0 or more"),
    "compression": (_boolean, "True or False"),
    "ml_optimizer": (lambda v: v is None or isinstance(v, Mapping), "a mapping or None"),
    "ledger": (_boolean, "True or False"),
    "adopt": (_boolean, "True or False"),
}


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse a constructor option of the wrong type or out of range, naming it and its value."""
    for name, value in options.items():
        check, expected = OPTIONS[name]
        if not check(value):
            shown = repr(value)
            raise ConfigError(
                f"ChronoDB option {name} must be {expected}, not "
                f"{shown if len(shown) <= 60 else shown[:57] + '...'}"
            )
