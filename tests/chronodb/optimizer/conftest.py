"""Databases with a workload for the optimizer's tests."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest
from tests.chronodb import pgserver

from chronodb import ChronoDB
from chronodb.optimizer import Recommendation

CATEGORIES = ["electronics", "books", "toys", "food", *[f"c{i}" for i in range(300)]]


def fill_products(db: ChronoDB, rows: int) -> None:
    rnd = random.Random(7)
    db.execute(
        "CREATE TABLE products (id INTEGER PRIMARY KEY, category TEXT, price REAL, sku TEXT, "
        "flag INTEGER)"
    )
    db.executemany(
        "INSERT INTO products (id, category, price, sku, flag) VALUES (?, ?, ?, ?, ?)",
        [
            (i + 1, rnd.choice(CATEGORIES), rnd.random() * 1000, f"sku{i}", i % 2)
            for i in range(rows)
        ],
    )


@pytest.fixture
def products() -> Iterator[ChronoDB]:
    """20,000 products, no index but the primary key; the model trains every 200 statements."""
    db = ChronoDB(":memory:", user="tester", ml_optimizer={"training_interval": 200})
    fill_products(db, 20_000)
    yield db
    db.close()


@pytest.fixture
def pg_products(pg_url: str) -> Iterator[ChronoDB]:
    """20,000 products of 304 categories in a fresh PostgreSQL database, vacuumed and
    analyzed; no index but the primary key. The optimizer has seen none of the filling."""
    url = pgserver.as_url(pg_url)
    db = ChronoDB(url, user="tester", ml_optimizer={"enabled": False})
    db.execute(
        "CREATE TABLE products (id INTEGER PRIMARY KEY, category TEXT, price REAL, sku TEXT, "
        "flag INTEGER)"
    )
    db.execute(
        "INSERT INTO products SELECT g, (ARRAY[?, ?, ?, ?])[g % 4 + 1], "
        "(g * 7919 % 1000)::real, 'sku' || (g - 1), g % 2 FROM generate_series(1, ?) AS g",
        (*CATEGORIES[:4], 20_000),
    )
    db.execute("UPDATE products SET category = 'c' || (id * 7919 % 300) WHERE id % 50 <> 0")
    db.execute("VACUUM ANALYZE")
    db.close()
    db = ChronoDB(url, user="tester", ml_optimizer={"training_interval": 200})
    yield db
    db.close()


def trial(table: str, column: str, fingerprint: str, calls: int, ddl: str) -> Recommendation:
    """A recommendation made by hand, to try an index the advisor would not propose."""
    return Recommendation(
        kind="create_index",
        table=table,
        index=f"chrono_idx_{table}_{column}",
        columns=(column,),
        sql=ddl,
        source="model",
        reason="test",
        statements=[{"fingerprint": fingerprint, "calls": calls}],
    )


def sees_an_index_made_elsewhere(db: ChronoDB, make_index: Callable[[], None]) -> None:
    """After a workload of category lookups, another client's index on ``category`` (made
    by ``make_index``) goes unnoticed by the cookie timed statements ask about, and is seen
    when advising: the plan is read again, uses it, and nothing proposes it or its drop."""
    for i in range(520):
        db.execute("SELECT * FROM products WHERE category = ?", (f"c{i % 300}",))
    planner = db.ml_optimizer.planner
    cookie = planner.schema_cookie()
    make_index()
    assert planner.schema_cookie() == cookie
    recommendations = db.ml_optimizer.recommendations()
    assert planner.schema_cookie() != cookie
    assert not [r for r in recommendations if r.columns == ("category",)]
    (stmt,) = [s for s in db.ml_optimizer.workload.captured() if s.kind == "read"]
    assert "others_category" in planner.indexes_used(stmt.plan)
