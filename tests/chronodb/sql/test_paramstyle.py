"""SQLite's placeholders in statements for PostgreSQL: converted outside literals only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronodb.errors import ArgumentError, ChronoDBError
from chronodb.sql.paramstyle import complete_statement, for_psycopg, several_statements


def test_question_marks_become_psycopg_positional_placeholders() -> None:
    assert for_psycopg("SELECT * FROM t WHERE a = ? AND b = ?", (1, 2)) == (
        "SELECT * FROM t WHERE a = %s AND b = %s",
        (1, 2),
    )


def test_nothing_inside_literals_names_or_comments_is_a_placeholder() -> None:
    sql = (
        "SELECT '?', \"a?\", E'it\\'s ?', $$ ? $$, $x$ :no $x$ -- ?\n"
        "/* ? /* nested ? */ ? */ FROM t WHERE a = ?"
    )
    text, params = for_psycopg(sql, [5])
    assert text.endswith("WHERE a = %s")
    assert text.count("%s") == 1
    assert params == [5]


def test_percent_signs_are_escaped_for_psycopg_everywhere() -> None:
    text, _ = for_psycopg("SELECT a % 2 FROM t WHERE b LIKE 'x%' AND c = ?", [1])
    assert text == "SELECT a %% 2 FROM t WHERE b LIKE 'x%%' AND c = %s"


def test_casts_are_not_named_placeholders() -> None:
    text, params = for_psycopg("SELECT :v::int, a::text FROM t", {"v": "3"})
    assert text == "SELECT %(v)s::int, a::text FROM t"
    assert params == {"v": "3"}


def test_numbered_placeholders_pick_values_as_sqlite_does() -> None:
    with pytest.raises(ArgumentError, match=r"\?3"):
        for_psycopg("SELECT ?2, ?1, ?", ["a", "b"])
    text, params = for_psycopg("SELECT ?2, ?1, ?", ["a", "b", "c"])
    assert text == "SELECT %(_2)s, %(_1)s, %(_3)s"
    assert params == {"_1": "a", "_2": "b", "_3": "c"}
    text, params = for_psycopg("SELECT ?2, ?1", ["a", "b"])
    assert params == {"_1": "a", "_2": "b"}


def test_double_question_mark_is_postgresqls_own_operator() -> None:
    text, _ = for_psycopg("SELECT doc ?? 'k' FROM t WHERE id = ?", [1])
    assert text == "SELECT doc ? 'k' FROM t WHERE id = %s"


def test_psycopg_style_and_parameterless_statements_are_untouched() -> None:
    sql = "SELECT * FROM t WHERE a = %s AND b LIKE 'x%%'"
    assert for_psycopg(sql, [1]) == (sql, [1])
    named = "SELECT %(a)s"
    assert for_psycopg(named, {"a": 1}) == (named, {"a": 1})
    assert for_psycopg("SELECT doc ? 'k', 5 % 2", None) == ("SELECT doc ? 'k', 5 % 2", None)


@pytest.mark.parametrize(
    ("sql", "params", "message"),
    [
        ("SELECT ?", {"a": 1}, "sequence"),
        ("SELECT :a", [1], "mapping"),
        ("SELECT :a", {"b": 1}, ":a"),
        ("SELECT ?, :a", [1], "not both"),
        ("SELECT 1", {"a": 1}, "no :name"),
    ],
)
def test_mismatched_parameters_say_what_the_statement_wanted(
    sql: str, params: object, message: str
) -> None:
    with pytest.raises(ChronoDBError, match=message):
        for_psycopg(sql, params)


_literal = st.text(alphabet="?:%ab' -*/$", max_size=8).map(
    lambda s: "'" + s.replace("'", "''") + "'"
)


@given(st.lists(st.one_of(_literal, st.just("?")), min_size=1, max_size=8))
def test_only_placeholders_outside_literals_count(parts: list[str]) -> None:
    sql = "SELECT " + ", ".join(parts)
    marks = parts.count("?")
    text, _ = for_psycopg(sql, list(range(marks)))
    assert text.count("%s") == marks
    # every literal is kept, with its % doubled as psycopg needs
    for part in parts:
        if part != "?":
            assert part.replace("%", "%%") in text


def test_postgresql_answers_the_converted_statement() -> None:
    import os

    import psycopg

    url = os.environ.get(
        "CHRONODB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    sql = "SELECT ?::int + 1, 'a%?' || :x, $q$?$q$, '{\"k\": 1}'::jsonb ?? 'k'"
    with psycopg.connect(url, connect_timeout=5) as conn:
        text, params = for_psycopg(sql.replace(":x", "?"), [41, "b"])
        assert conn.execute(text, params).fetchone() == (42, "a%?b", "?", True)
        text, params = for_psycopg("SELECT :a::int * :b::int", {"a": 6, "b": 7})
        assert conn.execute(text, params).fetchone() == (42,)


def test_statements_cut_a_script_at_the_semicolons_of_its_code() -> None:
    from chronodb.sql.paramstyle import statements

    script = "SELECT ';'; SELECT $x$ ; $x$ /* ; */; -- ; \nSELECT 3"
    assert statements(script) == ["SELECT ';';", " SELECT $x$ ; $x$ /* ; */;", " -- ; \nSELECT 3"]


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("SELECT 1;", True),
        ("SELECT 1", False),
        ("SELECT 1; -- done", True),
        ("SELECT 1; /* done */", True),
        ("SELECT 1; /* not yet", False),
        ("SELECT 'a;", False),
        ("SELECT 'a;';", True),
        ("SELECT $$a;", False),
        ("SELECT $f$a;$f$;", True),
        ('SELECT 1 AS "x;"', False),
        ("SELECT 1; SELECT", False),
        ("", False),
    ],
)
def test_a_statement_is_complete_at_a_semicolon_in_its_code(text: str, complete: bool) -> None:
    assert complete_statement(text) is complete


@pytest.mark.parametrize(
    ("text", "several"),
    [
        ("SELECT 1", False),
        ("SELECT 1;", False),
        ("SELECT 1; -- done", False),
        ("SELECT 'a;b'", False),
        ("SELECT $$a; b$$;", False),
        ("SELECT 1; SELECT 2", True),
        ("SELECT 1;\n/* c */ UPDATE t SET v = 1", True),
    ],
)
def test_several_statements_are_told_from_one(text: str, several: bool) -> None:
    assert several_statements(text) is several
