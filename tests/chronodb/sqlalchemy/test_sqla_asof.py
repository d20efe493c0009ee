"""chronodb_as_of: ORM queries and the relationships they load, all as of one point."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, joinedload, selectinload, subqueryload
from tests.chronodb.sqlalchemy.models import Order, User

from chronodb.sqlalchemy import history, transaction
from chronodb.sqlalchemy.asof import as_of_sql


@pytest.fixture
def point(shop: Engine) -> datetime:
    """ann with one order; after the returned point, renamed with two orders more."""
    with Session(shop) as session:
        session.add(User(id=1, name="ann", orders=[Order(id=1, amount=5)]))
        session.commit()
    time.sleep(0.002)
    then = datetime.now(UTC)
    time.sleep(0.002)
    with Session(shop) as session:
        user = session.get(User, 1)
        assert user is not None
        user.name = "anna"
        user.orders[0].amount = 6
        user.orders.append(Order(id=2, amount=7))
        session.add(Order(id=3, user_id=1, amount=8))
        session.commit()
    return then


def test_a_session_bound_as_of_reads_objects_and_lazy_relationships(
    shop: Engine, point: datetime
) -> None:
    with Session(shop.execution_options(chronodb_as_of=point)) as session:
        user = session.get(User, 1)
        assert user is not None and user.name == "ann"
        assert [(o.id, o.amount) for o in user.orders] == [(1, 5)]
        assert session.get(Order, 1).user.name == "ann"  # type: ignore[union-attr]
        assert session.get(Order, 3) is None


@pytest.mark.parametrize("loader", [None, selectinload, joinedload, subqueryload])
def test_a_statement_as_of_carries_to_every_loader(
    shop: Engine, point: datetime, loader: object
) -> None:
    stmt = select(User).where(User.id == 1).execution_options(chronodb_as_of=point)
    if loader is not None:
        stmt = stmt.options(loader(User.orders))  # type: ignore[operator]
    with Session(shop) as session:
        user = session.execute(stmt).unique().scalar_one()
        assert user.name == "ann"
        assert [(o.id, o.amount) for o in user.orders] == [(1, 5)]
    with Session(shop) as session:  # the present, in a session of its own
        user = session.execute(select(User).where(User.id == 1)).scalar_one()
        assert [(o.id, o.amount) for o in user.orders] == [(1, 6), (2, 7), (3, 8)]


def test_as_of_a_transaction_on_a_connection_and_in_text(shop: Engine, point: datetime) -> None:
    with Session(shop) as session:
        first = history(session, User, 1)[0].tx_id
    with shop.connect().execution_options(chronodb_as_of=transaction(first)) as conn:
        assert conn.execute(select(User.name)).scalar_one() == "ann"
        count = conn.execute(text("SELECT count(*) FROM orders WHERE amount > 0")).scalar()
        assert count == 1


def test_writes_under_the_option_run_as_written(shop: Engine, point: datetime) -> None:
    with Session(shop.execution_options(chronodb_as_of=point)) as session:
        session.add(Order(id=9, user_id=1, amount=1))
        session.commit()
    with Session(shop) as session:
        assert session.get(Order, 9) is not None


def test_the_rewrite_leaves_ctes_and_own_clauses_alone() -> None:
    sql = (
        "WITH recent AS (SELECT id FROM orders) "
        "SELECT u.name FROM users AS u JOIN recent ON recent.id = u.id "
        "WHERE u.id IN (SELECT user_id FROM orders FOR SYSTEM_TIME ALL) AND u.name = ?"
    )
    out = as_of_sql(sql, "sqlite", transaction(4))
    assert out == (
        "WITH recent AS (SELECT id FROM orders AS OF TRANSACTION 4) "
        "SELECT u.name FROM users AS u AS OF TRANSACTION 4 JOIN recent ON recent.id = u.id "
        "WHERE u.id IN (SELECT user_id FROM orders FOR SYSTEM_TIME ALL) AND u.name = ?"
    )
    assert as_of_sql("UPDATE users SET name = ?", "sqlite", 1.0) == "UPDATE users SET name = ?"
    assert "AS OF TIMESTAMP '1970-01-01T00:00:01" in as_of_sql(
        "SELECT 1 FROM users WHERE x = %(p)s", "postgresql", 1.0
    )
