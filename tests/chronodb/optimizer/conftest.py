"""Databases with a workload for the optimizer's tests."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from chronodb import ChronoDB

CATEGORIES = ["electronics", "books", "toys", "food", *[f"c{i}" for i in range(300)]]


def fill_products(db: ChronoDB, rows: int) -> None:
    rnd = random.Random(7)
    db.execute(
        "CREATE TABLE products (id INTEGER PRIMARY KEY, category TEXT, price REAL, sku TEXT, "
        "flag INTEGER)"
    )
    db.executemany(
        "INSERT INTO products (category, price, sku, flag) VALUES (?, ?, ?, ?)",
        [(rnd.choice(CATEGORIES), rnd.random() * 1000, f"sku{i}", i % 2) for i in range(rows)],
    )


@pytest.fixture
def products() -> Iterator[ChronoDB]:
    """20,000 products, no index but the primary key; the model trains every 200 statements."""
    db = ChronoDB(":memory:", user="tester", ml_optimizer={"training_interval": 200})
    fill_products(db, 20_000)
    yield db
    db.close()
