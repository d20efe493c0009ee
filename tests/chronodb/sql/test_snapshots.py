"""SQL over history: AS OF stays one index seek per key, a NULL in a key included."""

from __future__ import annotations

import pytest

from chronodb import ChronoDB
from chronodb.sql import snapshots
from chronodb.versioning.catalog import Catalog


@pytest.mark.parametrize(
    "create",
    [
        "CREATE TABLE c (a, b, v, PRIMARY KEY (a, b))",
        "CREATE TABLE c (a TEXT PRIMARY KEY, v)",
        "CREATE TABLE c (a INTEGER PRIMARY KEY, v)",
        "CREATE TABLE c (a, v)",
    ],
)
def test_as_of_seeks_each_keys_newest_version_in_the_key_index(db: ChronoDB, create: str) -> None:
    db.execute(create)
    catalog = Catalog()
    catalog.load(db.connection)
    sv = catalog.current("c")
    assert sv is not None
    null_keys = sv.hist in catalog.null_keyed
    sql = snapshots.as_of(sv, "?1", sv, null_keys=null_keys)
    plan = [r[3] for r in db.connection.execute(f"EXPLAIN QUERY PLAN {sql}", (1,))]
    seeks = [p for p in plan if p.startswith("SEARCH h2 ")]
    # One seek per key set: the keys, and those holding a NULL where the key may hold one.
    assert len(seeks) == 1 + null_keys, plan
    assert all(p.startswith("SEARCH h2 USING COVERING INDEX") for p in seeks), plan
    assert all("_chrono_tx<?" in p for p in seeks), plan
    assert not any("TEMP B-TREE" in p for p in plan), plan


def test_a_table_whose_key_may_hold_a_null_joins_and_scans_as_of(db: ChronoDB) -> None:
    db.execute("CREATE TABLE c (name TEXT PRIMARY KEY, v)")
    db.execute("CREATE TABLE o (id INTEGER PRIMARY KEY, name TEXT)")
    tx = db.execute("INSERT INTO c VALUES ('a', 1), (NULL, 2)").tx_id
    db.execute("INSERT INTO o VALUES (1, 'a')")
    sql = (
        f"SELECT o.id, c.v FROM o JOIN c AS OF TRANSACTION {tx} AS c ON c.name = o.name "
        "WHERE o.id = 1"
    )
    assert [tuple(r) for r in db.execute(sql)] == [(1, 1)]
    scan = db.execute(f"SELECT name, v FROM c AS OF TRANSACTION {tx} ORDER BY v")
    assert [tuple(r) for r in scan] == [("a", 1), (None, 2)]
