from __future__ import annotations

from pathlib import Path

from chronodb import ChronoDB
from chronodb.server.sample import describe, seed_sample


def test_sample_shop_has_history_to_travel_through(tmp_path: Path) -> None:
    with ChronoDB(tmp_path / "shop.db") as db:
        assert seed_sample(db) is True
        assert db.tables() == ["orders", "users"]
        statuses = [v["values"]["status"] for v in db.get_change_history("orders", 1)]
        assert statuses == ["new", "shipped"]
        first = db.get_change_history("orders", 3)[0]["tx_id"]
        then = db.execute("SELECT count(*) FROM orders AS OF TRANSACTION ?", [first])
        assert then.scalar() == 3
        assert db.execute("SELECT count(*) FROM orders").scalar() == 2
        assert db.verify_audit_integrity()
        # A database that already has tables is left alone.
        assert seed_sample(db) is False


def test_describe_names_every_endpoint() -> None:
    text = describe("http://127.0.0.1:8765", "ws://127.0.0.1:8765/ws")
    for part in (
        "/graphql",
        "/sql",
        "/tables/users/history/1",
        "ws://127.0.0.1:8765/ws",
        "/health",
        "/metrics",
        "/openapi.json",
    ):
        assert part in text
