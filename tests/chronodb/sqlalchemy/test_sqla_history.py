"""history(session, Model, pk): a row's versions as model objects with tx metadata."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, create_engine, delete, update
from sqlalchemy.orm import Session
from tests.chronodb.sqlalchemy.models import Base, Order, User

from chronodb.errors import ArgumentError
from chronodb.sqlalchemy import history


def test_history_lists_orm_and_bulk_writes_as_objects(shop: Engine) -> None:
    with Session(shop) as session:
        session.add(User(id=1, name="ann", orders=[Order(id=1, amount=5)]))
        session.commit()
        session.execute(update(Order).values(amount=6))
        session.commit()
        session.execute(delete(Order).where(Order.id == 1))
        session.commit()
        versions = history(session, Order, 1)
    assert [(v.operation, v.obj.amount, v.obj.user_id) for v in versions] == [
        ("INSERT", 5, 1),
        ("UPDATE", 6, 1),
        ("DELETE", 6, 1),
    ]
    assert all(isinstance(v.obj, Order) for v in versions)
    ids = [v.tx_id for v in versions]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert versions[0].tx_time <= versions[-1].tx_time
    assert versions[0].tx_time.tzinfo is not None


def test_history_of_a_row_never_written_is_empty(shop: Engine) -> None:
    with Session(shop) as session:
        assert history(session, User, 42) == []


def test_history_needs_a_chronodb_engine(tmp_path: object) -> None:
    plain = create_engine("sqlite://")
    Base.metadata.create_all(plain)
    with Session(plain) as session, pytest.raises(ArgumentError, match="sqlite"):
        history(session, User, 1)
    plain.dispose()
