"""SQL over history: AS OF stays one index seek per key, a NULL in a key included, and a
table read in the past compares, sorts, groups and matches exactly as the table does.

``AS OF TIMESTAMP 9e9`` is now: every query must answer as it does without the clause.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


NOW = "AS OF TIMESTAMP 9e9"


def rows(db: ChronoDB, sql: str, params: Any = None) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params)]


def same_now(db: ChronoDB, sql: str, params: Any = None) -> list[tuple]:
    """Run ``sql`` (``{}`` where a temporal clause may go) plain and AS OF now; both agree."""
    plain = rows(db, sql.format(""), params)
    assert rows(db, sql.format(NOW), params) == plain, sql
    return plain


@pytest.fixture
def users(db: ChronoDB) -> ChronoDB:
    db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, score REAL, n NUMERIC, label TEXT, "
        "name TEXT COLLATE NOCASE, code TEXT COLLATE RTRIM)"
    )
    db.execute(
        "INSERT INTO users VALUES (1, 2.0, '10', 5, 'bob', 'a'), (2, 3, 7.0, 'x', 'BOB', 'a  '), "
        "(3, 1.5, '1e2', '6', 'alice', 'b')"
    )
    db.execute("UPDATE users SET score = score + 0.5 WHERE id = 3")
    return db


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        ("SELECT id FROM users {} WHERE id = ?", ["1"], [(1,)]),
        ("SELECT id FROM users {} WHERE id IN ('2', '3') ORDER BY id", None, [(2,), (3,)]),
        ("SELECT id FROM users {} WHERE score > '2.5' ORDER BY id", None, [(2,)]),
        ("SELECT id FROM users {} WHERE n = ?", ["1e2"], [(3,)]),
        ("SELECT id FROM users {} WHERE n < '8' ORDER BY id", None, [(2,)]),
        ("SELECT id FROM users {} WHERE label = 5", None, [(1,)]),
    ],
)
def test_a_past_column_keeps_its_type_affinity(
    users: ChronoDB, sql: str, params: Any, expected: list[tuple]
) -> None:
    assert same_now(users, sql, params) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT count(*) FROM users {} WHERE name = 'Bob'", [(2,)]),
        ("SELECT count(*) FROM users {} WHERE name IN ('BOB')", [(2,)]),
        ("SELECT count(*) FROM users {} WHERE name > 'ALICE'", [(2,)]),
        ("SELECT count(DISTINCT name) FROM users {}", [(2,)]),
        ("SELECT lower(name), count(*) FROM users {} GROUP BY name ORDER BY 1", None),
        ("SELECT id FROM users {} ORDER BY name, id", [(3,), (1,), (2,)]),
        ("SELECT count(*) FROM (SELECT name FROM users {} UNION SELECT 'ALICE')", [(2,)]),
        ("SELECT lower(min(name)), lower(max(name)) FROM users {}", [("alice", "bob")]),
        ("SELECT count(*) FROM users {} WHERE code = 'a'", [(2,)]),
        ("SELECT count(DISTINCT code) FROM users {}", [(2,)]),
    ],
)
def test_a_past_column_keeps_its_collation(
    users: ChronoDB, sql: str, expected: list[tuple] | None
) -> None:
    answer = same_now(users, sql)
    if expected is not None:
        assert answer == expected


def test_a_collation_the_application_defines_applies_in_the_past(db: ChronoDB) -> None:
    db.connection.create_collation("by_length", lambda a, b: (len(a) > len(b)) - (len(a) < len(b)))
    db.execute("CREATE TABLE words (w TEXT COLLATE by_length)")
    db.execute("INSERT INTO words VALUES ('ccc'), ('a'), ('bb'), ('zz')")
    assert same_now(db, "SELECT count(*) FROM words {} WHERE w = 'xy'") == [(2,)]
    assert same_now(db, "SELECT w FROM words {} WHERE length(w) <> 2 ORDER BY w") == [
        ("a",),
        ("ccc",),
    ]


@pytest.mark.parametrize(
    "clause",
    ["FOR SYSTEM_TIME ALL", "FOR SYSTEM_TIME BETWEEN 0 AND 9e9", "FOR SYSTEM_TIME FROM 0 TO 9e9"],
)
def test_ranges_of_versions_compare_as_the_table_does(users: ChronoDB, clause: str) -> None:
    name = f"SELECT count(*) FROM users {clause} WHERE name = 'Bob'"
    assert users.execute(name).scalar() == 2
    assert users.execute(f"SELECT count(*) FROM users {clause} WHERE id = '3'").scalar() == 2
    assert users.execute(f"SELECT count(*) FROM users {clause} WHERE score > '2.5'").scalar() == 1


def test_a_collated_key_is_found_by_any_spelling_it_matches(db: ChronoDB) -> None:
    db.execute("CREATE TABLE codes (code TEXT COLLATE NOCASE PRIMARY KEY, label TEXT)")
    db.execute("INSERT INTO codes VALUES ('ab', 'first')")
    before = db.execute("UPDATE codes SET label = 'second' WHERE code = 'AB'").tx_id
    # History keeps keys exact: the key changing case is a new key there (a delete and an
    # insert), and AS OF still finds the one row under either spelling.
    after = db.execute("UPDATE codes SET code = 'AB' WHERE code = 'ab'").tx_id
    sql = "SELECT code, label FROM codes AS OF TRANSACTION ? WHERE code = ?"
    assert rows(db, sql, [before, "Ab"]) == [("ab", "second")]
    assert rows(db, sql, [after, "aB"]) == [("AB", "second")]
    changes = rows(db, "SELECT operation, code FROM chrono_changes('codes', 0) WHERE code = 'ab'")
    assert changes == [("INSERT", "ab"), ("UPDATE", "ab"), ("DELETE", "ab"), ("INSERT", "AB")]


def test_a_column_added_later_keeps_its_affinity_and_collation(db: ChronoDB) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.execute("ALTER TABLE t ADD COLUMN amount REAL DEFAULT 0")
    db.execute("ALTER TABLE t ADD COLUMN tag TEXT COLLATE NOCASE")
    db.execute("INSERT INTO t VALUES (1, 2.5, 'Red'), (2, 1, 'red'), (3, 4, 'blue')")
    assert same_now(db, "SELECT id FROM t {} WHERE amount >= '2' ORDER BY id") == [(1,), (3,)]
    assert same_now(db, "SELECT count(*) FROM t {} WHERE tag = 'RED'") == [(2,)]


def test_a_change_of_case_is_a_new_version(users: ChronoDB) -> None:
    changed = users.execute("UPDATE users SET name = 'Bob', code = 'a ' WHERE id = 1")
    assert changed.tx_id is not None
    assert same_now(users, "SELECT name, code FROM users {} WHERE id = 1") == [("Bob", "a ")]


# ------------------------------------------------------------------ oracle
# Every affinity and the built-in collations, against plain sqlite3 replaying the writes.
ORACLE_SCHEMA = [
    "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, n NUMERIC, s TEXT, "
    "sn TEXT COLLATE NOCASE, sr TEXT COLLATE RTRIM, b BLOB, u, un COLLATE NOCASE)",
    "CREATE TABLE c (code TEXT COLLATE NOCASE PRIMARY KEY, v NUMERIC)",
]
T_COLUMNS = ["id", "i", "r", "n", "s", "sn", "sr", "b", "u", "un"]
# {c}: a column of t; {} takes the temporal clause; the last ? is the drawn parameter.
ORACLE_QUERIES = [
    "SELECT id FROM t {} WHERE {c} = ? ORDER BY id",
    "SELECT id FROM t {} WHERE {c} < ? ORDER BY id",
    "SELECT id FROM t {} WHERE {c} IN ('a', ?) ORDER BY id",
    "SELECT count(DISTINCT {c}) FROM t {} WHERE ? IS NOT 0.5",
    "SELECT count(*) FROM t {} WHERE ? IS NOT 0.5 GROUP BY {c} ORDER BY 1",
    "SELECT id FROM t {} WHERE ? IS NOT 0.5 ORDER BY {c}, id",
    "SELECT count(*) FROM (SELECT {c} FROM t {} UNION SELECT ?)",
    "SELECT count(*) FROM t {} WHERE {c} = (SELECT min({c}) FROM t {} WHERE ? IS NOT 0.5)",
    "SELECT count(*) FROM t {} WHERE {c} = (SELECT max({c}) FROM t {} WHERE ? IS NOT 0.5)",
    "SELECT v FROM c {} WHERE code = ? ORDER BY v",
    "SELECT count(DISTINCT code), count(DISTINCT v) FROM c {} WHERE code > ?",
]

mixed = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.sampled_from([0.5, 2.0, -1.25, 1e20]),
    st.sampled_from(["1", "2.5", "1e1", " 3", "0x1", "a", "A", "a ", "b", "B ", "ab", ""]),
    st.sampled_from([b"a", b"1", b""]),
)
codes = st.sampled_from(["a", "A", "a ", "b", "B", "1", "01", None])
writes = st.one_of(
    st.tuples(
        st.just("INSERT OR REPLACE INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        st.tuples(st.integers(1, 5), *[mixed] * 9),
    ),
    st.tuples(
        st.sampled_from([f"UPDATE t SET {c} = ? WHERE id = ?" for c in T_COLUMNS[1:]]),
        st.tuples(mixed, st.integers(1, 5)),
    ),
    st.tuples(st.just("DELETE FROM t WHERE id = ?"), st.tuples(st.integers(1, 5))),
    st.tuples(st.just("INSERT OR REPLACE INTO c VALUES (?, ?)"), st.tuples(codes, mixed)),
    st.tuples(st.just("UPDATE OR IGNORE c SET code = ? WHERE code = ?"), st.tuples(codes, codes)),
    st.tuples(st.just("DELETE FROM c WHERE code = ?"), st.tuples(codes)),
)
asks = st.tuples(st.sampled_from(ORACLE_QUERIES), st.sampled_from(T_COLUMNS), mixed)


@settings(max_examples=40, deadline=None)
@given(st.lists(writes, min_size=1, max_size=12), st.lists(asks, min_size=1, max_size=6))
def test_past_answers_match_a_plain_sqlite_replay(
    workload: list[tuple[str, tuple]], questions: list[tuple[str, str, Any]]
) -> None:
    plain = sqlite3.connect(":memory:")
    db = ChronoDB(":memory:")
    try:
        for statement in ORACLE_SCHEMA:
            plain.execute(statement)
            db.execute(statement)
        texts = [(q.replace("{c}", c), p) for q, c, p in questions]

        def answers(connection: Any, clause: str) -> list[list[tuple]]:
            return [
                [tuple(r) for r in connection.execute(q.format(clause, clause), [p])]
                for q, p in texts
            ]

        seen: list[tuple[int, list[list[tuple]]]] = []
        for sql, params in workload:
            plain.execute(sql, params)
            plain.commit()
            tx = db.execute(sql, params).tx_id
            if tx is not None:
                seen.append((tx, answers(plain, "")))
        for tx, expected in seen:
            assert answers(db, f"AS OF TRANSACTION {tx}") == expected, tx
        assert answers(db, NOW) == answers(plain, "")
    finally:
        db.close()
        plain.close()


def test_a_key_given_as_a_string_is_still_one_index_seek(users: ChronoDB) -> None:
    plan = rows(users, f"EXPLAIN QUERY PLAN SELECT * FROM users {NOW} WHERE id = ?", ["2"])
    details = " ".join(str(r[-1]) for r in plan)
    assert "SCAN" not in details
    assert "_chrono_h1_users_key (id=? AND _chrono_tx<?)" in details
    assert same_now(users, "SELECT name FROM users {} WHERE id = ?", ["2"]) == [("BOB",)]


RANGE_SCHEMAS = {
    "rowid key": "CREATE TABLE r (k INTEGER PRIMARY KEY, v)",
    "composite key": "CREATE TABLE r (k INTEGER NOT NULL, k2 TEXT NOT NULL, v, "
    "PRIMARY KEY (k, k2))",
    "key that may hold a NULL": "CREATE TABLE r (k TEXT PRIMARY KEY, v)",
}
range_writes = st.one_of(
    st.tuples(st.just("INSERT OR IGNORE INTO r (k, v) VALUES (?, ?)"), st.integers(1, 4)),
    st.tuples(st.just("UPDATE r SET v = ? WHERE k = ?"), st.integers(1, 4)),
    st.tuples(st.just("UPDATE r SET v = ? WHERE k <= ?"), st.integers(1, 4)),
    st.tuples(st.just("DELETE FROM r WHERE k = ?"), st.integers(1, 4)),
)
RANGE_KINDS = {
    "ALL": ("FOR SYSTEM_TIME ALL", lambda f, t, lo, hi: True),
    "BETWEEN": (
        "FOR SYSTEM_TIME BETWEEN ? AND ?",
        lambda f, t, lo, hi: f <= hi and (t is None or t > lo),
    ),
    "FROM": ("FOR SYSTEM_TIME FROM ? TO ?", lambda f, t, lo, hi: f < hi and (t is None or t > lo)),
    "CONTAINED IN": (
        "FOR SYSTEM_TIME CONTAINED IN (?, ?)",
        lambda f, t, lo, hi: f >= lo and t is not None and t <= hi,
    ),
}


def _micros(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1e6)


def replay(
    db: ChronoDB, schema: str, workload: list[tuple[str, int]], *, null_key: bool = False
) -> list[tuple[float, dict[Any, Any]]]:
    """Create ``r`` and run ``workload``: each committed transaction's time and ``r``'s rows
    then (key: value). ``null_key``: a TEXT key takes NULL for 4 (rows of one key to
    history)."""
    create = RANGE_SCHEMAS[schema]
    db.execute(create)
    text = "TEXT PRIMARY" in create
    states: list[tuple[float, dict[Any, Any]]] = []
    for n, (sql, key) in enumerate(workload):
        value = None if null_key and text and key == 4 else str(key) if text else key
        params: list[Any] = [n, value]
        if sql.startswith("INSERT"):
            params.reverse()
            if "k2" in create:
                sql = sql.replace("(k, v) VALUES (?, ?)", "(k, k2, v) VALUES (?, 'x', ?)")
        elif sql.startswith("DELETE"):
            params = params[1:]
        result = db.execute(sql.replace("k = ?", "k IS ?"), params)
        if result.tx_id is not None:
            states.append((result.tx_time, dict(db.execute("SELECT k, v FROM r").rows)))
    return states


@pytest.mark.parametrize("schema", RANGE_SCHEMAS)
@settings(max_examples=25, deadline=None)
@given(
    st.lists(range_writes, min_size=1, max_size=10),
    st.lists(st.tuples(st.sampled_from(sorted(RANGE_KINDS)), st.integers(), st.integers())),
)
def test_ranges_of_versions_match_the_tables_states_over_time(
    schema: str, workload: list[tuple[str, int]], asks: list[tuple[str, int, int]]
) -> None:
    """Each version is a state of a row between two transactions that changed it: the
    versions FOR SYSTEM_TIME reads, with their periods, are those of a replay."""
    db = ChronoDB(":memory:")
    try:
        states = [(_micros(t), state) for t, state in replay(db, schema, workload)]
        versions = []  # (key, value, from, to), from the states one after another
        for i, (start, state) in enumerate(states):
            for key, value in state.items():
                if i and states[i - 1][1].get(key, object()) == value:
                    continue  # unchanged: the version began earlier
                end = next((t for t, later in states[i + 1 :] if later.get(key) != value), None)
                versions.append((key, value, start, end))
        times = [t for t, _ in states] or [0]
        columns = "k, v, sys_from, sys_to"
        for kind, a, b in [("ALL", 0, 0), *asks]:
            clause, holds = RANGE_KINDS[kind]
            lo, hi = sorted((times[a % len(times)], times[b % len(times)] + b % 2))
            points = [] if kind == "ALL" else [lo / 1e6, hi / 1e6]
            found = db.execute(f"SELECT {columns} FROM r {clause}", points).rows
            got = sorted((r[0], r[1], _micros(r[2]), _micros(r[3])) for r in found)
            want = sorted(v for v in versions if holds(v[2], v[3], lo, hi))
            assert got == want, (kind, lo, hi)
            count = db.execute(f"SELECT count(*) FROM r {clause}", points).scalar()
            assert count == len(want), (kind, lo, hi)
    finally:
        db.close()


def test_counting_every_version_reads_history_once_without_seeks(users: ChronoDB) -> None:
    """A statement that names no period reads history as a plain scan: the ends of the
    versions, a seek each, are left out."""
    for clause in ("FOR SYSTEM_TIME ALL", "FOR SYSTEM_TIME ALL WHERE id > 1"):
        plan = rows(users, f"EXPLAIN QUERY PLAN SELECT count(*), max(name) FROM users {clause}")
        details = [str(r[-1]) for r in plan]
        assert len(details) == 1 and details[0].startswith(("SCAN v", "SEARCH v")), details
    assert rows(users, "SELECT count(*) FROM users FOR SYSTEM_TIME ALL") == [(4,)]
    plan = rows(users, "EXPLAIN QUERY PLAN SELECT sys_to FROM users FOR SYSTEM_TIME ALL")
    seeks = [str(r[-1]) for r in plan if str(r[-1]).startswith("SEARCH")]
    assert seeks and all("_chrono_h1_users_key (id=? AND _chrono_tx>?)" in s for s in seeks), plan


@pytest.mark.parametrize("clause", ["BETWEEN ? AND ?", "FROM ? TO ?"])
def test_a_period_seeks_the_versions_alive_at_its_start_and_reads_the_rest_as_a_range(
    users: ChronoDB, clause: str
) -> None:
    """BETWEEN and FROM...TO read the versions alive at the start by one seek per key, those
    begun later as one range of history rows, and no version's end unless it is asked for."""
    sql = f"EXPLAIN QUERY PLAN SELECT count(*) FROM users FOR SYSTEM_TIME {clause}"
    details = [str(r[-1]) for r in rows(users, sql, [0, 9e9])]
    assert "SCAN k" in details, details
    assert any("_chrono_h1_users_key (id=? AND _chrono_tx<?)" in d for d in details), details
    assert "SEARCH h USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in details, details
    assert not any("_chrono_tx>?" in d for d in details), details  # no end sought
    # the only scans: the key set, the binary searches, and the union's rows (a co-routine)
    scans = {d for d in details if d.startswith("SCAN")}
    assert scans <= {"SCAN k", "SCAN s", "SCAN CONSTANT ROW", "SCAN v"}, details
    assert "CO-ROUTINE v" in details, details
    contained = "EXPLAIN QUERY PLAN SELECT * FROM users FOR SYSTEM_TIME CONTAINED IN (?, ?)"
    details = [str(r[-1]) for r in rows(users, contained, [0, 9e9])]
    assert "SEARCH v USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in details, details


def _old_range(catalog: Catalog, sv: Any, kind: str) -> str:
    """The range as it read before :func:`snapshots.period`: every version, each one's end
    sought, then filtered (the oracle the new shape must equal)."""
    return snapshots.versions(
        sv,
        snapshots.range_condition(kind, "?1", "?2"),
        dropped=catalog.versions_of(sv.table_id)[-1].to_tx,
        null_keys=sv.hist in catalog.null_keyed,
        epoch=catalog.epoch,
    )


@pytest.mark.parametrize("schema", RANGE_SCHEMAS)
@settings(max_examples=25, deadline=None)
@given(
    st.lists(range_writes, min_size=1, max_size=10),
    st.sampled_from(["", "ALTER TABLE r ADD COLUMN w", "DROP TABLE r"]),
    st.lists(
        st.tuples(st.sampled_from(["BETWEEN", "FROM", "CONTAINED IN"]), *[st.integers()] * 4),
        min_size=1,
        max_size=6,
    ),
)
def test_a_period_reads_the_same_versions_as_seeking_every_versions_end(
    schema: str,
    workload: list[tuple[str, int]],
    ddl: str,
    asks: list[tuple[str, int, int, int, int]],
) -> None:
    """:func:`snapshots.period` equals the former shape (:func:`snapshots.versions` filtered by
    :func:`snapshots.range_condition`), with every column and period, for bounds at, between
    and around transactions, in either order, after a column added or the table dropped."""
    db = ChronoDB(":memory:")
    try:
        times = [_micros(t) for t, _ in replay(db, schema, workload)]
        if ddl:
            times.append(_micros(db.execute(ddl).tx_time))
        times = times or [0]
        catalog = Catalog()
        catalog.load(db.connection)
        sv = catalog.latest("r")
        assert sv is not None
        dropped = catalog.versions_of(sv.table_id)[-1].to_tx
        null_keys = sv.hist in catalog.null_keyed
        for kind, a, b, da, db_ in asks:
            lo = times[a % len(times)] + da % 3 - 1  # at, just before or just after
            hi = times[b % len(times)] + db_ % 3 - 1
            new = snapshots.period(
                sv, kind, "?1", "?2", dropped=dropped, null_keys=null_keys, epoch=catalog.epoch
            )
            old = _old_range(catalog, sv, kind)
            for select in ("SELECT * FROM ({}) AS s", "SELECT count(*) FROM ({}) AS s"):
                got = sorted(map(tuple, db.connection.execute(select.format(new), (lo, hi))))
                want = sorted(map(tuple, db.connection.execute(select.format(old), (lo, hi))))
                assert got == want, (kind, lo, hi)
    finally:
        db.close()


def test_changes_over_a_range_read_only_its_versions(users: ChronoDB) -> None:
    """The changes of a few transactions are a range of history rows (found by binary
    search) and each one's previous version (a seek), not a pass over all of history."""
    plan = rows(users, "EXPLAIN QUERY PLAN SELECT * FROM chrono_changes('users', 1, 2)")
    scans = [str(r[-1]) for r in plan if str(r[-1]).startswith("SCAN")]
    assert set(scans) <= {"SCAN s", "SCAN CONSTANT ROW"}, plan
    assert any(
        str(r[-1]) == "SEARCH v USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" for r in plan
    )


@pytest.mark.parametrize("schema", RANGE_SCHEMAS)
@settings(max_examples=20, deadline=None)
@given(
    st.lists(range_writes, min_size=1, max_size=10),
    st.lists(st.tuples(st.integers(), st.integers()), max_size=4),
)
def test_changes_over_a_range_are_those_of_all_history_in_it(
    schema: str, workload: list[tuple[str, int]], asks: list[tuple[int, int]]
) -> None:
    """Each row's change between two states of the table, from the range alone: a key
    holding a NULL (several rows, one key to history) included."""
    db = ChronoDB(":memory:")
    try:
        states = replay(db, schema, workload, null_key=True)
        everything = db.changes("r")
        if not any(k is None for _, state in states for k in state):
            expected = []  # each row's state before and after each transaction
            for i, (at, state) in enumerate(states):
                before = states[i - 1][1] if i else {}
                for k in sorted(before.keys() | state.keys()):
                    if before.get(k) != state.get(k):
                        expected.append((at, k, before.get(k), state.get(k)))
            got = [
                (c["tx_time"], c["k"], (c["before"] or {}).get("v"), (c["after"] or {}).get("v"))
                for c in everything
            ]
            assert sorted(got, key=repr) == sorted(expected, key=repr)
        times = [0.0] + [t for t, _ in states]
        for a, b in asks:
            lo, hi = sorted((times[a % len(times)], times[b % len(times)]))
            inside = [c for c in everything if lo < c["tx_time"] <= hi]
            assert db.changes("r", lo, hi) == inside, (lo, hi)
    finally:
        db.close()
