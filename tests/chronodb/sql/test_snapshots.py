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
    sql = snapshots.as_of(sv, "?", sv)
    plan = [r[3] for r in db.connection.execute(f"EXPLAIN QUERY PLAN {sql}", (1,))]
    seek = [p for p in plan if p.startswith("SEARCH h2 USING COVERING INDEX")]
    assert len(seek) == 1, plan
    assert "_chrono_tx<?" in seek[0], plan
    assert not any("TEMP B-TREE" in p for p in plan), plan
