"""for_system_time(): a table or mapped class as of a point, over a period, or whole."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tests.chronodb.sqlalchemy.models import Order, User

from chronodb.errors import ArgumentError
from chronodb.sqlalchemy import for_system_time, history, transaction


def _written(shop: Engine) -> dict[str, object]:
    """ann (with one order) then renamed to anna with a second order; the points between."""
    with Session(shop) as session:
        session.add(User(id=1, name="ann", orders=[Order(id=1, amount=5)]))
        session.commit()
    time.sleep(0.002)
    before = datetime.now(UTC)
    with Session(shop) as session:
        first = history(session, User, 1)[0].tx_id
    time.sleep(0.002)
    with Session(shop) as session:
        user = session.get(User, 1)
        assert user is not None
        user.name = "anna"
        user.orders.append(Order(id=2, amount=7))
        session.commit()
    time.sleep(0.002)
    return {"before": before, "first": first, "after": datetime.now(UTC)}


def test_as_of_a_time_reads_the_row_then(shop: Engine) -> None:
    points = _written(shop)
    then = for_system_time(User, as_of=points["before"])
    with Session(shop) as session:
        assert session.execute(select(then.name).where(then.id == 1)).scalar_one() == "ann"
        assert session.execute(select(User.name)).scalar_one() == "anna"


def test_as_of_a_transaction_in_a_join(shop: Engine) -> None:
    points = _written(shop)
    point = transaction(points["first"])  # type: ignore[arg-type]
    users = for_system_time(User, as_of=point)
    orders = for_system_time(Order, as_of=point)
    stmt = select(users.name, orders.amount).join(orders, orders.user_id == users.id)
    with Session(shop) as session:
        assert [tuple(r) for r in session.execute(stmt)] == [("ann", 5)]


def test_the_same_table_at_two_points_side_by_side(shop: Engine) -> None:
    points = _written(shop)
    old = for_system_time(User.__table__, as_of=points["before"])
    new = for_system_time(User.__table__, as_of=points["after"])
    stmt = select(old.c.name, new.c.name).join(new, new.c.id == old.c.id)
    with shop.connect() as conn:
        assert [tuple(r) for r in conn.execute(stmt)] == [("ann", "anna")]


def test_all_and_ranges_expose_the_periods(shop: Engine) -> None:
    points = _written(shop)
    every = for_system_time(User.__table__, all=True)
    stmt = select(every.c.name, every.sys_from, every.sys_to).order_by(every.sys_from)
    with shop.connect() as conn:
        rows = conn.execute(stmt).all()
        assert [r[0] for r in rows] == ["ann", "anna"]
        assert rows[0][2] == rows[1][1] and rows[1][2] is None
        for kind in ("between", "from_to"):
            ranged = for_system_time(User.__table__, **{kind: (points["before"], points["after"])})
            names = conn.execute(select(ranged.c.name).order_by(ranged.sys_from)).scalars()
            assert list(names) == ["ann", "anna"]


def test_compiled_statements_are_cached_across_points(shop: Engine) -> None:
    points = _written(shop)
    names = []
    with shop.connect() as conn:
        for point in (points["before"], points["after"]):
            users = for_system_time(User.__table__, as_of=point, name="u")
            names.append(conn.execute(select(users.c.name)).scalar_one())
    assert names == ["ann", "anna"]
    stmt_a = select(for_system_time(User.__table__, as_of=1.0, name="u").c.name)
    stmt_b = select(for_system_time(User.__table__, as_of=2.0, name="u").c.name)
    assert stmt_a._generate_cache_key() == stmt_b._generate_cache_key()


def test_bad_arguments_are_refused_with_the_value() -> None:
    with pytest.raises(ArgumentError, match="exactly one"):
        for_system_time(User, as_of=1.0, all=True)
    with pytest.raises(ArgumentError, match="exactly one"):
        for_system_time(User)
    with pytest.raises(ArgumentError, match="mapped class"):
        for_system_time(object(), all=True)
    with pytest.raises(ArgumentError, match="pair"):
        for_system_time(User, between=(1.0,))  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="-3"):
        transaction(-3)
