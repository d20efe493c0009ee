"""REAL values in the ledger: an edit by a single ulp is caught, whatever the magnitude.

SQLite's JSON writes REALs with 15 significant digits, so ``0.1 + 0.2`` and ``0.3`` once
hashed alike and such an edit went unseen. The canonical form now splits a REAL into
integers, ``[e, hi, lo]`` meaning ``(hi + lo / 2^63) * 2^e`` (see ``audit/digests.py``).
"""

from __future__ import annotations

import json
import math
import sqlite3
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.chronodb.audit.conftest import tamper

from chronodb import ChronoDB
from chronodb.audit.digests import row_json
from chronodb.versioning.catalog import Column, SchemaVersion

H = "_chrono_h1_readings"

# Values whose neighbour one ulp away is a different double, across the whole range:
# subnormal, the smallest normal, tiny, the edges of the unscaled range (2^-11, 2^63),
# huge and the largest double.
EDGES = [
    0.1 + 0.2,
    5e-324,
    2.2250738585072014e-308,
    1e-300,
    2.0**-11,
    -(2.0**-11),
    123.456,
    2.0**63,
    -(2.0**63),
    1e300,
    1.7976931348623157e308,
]


def _ledgered(path: Path, value: Any) -> int:
    """A transaction creates ``readings``, the next inserts id 1 with ``value`` (its id is
    returned), a third inserts id 2."""
    with ChronoDB(path, user="alice") as db:
        db.execute("CREATE TABLE readings (id INTEGER PRIMARY KEY, value REAL, raw)")
        tx = db.execute("INSERT INTO readings VALUES (1, ?, ?)", [value, value]).tx_id
        db.execute("INSERT INTO readings VALUES (2, 1.5, 'x')")
        assert db.verify_audit_integrity()
    return tx


def _first_problem(path: Path) -> tuple[str, int | None, str | None, Any]:
    with ChronoDB(path, read_only=True) as db:
        assert db.verify_audit_integrity() is False
        first = db.audit_trail.verify().first_problem
        assert first is not None
        return first.kind, first.tx_id, first.table, first.row


def test_sqlite_json_cannot_tell_a_one_ulp_edit_apart() -> None:
    """Why the canonical form cannot use SQLite's own JSON text for REALs."""
    conn = sqlite3.connect(":memory:")
    same = conn.execute("SELECT json_array(?) = json_array(?)", (0.1 + 0.2, 0.3)).fetchone()[0]
    assert same == 1


@pytest.mark.parametrize("original", EDGES)
@pytest.mark.parametrize("column", ["value", "raw"])
def test_one_ulp_edit_in_history_and_current_alike_fails_verification(
    tmp_path: Path, original: float, column: str
) -> None:
    """Only the ledger can catch this: history and the current table still agree."""
    path = tmp_path / "r.db"
    tx = _ledgered(path, original)
    edited = math.nextafter(original, 0.0)
    assert edited != original
    tamper(
        path,
        (f"UPDATE {H} SET {column} = ? WHERE id = 1", (edited,)),
        (f"UPDATE readings SET {column} = ? WHERE id = 1", (edited,)),
    )
    assert _first_problem(path) == ("history row edited", tx, "readings", None)


def test_0_3_written_over_0_1_plus_0_2_in_history_fails_verification(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    tx = _ledgered(path, 0.1 + 0.2)
    tamper(path, f"UPDATE {H} SET value = 0.3 WHERE id = 1")
    assert _first_problem(path) == ("history row edited", tx, "readings", None)


@pytest.mark.parametrize("original", EDGES)
def test_one_ulp_edit_in_the_current_table_fails_verification(
    tmp_path: Path, original: float
) -> None:
    path = tmp_path / "r.db"
    tx = _ledgered(path, original)
    tamper(path, ("UPDATE readings SET raw = ? WHERE id = 1", (math.nextafter(original, 0.0),)))
    assert _first_problem(path) == ("current row edited", tx, "readings", 1)


@pytest.mark.parametrize(
    ("original", "edited"),
    [
        (2.0, 2),
        (1.0, "1.0"),
        (1.0, b"1"),
        (math.inf, 1.7976931348623157e308),
        (-math.inf, math.inf),
    ],
)
def test_changing_a_real_for_another_type_or_infinity_fails_verification(
    tmp_path: Path, original: float, edited: Any
) -> None:
    path = tmp_path / "r.db"
    tx = _ledgered(path, original)
    tamper(
        path,
        (f"UPDATE {H} SET raw = ? WHERE id = 1", (edited,)),
        ("UPDATE readings SET raw = ? WHERE id = 1", (edited,)),
    )
    assert _first_problem(path) == ("history row edited", tx, "readings", None)


# ---------------------------------------------------------------- the canonical form itself

_SHAPE = SchemaVersion(1, 1, "t", "h", ("id",), (Column("v", "v", ""),), 1, 0, None, None)
_CONN = sqlite3.connect(":memory:", check_same_thread=False)
_CONN.execute("CREATE TABLE h (_chrono_op, v)")
_SQL = f"SELECT {row_json(_SHAPE)} FROM h"


def canonical(value: Any) -> str:
    """The canonical JSON of a version whose one column holds ``value``."""
    _CONN.execute("DELETE FROM h")
    _CONN.execute("INSERT INTO h VALUES ('I', ?)", (value,))
    return _CONN.execute(_SQL).fetchone()[0]


def identity(value: Any) -> tuple[str, Any]:
    """What SQLite stores: type and value (-0.0 is 0.0: SQL compares them equal)."""
    if isinstance(value, float):
        return ("real", value + 0.0)
    return (type(value).__name__, value)


finite = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True)
reals = st.floats(allow_nan=False)  # NaN cannot be stored: SQLite makes it NULL
values = (
    reals
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
    | st.binary(max_size=8)
    | st.none()
)


@settings(max_examples=500, deadline=None)
@given(finite)
@example(0.1 + 0.2)
@example(5e-324)
@example(-5e-324)
@example(2.2250738585072009e-308)
@example(1.7976931348623157e308)
@example(2.0**63)
@example(math.nextafter(2.0**63, 0.0))
@example(2.0**-11)
@example(math.nextafter(2.0**-11, 0.0))
@example(2.0)
def test_a_real_canonical_form_reads_back_as_exactly_that_real(x: float) -> None:
    op, (e, hi, lo) = json.loads(canonical(x))
    assert op == "I"
    assert (Fraction(hi) + Fraction(lo, 2**63)) * Fraction(2) ** e == Fraction(x)
    for neighbour in (math.nextafter(x, math.inf), math.nextafter(x, -math.inf)):
        if not math.isinf(neighbour):
            assert canonical(neighbour) != canonical(x)


def test_canonical_forms_of_edge_values() -> None:
    assert canonical(0.0) == canonical(-0.0) == '["I",[0,0,0]]'
    assert canonical(2.0) == '["I",[0,2,0]]'
    assert canonical(2) == '["I",2]'
    assert canonical("2") == '["I","2"]'
    assert canonical(b"2") == '["I",["32"]]'
    assert canonical(None) == '["I",null]'
    assert canonical(math.inf) == '["I",[1024,1,0]]'
    assert canonical(-math.inf) == '["I",[1024,-1,0]]'
    assert canonical(0.1 + 0.2) != canonical(0.3)


@settings(max_examples=300, deadline=None)
@given(values, values)
@example(0.0, -0.0)
@example(2.0, 2)
@example(1.0, "1.0")
@example(1.0, b"1.0")
@example(0.1 + 0.2, 0.3)
@example(math.inf, 1.7976931348623157e308)
@example("[0,2,0]", 2.0)
@example("AB", b"\xab")
def test_distinct_values_have_distinct_canonical_forms(a: Any, b: Any) -> None:
    assert (canonical(a) == canonical(b)) == (identity(a) == identity(b))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(reals, values), min_size=1, max_size=6))
def test_sealing_then_verifying_an_untouched_database_passes(rows: list[tuple[float, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.db"
        with ChronoDB(path) as db:
            db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, r REAL, v)")
            db.executemany(
                "INSERT INTO t VALUES (?, ?, ?)", [(i, *row) for i, row in enumerate(rows)]
            )
            db.execute("UPDATE t SET r = r * 3, v = v WHERE id = 0")
            with db.transaction():
                db.execute("DELETE FROM t WHERE id = 0")
                db.execute("INSERT INTO t VALUES (0, ?, ?)", list(rows[0]))
            assert db.verify_audit_integrity()
        with ChronoDB(path, read_only=True) as again:
            assert again.audit_trail.verify().ok
