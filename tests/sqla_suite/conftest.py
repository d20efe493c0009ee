"""SQLAlchemy's pytest plugin for its dialect compliance suite, and the exceptions list.

Tests named in ``exceptions.txt`` are skipped on ChronoDB's dialects, each with the reason
written there; on SQLAlchemy's own drivers they run as usual.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy.dialects import registry

sys.path.insert(0, str(Path(__file__).parent))  # requirements.py, named in setup.cfg

registry.register("sqlite.chronodb", "chronodb.sqlalchemy.sqlite", "SQLiteDialect_chronodb")
registry.register("postgresql.chronodb", "chronodb.sqlalchemy.postgresql", "PGDialect_chronodb")

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

# SQLAlchemy loads a backend's provisioning (test schemas, temp tables...) from the
# dialect's own package; ChronoDB's dialects live elsewhere, so load SQLite's and
# PostgreSQL's here.
import sqlalchemy.dialects.postgresql.provision  # noqa: E402
import sqlalchemy.dialects.sqlite.provision  # noqa: E402, F401
from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402, F403

EXCEPTIONS = Path(__file__).with_name("exceptions.txt")


def _exceptions(backend: str) -> dict[str, str]:
    """Test id (or id prefix) -> why it does not apply to ChronoDB on ``backend``."""
    listed = {}
    for line in EXCEPTIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        scope, _, rest = line.partition("] ")
        if scope.strip("[ ") != backend:
            continue
        name, _, reason = rest.partition(" -- ")
        listed[name.strip()] = reason.strip()
    return listed


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list):
    from sqlalchemy.testing import config as sqla_config

    if "chronodb" not in sqla_config.db.url.drivername:
        return
    listed = _exceptions(sqla_config.db.url.get_backend_name())
    for item in items:
        test_id = item.nodeid.split("::", 1)[-1]
        for name, reason in listed.items():
            if test_id == name or test_id.startswith(name + "[") or test_id.startswith(name + "::"):
                item.add_marker(pytest.mark.skip(reason=f"chronodb exception: {reason}"))
                break
