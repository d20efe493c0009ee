"""Bad input raises a ChronoDBError that says what and where, and changes nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from chronodb import (
    ArgumentError,
    AuditError,
    ChronoDB,
    ChronoDBError,
    ConfigError,
    IntegrityError,
    SchemaError,
    SQLError,
    SQLSyntaxError,
    StorageError,
    TemporalError,
    TimestampError,
    TransactionError,
)


def snapshot(db: ChronoDB) -> tuple:
    """Everything a bad statement must leave alone: rows, history, transactions, schema."""
    return (
        [tuple(r) for r in db.execute("SELECT * FROM users ORDER BY id")],
        [tuple(r) for r in db.execute("SELECT * FROM users FOR SYSTEM_TIME ALL ORDER BY id")],
        [tuple(r) for r in db.execute("SELECT * FROM _chrono_tx ORDER BY tx_id")],
        [tuple(r) for r in db.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name")],
    )


@pytest.fixture
def users(db: ChronoDB) -> Iterator[ChronoDB]:
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO users VALUES (1, 'Alice'), (2, 'Bob')")
    db.execute("UPDATE users SET name = 'Al' WHERE id = 1")
    before = snapshot(db)
    yield db
    assert snapshot(db) == before, "a rejected statement changed the database"


MALFORMED = [
    # (statement, the text at the reported position)
    ("SELEC * FROM users", "SELEC"),
    ("SELECT * FROM users WHERE id = = 1", "= 1"),
    ("SELECT * FROM users WHERE name = 'a' AND id = = 1", "= 1"),
    ("SELECT * FROM users ORDER id", "id"),
    ("UPDATE users SET name = WHERE id = 1", "WHERE"),
    ("INSERT INTO users VALUES (3, 'x'))", ")"),
    ("DELETE users WHERE id = 1", "users"),
    ("SELECT * FROM users WHERE name = 'unterminated", "'unterminated"),
    ("SELECT * FROM users AS OF TIMESTAMP", "TIMESTAMP"),
    ("SELECT * FROM users AS OF TIMESTAMP 5 WHERE id = = 1", "= 1"),
    ("SELECT * FROM users\nAS OF TIMESTAMP 5\nWHERE id IN (1 2)", "2)"),
    ("INSERT INTO users SELECT * FROM users AS OF TIMESTAMP 5 WHERE", ""),
]


@pytest.mark.parametrize(("sql", "at"), MALFORMED)
def test_malformed_sql_points_at_the_bad_token(users: ChronoDB, sql: str, at: str) -> None:
    with pytest.raises(SQLSyntaxError) as info:
        users.execute(sql)
    err = info.value
    assert err.position is not None
    assert sql[err.position :].startswith(at)
    assert err.sql == sql
    assert f"line {err.line}, column {err.column}" in str(err)


def test_incomplete_statement_points_at_its_end(users: ChronoDB) -> None:
    sql = "SELECT * FROM users WHERE"
    with pytest.raises(SQLSyntaxError) as info:
        users.execute(sql)
    assert info.value.position == len(sql)


def test_syntax_error_position_is_line_and_column(users: ChronoDB) -> None:
    sql = "SELECT *\nFROM users\nWHERE id = = 1"
    with pytest.raises(SQLSyntaxError) as info:
        users.execute(sql)
    assert (info.value.line, info.value.column) == (3, 12)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM nope AS OF TIMESTAMP 5",
        "SELECT * FROM users JOIN nope ON nope.id = users.id AS OF TIMESTAMP 5",
        "SELECT * FROM nope FOR SYSTEM_TIME ALL",
        "SELECT * FROM users WHERE id IN (SELECT id FROM nope AS OF TRANSACTION 1)",
        "INSERT INTO users SELECT * FROM nope AS OF TIMESTAMP 5",
        "CREATE TABLE copy AS SELECT * FROM nope AS OF TIMESTAMP 5",
    ],
)
def test_unknown_table_in_a_temporal_clause(users: ChronoDB, sql: str) -> None:
    with pytest.raises(SchemaError) as info:
        users.execute(sql)
    assert info.value.table == "nope"
    assert "nope" in str(info.value)
    assert info.value.position == sql.index("nope")


@pytest.mark.parametrize(
    ("sql", "kind", "name", "at"),
    [
        ("SELECT * FROM nope", "table", "nope", "nope"),
        ("UPDATE users SET missing = 1", "column", "missing", "missing"),
        ("SELECT users.missing FROM users", "column", "users.missing", "users.missing"),
        ("SELECT id\nFROM users WHERE Missing > 1", "column", "Missing", "Missing"),
        ("INSERT INTO users (id, missing) VALUES (3, 1)", "column", "missing", "missing"),
        ("SELECT missing FROM users AS OF TIMESTAMP 5", "column", "missing", "missing"),
    ],
)
def test_unknown_table_or_column_names_it_and_where_it_is(
    users: ChronoDB, sql: str, kind: str, name: str, at: str
) -> None:
    with pytest.raises(SchemaError) as info:
        users.execute(sql)
    assert getattr(info.value, kind) == name
    assert info.value.position == sql.index(at)
    line = sql[: sql.index(at)].count("\n") + 1
    assert f"(line {line}, column " in str(info.value)


BAD_TIMES = [
    "yesterday-ish",
    -5,
    [1, 2],
    -0.5,
    float("nan"),
    True,
    "2025-13-45T00:00:00",
    b"5",
    10**20,  # too big for SQLite
    1.7e15,  # microseconds where seconds are meant
]


@pytest.mark.parametrize("value", BAD_TIMES, ids=repr)
def test_bad_timestamp_parameter_names_the_value(users: ChronoDB, value: object) -> None:
    for sql in (
        "SELECT * FROM users AS OF TIMESTAMP ?",
        "SELECT * FROM users FOR SYSTEM_TIME BETWEEN 0 AND ?",
        "UPDATE users SET name = 'x' WHERE id IN (SELECT id FROM users AS OF TIMESTAMP ?)",
    ):
        with pytest.raises(TimestampError) as info:
            users.execute(sql, [value])
        assert info.value.value is value
        assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("literal", "value"), [("'yesterday-ish'", "yesterday-ish"), ("-5", -5), ("'2025-02-30'", None)]
)
def test_bad_timestamp_literal_names_the_value_and_position(
    users: ChronoDB, literal: str, value: object
) -> None:
    sql = f"SELECT * FROM users AS OF TIMESTAMP {literal} WHERE id = 1"
    with pytest.raises(TimestampError) as info:
        users.execute(sql)
    if value is not None:
        assert info.value.value == value
        assert type(info.value.value) is type(value)
    assert literal.strip("'") in str(info.value)
    start = sql.index(literal)
    assert start <= info.value.position < start + len(literal)


def test_bad_timestamp_in_a_restore_creates_nothing(users: ChronoDB) -> None:
    with pytest.raises(TimestampError):
        users.execute("CREATE TABLE copy AS SELECT * FROM users AS OF TIMESTAMP 'soon'")
    assert users.tables() == ["users"]


def test_bad_transaction_number(users: ChronoDB) -> None:
    with pytest.raises(TemporalError) as info:
        users.execute("SELECT * FROM users AS OF TRANSACTION ?", ["latest"])
    assert "'latest'" in str(info.value)


@pytest.mark.parametrize(
    ("sql", "params"),
    [("SELECT * FROM users AS OF TRANSACTION -3", None), ("... AS OF TRANSACTION ?", [-1])],
)
def test_a_negative_transaction_number_is_refused(
    users: ChronoDB, sql: str, params: list | None
) -> None:
    """It used to read the table as it was before it existed: one row of NULLs."""
    sql = sql.replace("...", "SELECT * FROM users")
    with pytest.raises(TemporalError, match="0 or more") as info:
        users.execute(sql, params)
    assert ("got -1" if params else "got -3") in str(info.value)
    if params is None:
        assert info.value.position == sql.index("-3")


@pytest.mark.parametrize(
    ("clause", "says"),
    [
        ("FOR SYSTEM_TIME", "FOR SYSTEM_TIME needs AS OF x, BETWEEN x AND y"),
        ("FOR SYSTEM_TIME AS OF", "FOR SYSTEM_TIME needs AS OF x"),
        ("FOR SYSTEM_TIME BETWEEN 5", "BETWEEN needs two points in time"),
        ("FOR SYSTEM_TIME BETWEEN 5 AND", "BETWEEN needs two points in time"),
        ("FOR SYSTEM_TIME FROM 5 TO", "FROM needs two points in time"),
        ("FOR SYSTEM_TIME CONTAINED IN (5)", "CONTAINED IN needs two points in time"),
    ],
)
def test_a_system_time_clause_cut_short_says_what_is_missing(
    users: ChronoDB, clause: str, says: str
) -> None:
    sql = f"SELECT * FROM users {clause} WHERE id = 1"
    with pytest.raises(TemporalError, match=says) as info:
        users.execute(sql)
    assert info.value.position is not None
    assert sql.index("FOR") <= info.value.position <= sql.index("WHERE")


TEMPORAL = [
    "SELECT * FROM users FOR SYSTEM_TIME BETWEEN 5 AND 10 WHERE id = 1",
    "SELECT * FROM users FOR SYSTEM_TIME FROM '2020-01-01' TO '2030-01-01' ORDER BY id",
    "SELECT name FROM users AS OF TRANSACTION 2 WHERE id = 1",
    "SELECT a.name, b.id FROM users a JOIN users b ON b.id = a.id AS OF TIMESTAMP 1e9",
    "WITH x AS (SELECT * FROM users AS OF TIMESTAMP 1e9) SELECT count(*) FROM x",
    "SELECT (SELECT count(*) FROM users AS OF TRANSACTION 3) FROM users FOR SYSTEM_TIME ALL",
    "CREATE TABLE copy AS SELECT * FROM users AS OF TIMESTAMP 1e9",
]


def _mangled(sql: str) -> Iterator[str]:
    """Every prefix of ``sql`` by words, and ``sql`` with each word left out."""
    words = sql.split(" ")
    for i in range(1, len(words)):
        yield " ".join(words[:i])
        yield " ".join(words[:i] + words[i + 1 :])


@pytest.mark.parametrize("sql", TEMPORAL)
@pytest.mark.filterwarnings("ignore::chronodb.ChronoDBWarning")  # 1e9 is before users existed
def test_temporal_sql_cut_or_missing_a_word_fails_with_a_chronodb_error(
    db: ChronoDB, sql: str
) -> None:
    """Whatever is missing, the error is ChronoDB's own (or the statement still runs)."""
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO users VALUES (1, 'Alice')")
    for mangled in _mangled(sql):
        with contextlib.suppress(ChronoDBError):
            db.execute(mangled)
        for name in set(db.tables()) - {"users"}:
            db.execute(f"DROP TABLE {name}")
    assert [tuple(r) for r in db.execute("SELECT * FROM users")] == [(1, "Alice")]


def test_missing_parameter_for_the_point(users: ChronoDB) -> None:
    with pytest.raises(TemporalError):
        users.execute("SELECT * FROM users AS OF TIMESTAMP ?")
    with pytest.raises(TemporalError) as info:
        users.execute("SELECT * FROM users AS OF TIMESTAMP :at", {"other": 1})
    assert ":at" in str(info.value)


def test_column_in_the_point_is_rejected(users: ChronoDB) -> None:
    with pytest.raises(TemporalError):
        users.execute("SELECT * FROM users AS OF TIMESTAMP id")


def test_constraint_violation_writes_nothing(users: ChronoDB) -> None:
    with pytest.raises(IntegrityError):
        users.execute("INSERT INTO users VALUES (3, 'Cy'), (1, 'dup')")


def test_transaction_statements_out_of_order(users: ChronoDB) -> None:
    with pytest.raises(TransactionError):
        users.execute("COMMIT")
    with pytest.raises(TransactionError):
        users.execute("ROLLBACK")
    users.execute("BEGIN")
    with pytest.raises(TransactionError):
        users.execute("BEGIN")
    users.execute("ROLLBACK")


def test_bad_statement_inside_a_transaction_then_rollback(users: ChronoDB) -> None:
    users.execute("BEGIN")
    users.execute("DELETE FROM users")
    with pytest.raises(SQLSyntaxError):
        users.execute("SELEC 1")
    with pytest.raises(TimestampError):
        users.execute("SELECT * FROM users AS OF TIMESTAMP 'never'")
    users.execute("ROLLBACK")


def test_not_a_string(users: ChronoDB) -> None:
    with pytest.raises(ChronoDBError):
        users.execute(42)  # type: ignore[arg-type]


def test_several_statements_at_once(users: ChronoDB) -> None:
    with pytest.raises(ChronoDBError):
        users.execute("DELETE FROM users; SELECT 1")
    with pytest.raises(SQLSyntaxError):
        users.execute("SELECT * FROM users AS OF TIMESTAMP 5; DELETE FROM users")


def test_errors_share_one_root() -> None:
    for error in (SQLSyntaxError, TemporalError, TimestampError, SchemaError, IntegrityError):
        assert issubclass(error, ChronoDBError)


def test_a_timestamp_in_microseconds_is_refused_with_a_hint(users: ChronoDB) -> None:
    now_us = users.execute("SELECT max(tx_time) FROM _chrono_tx").scalar()
    with pytest.raises(TimestampError, match="looks like microseconds"):
        users.prune_history(now_us)
    with pytest.raises(TimestampError, match="too far in the future"):
        users.execute("SELECT * FROM users AS OF TIMESTAMP 1700000000000000000")


def test_a_statement_sqlglot_cannot_parse_logs_no_warning(
    users: ChronoDB, caplog: pytest.LogCaptureFixture
) -> None:
    """sqlglot warns as it falls back to an opaque command; SQLite's error is what counts."""
    import sqlglot

    with pytest.raises(SQLSyntaxError, match="1e9"):
        users.execute("CREATE TABLE copy AS SELECT * FROM users AS OF 1e9")
    assert not [r for r in caplog.records if r.name.startswith("sqlglot")]
    sqlglot.parse_one("CREATE copy AS SELECT 1")  # others' use of sqlglot still warns
    assert [r for r in caplog.records if r.name.startswith("sqlglot")]


def test_the_public_names_are_listed_and_sorted() -> None:
    import chronodb

    assert chronodb.__all__ == sorted(chronodb.__all__)
    assert set(chronodb.__all__) == {
        "ArgumentError",
        "AsyncChronoDB",
        "AuditError",
        "AuthenticationError",
        "BusyError",
        "CheckViolation",
        "ChronoDB",
        "ChronoDBError",
        "ChronoDBWarning",
        "ClosedError",
        "Column",
        "ConfigError",
        "ConnectionLostError",
        "CopyError",
        "CopyReport",
        "CorruptDatabaseError",
        "ForeignKey",
        "ForeignKeyViolation",
        "IntegrityError",
        "NotADatabaseError",
        "NotNullViolation",
        "NotSupportedError",
        "ReadOnlyError",
        "Result",
        "SQLError",
        "SQLSyntaxError",
        "SchemaError",
        "SerializationError",
        "ServerError",
        "ServerUnavailableError",
        "StatementTimeoutError",
        "StorageError",
        "TemporalError",
        "TimestampError",
        "TransactionError",
        "UniqueViolation",
        "UnversionedTablesError",
        "View",
        "copy_database",
    }
    for name in chronodb.__all__:
        assert getattr(chronodb, name) is not None


def test_an_unterminated_literal_after_as_of_points_at_the_quote(users: ChronoDB) -> None:
    sql = "SELECT * FROM users AS OF TIMESTAMP '2024"
    with pytest.raises(SQLSyntaxError, match="never closed") as info:
        users.execute(sql)
    assert info.value.position == sql.index("'2024")


@pytest.mark.parametrize(
    "shape",
    [
        "SELECT {open}1{close} FROM users AS OF TRANSACTION 1",
        "SELECT * FROM users AS OF TIMESTAMP {open}1{close}",
    ],
)
def test_deeply_nested_temporal_sql_is_a_chronodb_error(users: ChronoDB, shape: str) -> None:
    """Without AS OF, SQLite says "parser stack overflow"; with it, sqlglot used to recurse."""
    sql = shape.format(open="(" * 5000, close=")" * 5000)
    with pytest.raises(SQLError, match=r"nested too deeply|parser stack overflow"):
        users.execute(sql)
    assert users.execute("SELECT count(*) FROM users AS OF TRANSACTION 1").scalar() == 0


def test_nested_subqueries_with_as_of_are_a_chronodb_error(users: ChronoDB) -> None:
    sql = "SELECT * FROM users AS OF TRANSACTION 1 WHERE id IN " * 3000 + "(1)"
    with pytest.raises(SQLError):
        users.execute(sql)


HUGE = 10**30


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda db: db.execute("SELECT ?", [HUGE]), "params"),
        (lambda db: db.execute("SELECT :n", {"n": -HUGE}), "params"),
        (lambda db: db.executemany("INSERT INTO users VALUES (?, 'x')", [[HUGE]]), None),
        (lambda db: db.get_change_history("users", HUGE), "pk"),
        (lambda db: db.erase("users", HUGE), "pk"),
        (lambda db: db.tx_hash(HUGE), "tx_id"),
        (lambda db: db.transactions(HUGE), "limit"),
    ],
)
def test_integers_beyond_64_bits_are_named(users: ChronoDB, call, argument) -> None:
    with pytest.raises(ArgumentError, match="too large") as info:
        call(users)
    assert str(HUGE) in str(info.value)
    if argument is not None:
        assert info.value.argument == argument
    assert isinstance(info.value, TypeError | ValueError)  # what Python's own would be


def test_a_transaction_number_beyond_64_bits_points_at_it(users: ChronoDB) -> None:
    sql = "SELECT * FROM users AS OF TRANSACTION 99999999999999999999999"
    with pytest.raises(SQLError, match="too large") as info:
        users.execute(sql)
    assert info.value.position == sql.index("9999")


def test_a_huge_hash_is_not_a_transaction(users: ChronoDB) -> None:
    assert users.audit_trail.verify_transaction(HUGE) is False  # type: ignore[arg-type]


def test_lone_surrogates_are_refused_with_a_chronodb_error(users: ChronoDB) -> None:
    with pytest.raises(SQLError) as info:
        users.execute("SELECT 'a\ud800'")
    assert info.value.position == len("SELECT 'a")
    with pytest.raises(ArgumentError, match="surrogate") as named:
        users.execute("SELECT ?", ["\ud800"])
    assert named.value.argument == "params"
    with pytest.raises(ChronoDBError):
        users.execute("SELECT * FROM users AS OF TIMESTAMP '\udfff'")
    with pytest.raises(ConfigError, match="user"):
        ChronoDB(":memory:", user="\ud800")


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.audit_trail.prove("zz"),
        lambda db: db.audit_trail.prove(None),
        lambda db: db.audit_trail.prove(b"\x00"),
        lambda db: db.audit_trail.verify_consistency({"a": 1}),
        lambda db: db.audit_trail.verify_consistency("[]"),
        lambda db: db.audit_trail.verify_consistency("{"),
        lambda db: db.audit_trail.verify_consistency({"tree_size": "x", "root": "zz", "time": 1}),
        lambda db: db.audit_trail.verify_consistency({"tree_size": 1, "root": "zz", "time": 1}),
        lambda db: db.audit_trail.verify_consistency(42),
    ],
)
def test_malformed_proofs_and_digests_are_audit_errors(users: ChronoDB, call) -> None:
    with pytest.raises(AuditError, match="not a"):
        call(users)


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.changes(None),
        lambda db: db.changes(b"users"),
        lambda db: db.get_change_history(None, 1),
        lambda db: db.get_change_history(["users"], 1),
        lambda db: db.execute(["SELECT 1"]),
        lambda db: db.execute("SELECT 1", object()),
        lambda db: db.execute("SELECT ?", {1, 2}),
        lambda db: db.executescript(None),
        lambda db: db.executescript(b"SELECT 1"),
        lambda db: db.executemany("INSERT INTO users VALUES (?, 'x')", 5),
        lambda db: db.executemany(None, []),
        lambda db: db.erase("users", 1, reason=object()),
        lambda db: db.transaction(5),
        lambda db: db.tx_hash(),
    ],
)
def test_odd_argument_types_are_chronodb_errors(users: ChronoDB, call) -> None:
    with pytest.raises(ChronoDBError):
        call(users)


def test_arguments_that_do_not_fit_the_signature_are_type_errors(users: ChronoDB) -> None:
    """As Python's own: execute() translates its errors itself, with no wrapper to bind."""
    with pytest.raises(TypeError):
        users.execute()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        users.execute("SELECT 1", None, "extra")  # type: ignore[misc]
    with pytest.raises(TypeError):
        users.changes()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "options",
    [
        {"path": object()},
        {"path": None},
        {"timeout": "x"},
        {"timeout": float("nan")},
        {"timeout": -1},
        {"durability": 3},
        {"ml_optimizer": 3},
        {"retention_days": float("inf")},
        {"user": 5},
        {"wal": "yes"},
    ],
    ids=repr,
)
def test_odd_constructor_options_are_config_errors(
    tmp_path, monkeypatch: pytest.MonkeyPatch, options: dict
) -> None:
    import os

    before = set(os.listdir(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError):
        ChronoDB(**{"path": ":memory:", **options})
    assert set(os.listdir(tmp_path)) == before  # no file named after the object


def test_from_config_with_no_path_is_a_chronodb_error() -> None:
    with pytest.raises(ChronoDBError):
        ChronoDB.from_config(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="home directory"):
        ChronoDB.from_config("~no-such-user-here/config.yaml")


def test_an_exception_from_the_with_body_passes_through(users: ChronoDB) -> None:
    with pytest.raises(KeyError, match="mine"), users.transaction():
        users.execute("DELETE FROM users")
        raise KeyError("mine")
    assert users.execute("SELECT count(*) FROM users").scalar() == 2


def test_a_full_disk_during_digest_is_a_storage_error(tmp_path) -> None:
    path = tmp_path / "full.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(300):  # leaves and tree nodes wait to be stored
            db.execute("INSERT INTO t VALUES (?, 'y')", (i,))
        pages = db.connection.execute("PRAGMA page_count").fetchone()[0]
        db.connection.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StorageError, match="full"):
            db.audit_trail.digest()
        with ChronoDB(path, timeout=2) as other:  # the failed digest holds no lock
            other.execute("INSERT INTO t VALUES (1000, 'z')")
