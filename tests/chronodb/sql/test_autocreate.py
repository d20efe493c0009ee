"""The table an INSERT into a missing table describes: names, kinds and key."""

from __future__ import annotations

import pytest

from chronodb.sql.autocreate import NewColumn, NewTable, from_insert


def test_the_seeds_quick_start() -> None:
    sql = "INSERT INTO users (id, name, email) VALUES (1, 'Alice', 'alice@email.com')"
    assert from_insert(sql, None) == NewTable(
        None,
        "users",
        (
            NewColumn("id", "integer", True),
            NewColumn("name", "text", False),
            NewColumn("email", "text", False),
        ),
    )


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ("(1), (2)", "integer"),
        ("(1), (2.5)", "real"),
        ("(-3), (TRUE)", "integer"),
        ("(TRUE), (FALSE)", "boolean"),
        ("('a'), (NULL)", "text"),
        ("(1), ('a')", ""),
        ("(NULL)", ""),
    ],
)
def test_a_columns_kind_is_that_of_all_its_values(values: str, kind: str) -> None:
    new = from_insert(f"INSERT INTO t (v) VALUES {values}", None)
    assert new is not None and new.columns[0].kind == kind


@pytest.mark.parametrize(
    ("sql", "params", "backend"),
    [
        ("INSERT INTO t (id, v) VALUES (?, ?)", [1, b"x"], "sqlite"),
        ("INSERT INTO t (id, v) VALUES (:i, :v)", {"i": 1, "v": b"x"}, "sqlite"),
        ("INSERT INTO t (id, v) VALUES (%s, %s)", [1, b"x"], "postgresql"),
        ("INSERT INTO t (id, v) VALUES (%(i)s, %(v)s)", {"i": 1, "v": b"x"}, "postgresql"),
    ],
)
def test_parameters_give_their_values_kinds(sql: str, params: object, backend: str) -> None:
    new = from_insert(sql, params, backend)  # type: ignore[arg-type]
    assert new is not None
    assert [(c.kind, c.primary) for c in new.columns] == [("integer", True), ("blob", False)]


def test_postgresql_folds_unquoted_names_and_keeps_the_schema() -> None:
    new = from_insert('INSERT INTO Shop."Items" (ID, "Name") VALUES (1, 2)', None, "postgresql")
    assert new is not None
    assert (new.schema, new.name) == ("shop", "Items")
    assert [c.name for c in new.columns] == ["id", "Name"]
    assert new.columns[0].primary


def test_the_key_is_an_integer_id_or_else_a_first_id() -> None:
    later = from_insert("INSERT INTO t (code, id) VALUES ('a', 1)", None)
    assert later is not None and [c.primary for c in later.columns] == [False, True]
    first = from_insert("INSERT INTO t (id, n) VALUES ('a', 1)", None)
    assert first is not None and [c.primary for c in first.columns] == [True, False]
    none = from_insert("INSERT INTO t (code, n) VALUES ('a', 1)", None)
    assert none is not None and not any(c.primary for c in none.columns)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t VALUES (1, 2)",  # no column list
        "UPDATE t SET v = 1",
        "INSERT INTO _chrono_tx (id) VALUES (1)",
        "INSERT INTO t (id) VALUES (1); INSERT INTO u (id) VALUES (2)",
        "INSERT INTO t (id VALUES",
    ],
)
def test_what_creates_no_table(sql: str) -> None:
    assert from_insert(sql, None) is None
