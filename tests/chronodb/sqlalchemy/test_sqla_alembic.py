"""Alembic migrations through the dialect: each schema change keeps history queryable as of
before it (SQLite, batch mode too; PostgreSQL: what ChronoDB follows there)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

ENV = """
from alembic import context
from sqlalchemy import create_engine

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(
        connection=connection, render_as_batch=config.get_main_option("batch") == "1"
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""

STEPS = {
    "0001": """
def upgrade():
    accounts = op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(40)),
        sa.Column("balance", sa.Integer),
    )
    op.create_table("scratch", sa.Column("id", sa.Integer, primary_key=True))
    op.bulk_insert(accounts, [{"id": 1, "owner": "ann", "balance": 10}])
    op.execute("INSERT INTO scratch (id) VALUES (7)")
""",
    "0002": """
def upgrade():
    op.add_column("accounts", sa.Column("note", sa.String(20)))
    op.execute("UPDATE accounts SET note = 'vip', balance = 20")
""",
    "0003": """
def upgrade():
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column("owner", new_column_name="holder", existing_type=sa.String(40))
""",
    "0004": """
def upgrade():
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("note")
    op.execute("UPDATE accounts SET balance = 30")
""",
    "0005": """
def upgrade():
    op.drop_table("scratch")
""",
}


def _script(revision: str, down: str | None, body: str) -> str:
    return (
        f"import sqlalchemy as sa\nfrom alembic import op\n\nrevision = {revision!r}\n"
        f"down_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n{body}"
    )


def _config(tmp_path: Path, url: str, batch: bool, steps: dict[str, str]) -> Config:
    """A migration environment of its own in ``tmp_path``, with ``steps`` as revisions."""
    home = tmp_path / "migrations"
    (home / "versions").mkdir(parents=True)
    (home / "env.py").write_text(ENV)
    (home / "script.py.mako").write_text("")
    down = None
    for revision, body in steps.items():
        (home / "versions" / f"{revision}.py").write_text(_script(revision, down, body))
        down = revision
    config = Config()
    config.set_main_option("script_location", str(home))
    config.set_main_option("sqlalchemy.url", url)
    config.set_main_option("batch", "1" if batch else "0")
    return config


def _rows(engine: Engine, sql: str, point: datetime | None = None) -> list[tuple]:
    with engine.connect() as conn:
        params = {} if point is None else {"t": point.isoformat()}
        return [tuple(r) for r in conn.execute(text(sql), params)]


@pytest.mark.parametrize("batch", [False, True], ids=["plain", "batch"])
def test_a_migration_script_keeps_history_as_of_before_each_step(
    tmp_path: Path, batch: bool, backend: str
) -> None:
    from sqlalchemy import create_engine

    if backend.startswith("postgresql"):
        url = backend.replace("postgresql://", "postgresql+chronodb://", 1)
    else:
        url = f"sqlite+chronodb:///{backend}"
    config = _config(tmp_path, url, batch, STEPS)
    after: dict[str, datetime] = {}
    for revision in STEPS:
        command.upgrade(config, revision)
        time.sleep(0.002)
        after[revision] = datetime.now(UTC)
        time.sleep(0.002)
    engine = create_engine(url)
    try:
        as_of = "SELECT {} FROM accounts AS OF TIMESTAMP :t"
        assert _rows(engine, as_of.format("owner, balance"), after["0001"]) == [("ann", 10)]
        assert _rows(engine, as_of.format("owner, note, balance"), after["0002"]) == [
            ("ann", "vip", 20)
        ]
        assert _rows(engine, as_of.format("holder, note"), after["0003"]) == [("ann", "vip")]
        assert _rows(engine, as_of.format("holder, balance"), after["0004"]) == [("ann", 30)]
        assert _rows(engine, "SELECT * FROM accounts") == [(1, "ann", 30)]
        scratch = "SELECT id FROM scratch AS OF TIMESTAMP :t"
        assert _rows(engine, scratch, after["0004"]) == [(7,)]
        from sqlalchemy import inspect

        assert sorted(inspect(engine).get_table_names()) == ["accounts", "alembic_version"]
        version = "SELECT version_num FROM alembic_version AS OF TIMESTAMP :t"
        assert _rows(engine, version, after["0002"]) == [("0002",)]
    finally:
        engine.dispose()
