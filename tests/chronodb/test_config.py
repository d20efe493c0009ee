"""Config files: seed 004's config.yaml opens a database; mistakes name the key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronodb import ChronoDB, ChronoDBWarning, ConfigError, TemporalError
from chronodb.config import load_config

# The "Configuration" section of seed 004, verbatim.
SEED_CONFIG = """\
database:
  data_file: "chronodb.data"
  wal_enabled: true
  compression: true

features:
  time_travel:
    enabled: true
    retention_days: 365
  ml_optimizer:
    enabled: true
    training_interval: 1000
"""


def write(folder: Path, text: str, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_config_maps_every_key(tmp_path: Path) -> None:
    options = load_config(write(tmp_path, SEED_CONFIG))
    assert options == {
        "path": str(tmp_path.resolve() / "chronodb.data"),
        "wal": True,
        "compression": True,
        "time_travel": True,
        "retention_days": 365,
        "ml_optimizer": {"enabled": True, "training_interval": 1000},
    }


def test_from_config_opens_the_data_file_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, SEED_CONFIG)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.warns(ChronoDBWarning, match="uncompressed"), ChronoDB.from_config(config) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        first = db.execute("INSERT INTO users VALUES (1, 'Alice')")
        db.execute("UPDATE users SET name = 'Alicia' WHERE id = 1")
        assert db.retention_days == 365
        assert db.compression is True
        assert db.options["ml_optimizer"] == {"enabled": True, "training_interval": 1000}
    assert (tmp_path / "chronodb.data").exists()
    assert not (elsewhere / "chronodb.data").exists()
    with pytest.warns(ChronoDBWarning), ChronoDB.from_config(config) as db:
        then = db.execute("SELECT name FROM users AS OF TRANSACTION ?", [first.tx_id])
        assert then.scalar() == "Alice"


def test_from_config_overrides_win(tmp_path: Path) -> None:
    config = write(tmp_path, SEED_CONFIG)
    with ChronoDB.from_config(config, path=":memory:", user="ops", compression=False) as db:
        assert db.path == ":memory:"
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        db.execute("INSERT INTO t VALUES (1, 'x')")
        assert db.get_change_history("t", 1)[0]["user"] == "ops"
    assert not (tmp_path / "chronodb.data").exists()


def test_database_options_beyond_the_seed(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "database:\n"
        "  data_file: /abs/elsewhere.db\n"
        "  user: auditor\n"
        "  durability: full\n"
        "  auto_create_tables: false\n"
        "  timeout: 2.5\n",
    )
    assert load_config(config) == {
        "path": "/abs/elsewhere.db",
        "user": "auditor",
        "durability": "full",
        "auto_create_tables": False,
        "timeout": 2.5,
    }


def test_memory_data_file_and_empty_sections(tmp_path: Path) -> None:
    config = write(tmp_path, "database:\n  data_file: ':memory:'\nfeatures:\n")
    assert load_config(config) == {"path": ":memory:"}
    assert load_config(write(tmp_path, "", "empty.yaml")) == {}


def test_time_travel_disabled_rejects_temporal_sql(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "database:\n  data_file: ':memory:'\nfeatures:\n  time_travel:\n    enabled: false\n",
    )
    with ChronoDB.from_config(config) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        with pytest.raises(TemporalError, match="time_travel"):
            db.execute("SELECT * FROM t AS OF TRANSACTION 1")


def test_null_retention_keeps_history_forever(tmp_path: Path) -> None:
    config = write(tmp_path, "features:\n  time_travel:\n    retention_days: null\n")
    assert load_config(config) == {"retention_days": None}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "database:\n  wal_enabled: 'yes'\n",
            "database.wal_enabled must be true or false, not 'yes'",
        ),
        ("database:\n  data_fle: x.db\n", "unknown key 'database.data_fle' (value 'x.db')"),
        ("databse:\n  data_file: x.db\n", "unknown key 'databse'"),
        ("features:\n  time_travel:\n    retention_days: -1\n", "retention_days must be a number"),
        ("features:\n  time_travel:\n    retention_days: true\n", "not True"),
        ("features:\n  ml_optimizer:\n    training_interval: 0\n", "training_interval must be"),
        (
            "features:\n  ml_optimizer:\n    learning_rate: 0.1\n",
            "unknown key 'features.ml_optimizer.learning_rate'",
        ),
        ("features:\n  search: {}\n", "unknown key 'features.search'"),
        ("database:\n  durability: paranoid\n", "'normal', 'full' or 'off', not 'paranoid'"),
        ("database: [1, 2]\n", "database must be a mapping"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("database:\n  data_file: [\n", "not valid YAML"),
    ],
)
def test_mistakes_name_the_key_and_value(tmp_path: Path, text: str, fragment: str) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert fragment in str(caught.value)
    assert str(config) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Config file not found"):
        ChronoDB.from_config(tmp_path / "nope.yaml")
