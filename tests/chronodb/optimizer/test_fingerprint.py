from __future__ import annotations

import pytest

from chronodb.optimizer import fingerprint
from chronodb.optimizer.fingerprint import Fingerprinter, skeleton


def test_literals_become_placeholders_and_in_lists_collapse() -> None:
    fp = Fingerprinter()
    assert fp("SELECT * FROM t WHERE a = 5 AND b IN (1, 2, 'x')") == (
        "SELECT * FROM t WHERE a = ? AND b IN (?)"
    )
    assert fp("select * from t where a = -3.5") == fp("SELECT * FROM t WHERE a = 12")


def test_statements_differing_only_in_literals_share_a_fingerprint() -> None:
    fp = Fingerprinter()
    shapes = {
        fp(f"SELECT * FROM products WHERE category = 'c{i}' AND price > {i}") for i in range(50)
    }
    assert shapes == {"SELECT * FROM products WHERE category = ? AND price > ?"}
    assert fp("SELECT * FROM products WHERE sku = 'a'") != fp("SELECT * FROM products WHERE id = 1")


def test_temporal_statements_are_fingerprinted_with_the_chronosql_dialect() -> None:
    fp = Fingerprinter()
    one = fp("SELECT * FROM t AS OF TIMESTAMP 1635724800 WHERE id = 1")
    two = fp("SELECT * FROM t AS OF TIMESTAMP 1700000000 WHERE id = 99")
    assert one == two
    assert "1635724800" not in one


def test_names_with_digits_are_kept_and_bad_sql_falls_back_to_the_skeleton() -> None:
    fp = Fingerprinter()
    assert "t1" in fp("SELECT x2 FROM t1 WHERE y = 3")
    assert fp("SELECT * FROM users WHERE name = 'unterminated") == skeleton(
        "SELECT * FROM users WHERE name = 'unterminated"
    )


def test_a_repeated_statement_costs_a_dict_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    # Counted rather than timed (a timing fails on a loaded machine): sqlglot runs once per
    # query shape, and a statement seen before is not even reduced to its shape again.
    calls = {"normalize": 0, "skeleton": 0}
    for name in calls:
        real = getattr(fingerprint, name)

        def counted(sql: str, *args: str, name: str = name, real=real) -> str:
            calls[name] += 1
            return real(sql, *args)

        monkeypatch.setattr(fingerprint, name, counted)
    fp = Fingerprinter()
    sql = "SELECT * FROM t WHERE id = ?"
    (shape,) = {fp(sql) for _ in range(10_000)}
    assert calls == {"normalize": 1, "skeleton": 1}
    assert fp("SELECT * FROM t WHERE id = 5") == shape  # same shape: no parsing
    assert calls == {"normalize": 1, "skeleton": 2}


def test_explain_is_fingerprinted_without_sqlglot(caplog: pytest.LogCaptureFixture) -> None:
    """sqlglot reads EXPLAIN only as an opaque command and logs a warning for it."""
    with caplog.at_level("WARNING"):
        shape = Fingerprinter()("EXPLAIN QUERY PLAN SELECT * FROM t WHERE id = 5")
    assert shape == "EXPLAIN QUERY PLAN SELECT * FROM t WHERE id = ?"
    assert not caplog.records
