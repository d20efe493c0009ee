"""A temporal query answers exactly as SQLite does for every part the rewrite does not touch.

Each expression and statement below runs three ways over the same rows of mixed types: read
now through ChronoDB, read ``AS OF TIMESTAMP 9e9`` (now, through the temporal rewrite),
and in plain sqlite3. Values, their storage classes and REAL bits must be the same.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from fixtures import load
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from sqlglot import exp

from chronodb import ChronoDB
from chronodb.errors import ChronoDBError, SQLSyntaxError
from chronodb.sql import spans
from chronodb.sql.dialect import parse, to_sql
from chronodb.sql.rules.changes_function import changes_function
from chronodb.sql.rules.column_names import keep_column_names
from chronodb.sql.rules.query_as_of import push_query_as_of
from chronodb.sql.rules.rowid_columns import expose_rowids

NOW = "AS OF TIMESTAMP 9e9"
ROWS = [
    (1, 5, 2.5, "5", '{"a": [1, 2], "b": "x"}'),
    (2, "5", 7, " 7 ", "[1, 2.5]"),
    (3, 2.5, None, "abc", "true"),
    (4, None, "abc", "a%b", None),
    (5, b"\x01\x02", 1e308, "ABC", '{"a": null}'),
    (6, -0.0, 9223372036854775807, "2000-01-01", "3"),
    (7, "12.0", -3, "", "{}"),
    (8, 0.1, 0.2, "a_c", '"s"'),
]
SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, a, b, s TEXT, j)"
VIEW = "CREATE VIEW w AS SELECT id, CAST(s AS NUMERIC) AS n, mod(b, 2) AS m FROM t"

TYPE_NAMES = [
    "INTEGER", "INT", "TINYINT", "SMALLINT", "MEDIUMINT", "BIGINT", "UNSIGNED BIG INT",
    "INT2", "INT8", "CHARACTER(20)", "VARCHAR(10)", "VARYING CHARACTER(255)", "NCHAR(55)",
    "NATIVE CHARACTER(70)", "NVARCHAR(100)", "TEXT", "CLOB", "BLOB", "REAL", "DOUBLE",
    "DOUBLE PRECISION", "FLOAT", "NUMERIC", "DECIMAL(10,5)", "DECIMAL(10, 5)", "BOOLEAN",
    "DATE", "DATETIME", "TIMESTAMP", "STRING", "JSON", "MONEY", "UUID", "CHAR", "BIT",
    "INTERVAL", "SIGNED", "FLOATING POINT", "BIG INT",
]  # fmt: skip

EXPRESSIONS = [
    *(f"CAST(a AS {name})" for name in TYPE_NAMES),
    *(f"CAST(s AS {name})" for name in ("NUMERIC", "BOOLEAN", "DATE", "STRING", "REAL")),
    "mod(a, 3)", "a % 3", "mod(b, 2.5)", "a || b", "s || x'41'", "j -> '$.a'", "j ->> '$.a'",
    "j -> 'a'", "j ->> 'b'", "json_extract(j, '$.a[1]')", "json_array(b, s)",
    "json_object('k', b)", "json_type(j)", "json_valid(j)", "json(j)", "json_array_length(j)",
    "iif(a > 1, 'x', 'y')", "s LIKE 'a%'", "s LIKE 'a!%b' ESCAPE '!'", "s NOT LIKE '%B%'",
    "s GLOB 'a*'", "s NOT GLOB '[A-Z]*'", "s COLLATE NOCASE = 'abc'", "s = 'abc' COLLATE NOCASE",
    "s < 'b' COLLATE RTRIM", "CASE a WHEN 5 THEN 'five' WHEN '5' THEN 'text' ELSE 'other' END",
    "CASE WHEN a > 1 THEN a END", "a IS DISTINCT FROM b", "a IS NOT DISTINCT FROM b",
    "a IS b", "a IS NOT b", "a IS NULL", "a NOTNULL", "a ISNULL", "x'0102'", "hex(X'ff' || s)",
    "1e3", "0x10", ".5", "1.", "-a", "+s", "~b", "b << 2", "b & 6", "b | 1", "a / 2",
    "a / 2.0", "round(b, 1)", "abs(a)", "length(s)", "substr(s, 2)", "substring(s, 2, 1)",
    "instr(s, 'b')", "printf('%5.2f', b)", "format('%d', b)", "coalesce(a, b)",
    "ifnull(a, 0)", "nullif(a, 5)", "max(a, b)", "min(a, b)", "typeof(a)", "quote(a)",
    "hex(a)", "unicode(s)", "char(65, 66)", "trim(s)", "ltrim(s, 'a')", "replace(s, 'a', 'b')",
    "upper(s)", "lower(s)", "a BETWEEN 1 AND 5", "a NOT BETWEEN '1' AND '6'",
    "a IN (1, 2, '5')", "a NOT IN (SELECT b FROM t WHERE b IS NOT NULL)",
    "EXISTS (SELECT 1 FROM t WHERE b = 7)", "(SELECT max(a) FROM t)", "strftime('%Y', b)",
    "datetime(b, 'unixepoch')", "julianday(s)", "unixepoch(s)", "zeroblob(2)", "likely(a)",
    "a = 5 AND s = '5'", "NOT a", "a > '4'", "a == b", "a <> b", "a != b",
    "sqrt(b)", "pow(b, 2)", "power(b, 0.5)", "ln(b)", "log(b)", "log(2, b)", "log10(b)",
    "ceil(b)", "ceiling(b)", "floor(b)", "trunc(b)", "sign(b)", "pi()", "degrees(b)",
    "exp(b)", "a + b", "a * b", "a - b", "b % 0", "b / 0", "1 / 0.0", "'5' + 0", "'abc' * 1",
    "CAST('1e3' AS INTEGER)", "CAST(' 12 ' AS NUMERIC)", "CAST('0x10' AS INTEGER)",
    "9223372036854775807 + 1", "-9223372036854775808", "0.1 + 0.2", "1e308 * 10",
    "random() IS NOT NULL", "last_insert_rowid() >= 0",
    "total_changes() >= 0", "sqlite_version() IS NOT NULL", "glob('a*', s)",
    "like('a%', s)", "like('a!%', s, '!')", "length(randomblob(3))",
]  # fmt: skip

STATEMENTS = [
    "SELECT a, row_number() OVER (ORDER BY a NULLS FIRST, id) FROM {T} ORDER BY id",
    "SELECT id, sum(id) OVER (PARTITION BY typeof(b) ORDER BY id "
    "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM {T} ORDER BY id",
    "SELECT a, sum(b) OVER w, rank() OVER w FROM {T} WINDOW w AS (ORDER BY id) ORDER BY id",
    "SELECT a FROM {T} ORDER BY a NULLS LAST, id",
    "SELECT a FROM {T} ORDER BY a DESC NULLS FIRST, id",
    "SELECT a, b FROM {T} ORDER BY a COLLATE NOCASE, id",
    "WITH c AS (SELECT a, b FROM {T}) SELECT * FROM c ORDER BY 1, 2",
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3) "
    "SELECT x, a FROM n, {T} ORDER BY x, id",
    "SELECT a FROM {T} UNION SELECT b FROM t ORDER BY 1",
    "SELECT a FROM {T} UNION ALL SELECT b FROM t ORDER BY 1",
    "SELECT a FROM {T} INTERSECT SELECT b FROM t",
    "SELECT a FROM {T} EXCEPT SELECT b FROM t ORDER BY 1",
    "SELECT b FROM t EXCEPT SELECT a FROM {T} ORDER BY 1",
    "SELECT count(*), sum(b), total(b), avg(b), group_concat(s, ';'), "
    "count(DISTINCT typeof(a)), max(s), min(a) FROM {T}",
    "SELECT typeof(a), count(*) FROM {T} GROUP BY 1 HAVING count(*) > 0 ORDER BY 1",
    "SELECT * FROM (SELECT b + 1 AS x FROM {T}) WHERE x > 1 ORDER BY x",
    "SELECT s FROM {T} WHERE s LIKE '%!%%' ESCAPE '!' ORDER BY id",
    "SELECT DISTINCT typeof(b) FROM {T} ORDER BY 1",
    "SELECT a FROM {T} ORDER BY id LIMIT 2 OFFSET 1",
    "SELECT a FROM {T} ORDER BY id LIMIT 1, 2",
    "SELECT t.a, u.b FROM {T} JOIN t AS u ON u.id = t.id + 1 ORDER BY t.id",
    "SELECT a, (SELECT count(*) FROM t AS u WHERE u.id < t.id) FROM {T} ORDER BY id",
    "SELECT id FROM {T} WHERE a IN (SELECT b FROM t) OR s IN ('abc', 'ABC') ORDER BY 1",
    "SELECT CAST(a AS NUMERIC), mod(b, 3), j ->> '$.a', a||b, s COLLATE NOCASE FROM {T}",
    "SELECT id, a FROM {T} WHERE id = ? ORDER BY id",
    "SELECT id, ? || s, mod(?, 3), CAST(? AS NUMERIC) FROM {T} WHERE id > ? ORDER BY id",
    "SELECT CAST(rowid AS NUMERIC) || '', a FROM {T} WHERE rowid % 2 = 0",
    "SELECT json_group_array(a), json_group_object(s, b) FROM {T} WHERE id < 4",
    "SELECT a FROM {T} /* a comment */ WHERE -- another\n id > 6 ORDER BY id",
    "SELECT t.id, u.a FROM t JOIN t AS u ON u.id = t.id {Q} WHERE CAST(t.s AS NUMERIC) > 0 "
    "ORDER BY 1",
    "SELECT id, u.a, mod(u.b, 2) FROM t JOIN t AS u USING (id) {Q} ORDER BY id",
    "SELECT * FROM t NATURAL JOIN t AS u {Q} ORDER BY id",
    "SELECT x.id, y.s || x.s FROM t AS x, t AS y {Q} WHERE x.id = y.id + 1 ORDER BY 1",
    "SELECT * FROM w {Q} ORDER BY id",
    "SELECT n, typeof(n), m FROM w {Q} WHERE m IS NOT NULL ORDER BY id",
    "SELECT * FROM (SELECT id, mod(b, 3) AS m FROM t) {Q} ORDER BY id",
    "SELECT id, CAST(s AS NUMERIC) FROM t WHERE id IN (SELECT id FROM {T} WHERE mod(id, 2) = 0) "
    "ORDER BY id",
    "SELECT (SELECT CAST(s AS NUMERIC) FROM {T} WHERE id = 2) AS x, CAST('7' AS NUMERIC)",
    "SELECT rowid AS r, CAST(a AS NUMERIC) FROM {T} WHERE rowid > 2 ORDER BY rowid",
    "SELECT mod(rowid, 3), -rowid, CAST(rowid AS TEXT) || 'x' FROM {T} ORDER BY id",
    "SELECT t.s FROM {T} LEFT JOIN t AS u ON u.id = t.id + 100 WHERE u.id IS NULL ORDER BY t.id",
]
PARAMS = {
    "SELECT id, a FROM {T} WHERE id = ? ORDER BY id": [2],
    "SELECT id, ? || s, mod(?, 3), CAST(? AS NUMERIC) FROM {T} WHERE id > ? ORDER BY id": [
        "x",
        7.5,
        "5",
        3,
    ],
}


EXPRESSIONS_OF_A_SELECT_LIST = (exp.Func, exp.Binary, exp.Unary, exp.Case, exp.Column, exp.Literal)


def _exact(value: Any) -> tuple[str, Any]:
    """A value with its storage class, REALs by their bits (so -0.0 is not 0.0)."""
    if isinstance(value, float):
        return ("real", "nan" if math.isnan(value) else value.hex())
    return (type(value).__name__, value)


@pytest.fixture(scope="module")
def both() -> Iterator[tuple[ChronoDB, sqlite3.Connection]]:
    """The same rows in ChronoDB (written in two steps, so they have history) and in sqlite3."""
    db = ChronoDB(":memory:")
    raw = sqlite3.connect(":memory:")
    db.execute(SCHEMA)
    raw.execute(SCHEMA)
    db.executemany("INSERT INTO t VALUES (?, ?, ?, 'old', NULL)", [r[:3] for r in ROWS])
    db.executemany("UPDATE t SET s = ?, j = ? WHERE id = ?", [(*r[3:], r[0]) for r in ROWS])
    raw.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", ROWS)
    db.execute(VIEW)
    raw.execute(VIEW)
    yield db, raw
    db.close()
    raw.close()


def _three_ways(
    both: tuple[ChronoDB, sqlite3.Connection], sql: str, params: list[Any]
) -> tuple[tuple, tuple, tuple]:
    db, raw = both
    now = db.execute(sql.format(T="t", Q=""), params)
    past = db.execute(sql.format(T=f"t {NOW}", Q=NOW), params)
    plain = raw.execute(sql.format(T="t", Q=""), params)
    names = [d[0] for d in plain.description]

    def exact(rows: Any) -> list[list[tuple[str, Any]]]:
        return [[_exact(v) for v in row] for row in rows]

    return (
        (now.columns, exact(now)),
        (past.columns, exact(past)),
        (names, exact(plain.fetchall())),
    )


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_an_expression_answers_as_in_sqlite(
    both: tuple[ChronoDB, sqlite3.Connection], expression: str
) -> None:
    sql = f"SELECT {expression}, typeof({expression}) FROM {{T}} ORDER BY id"
    now, past, plain = _three_ways(both, sql, [])
    assert now == plain
    assert past == plain


@pytest.mark.parametrize("sql", STATEMENTS)
def test_a_statement_answers_as_in_sqlite(
    both: tuple[ChronoDB, sqlite3.Connection], sql: str
) -> None:
    now, past, plain = _three_ways(both, sql, PARAMS.get(sql, []))
    assert now == plain
    assert past == plain


def test_a_table_made_from_the_past_holds_what_sqlite_would_put_there() -> None:
    db = ChronoDB(":memory:")
    raw = sqlite3.connect(":memory:")
    for target in (db, raw):
        target.execute(SCHEMA)
        target.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", ROWS)
    select = "SELECT id, CAST(s AS NUMERIC) AS n, mod(b, 2) AS m, a || s AS c FROM t"
    db.execute(f"CREATE TABLE made AS {select} {NOW}")
    raw.execute(f"CREATE TABLE made AS {select}")
    db.execute(f"INSERT INTO made {select} {NOW}")
    raw.execute(f"INSERT INTO made {select}")
    read = "SELECT n, typeof(n), m, typeof(m), c FROM made ORDER BY rowid"
    assert [[_exact(v) for v in r] for r in db.execute(read)] == [
        [_exact(v) for v in r] for r in raw.execute(read)
    ]
    db.close()
    raw.close()


GOLDEN = ("dialect.sql", "query_as_of.sql", "rowid_columns.sql", "column_names.sql")


@pytest.mark.parametrize(
    "sql",
    [f"SELECT {e} FROM t {NOW}" for e in EXPRESSIONS]
    + STATEMENTS
    + [case.values[0] for name in GOLDEN for case in load(name)],
)
def test_every_span_is_text_that_parses_to_its_node(sql: str) -> None:
    """Each node's span, parsed again, gives the same node (so writing it as its text is
    writing the node)."""
    tree = parse(sql.format(T=f"t {NOW}", Q=NOW))[0]
    for node in tree.walk():
        text = spans.text_of(node)
        if text is None or not isinstance(node, EXPRESSIONS_OF_A_SELECT_LIST):
            continue
        if node.find(exp.Placeholder):  # numbered by their place in the statement
            continue
        again = parse(f"SELECT {text}")[0].expressions[0]
        assert to_sql(again, comments=False) == to_sql(node, comments=False), text


@pytest.mark.parametrize(("sql", "expected"), load("verbatim.sql"))
def test_what_the_rules_leave_alone_is_written_as_given(sql: str, expected: str) -> None:
    tree = changes_function(parse(sql)[0])
    tree = expose_rowids(push_query_as_of(keep_column_names(tree)))
    assert to_sql(tree, verbatim=True) == expected


# Columns without a declared type only: a column's affinity in the past is another matter.
# rowid and the subquery are rewritten: what is around them must be spliced, not respelled
# (rowid + 0: without the rowid's INTEGER affinity, which the past's rowid column lacks).
ATOMS = [
    "(rowid + 0)",
    "(SELECT max(b) FROM {T})",
    "a",
    "b",
    "j",
    "'5'",
    "2.5",
    "x'01'",
    "NULL",
    "1e3",
    "0x10",
    "-0.0",
    "?",
]
OPERATORS = [" + ", " - ", " * ", " / ", " % ", " || ", " = ", " <> ", " < ", " IS "]
OPERATORS += [" IS NOT ", " AND ", " OR ", " LIKE ", " GLOB ", " == ", " & ", " << "]
TYPES = ["NUMERIC", "INTEGER", "REAL", "TEXT", "BLOB", "BOOLEAN", "DATE", "STRING", "INT8"]


def _expressions() -> st.SearchStrategy[str]:
    """SQLite expressions over the test table, built from the forms sqlglot respells."""
    atoms = st.sampled_from(ATOMS)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        pair = st.tuples(inner, inner)
        return st.one_of(
            st.tuples(st.sampled_from(["-", "+", "NOT ", "~"]), inner).map("".join),
            st.tuples(
                inner,
                st.sampled_from(OPERATORS),
                inner,
            ).map("".join),
            pair.map(lambda p: f"mod({p[0]}, {p[1]})"),
            pair.map(lambda p: f"iif({p[0]}, {p[1]}, NULL)"),
            pair.map(lambda p: f"coalesce({p[0]}, {p[1]})"),
            pair.map(lambda p: f"max({p[0]}, {p[1]})"),
            st.tuples(inner, st.sampled_from(TYPES)).map(lambda p: f"CAST({p[0]} AS {p[1]})"),
            st.tuples(inner, inner, inner).map(
                lambda p: f"CASE WHEN {p[0]} THEN {p[1]} ELSE {p[2]} END"
            ),
            # (sqlglot misreads some operands of BETWEEN and IN that SQLite takes unwrapped)
            st.tuples(inner, inner, inner).map(lambda p: f"({p[0]}) BETWEEN ({p[1]}) AND {p[2]}"),
            pair.map(lambda p: f"({p[0]}) IN ({p[1]}, 2)"),
            inner.map(lambda e: f"({e})"),
            atoms.map(lambda e: f"{e} COLLATE NOCASE"),  # sqlglot reads COLLATE after a term
            inner.map(lambda e: f"typeof({e})"),
            inner.map(lambda e: f"abs({e})"),
            inner.map(lambda e: f"{e} IS NOT NULL"),
        )

    return st.recursive(atoms, extend, max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(expression=_expressions(), value=st.sampled_from([3, "5", 2.5, None, b"\x01"]))
def test_random_expressions_answer_as_in_sqlite(
    both: tuple[ChronoDB, sqlite3.Connection], expression: str, value: Any
) -> None:
    sql = f"SELECT {expression} AS r, typeof({expression}) FROM {{T}} ORDER BY id"
    params = [value] * (sql.count("?"))
    db, raw = both
    try:
        expected: Any = [[_exact(v) for v in row] for row in raw.execute(sql.format(T="t"), params)]
    except sqlite3.Error as err:
        expected = type(err)
    try:
        past = db.execute(sql.format(T=f"t {NOW}"), params)
        got: Any = [[_exact(v) for v in row] for row in past]
    except SQLSyntaxError as err:
        # sqlglot's grammar is narrower than SQLite's in places (a IN (...) COLLATE x): a
        # refusal is not a wrong answer, which is what this looks for
        if expected is sqlite3.OperationalError or not str(err).startswith("Syntax error:"):
            got = sqlite3.OperationalError
        else:
            reject()
    except ChronoDBError:
        got = sqlite3.OperationalError  # SQLite refused the rewrite as it refused the original
    assert got == expected, sql
