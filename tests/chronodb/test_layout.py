"""The layout's names are spelled in ``chronodb.layout`` alone, and mean the file's format."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import chronodb
from chronodb import ChronoDB, layout

SOURCE = Path(chronodb.__file__).parent


def _spellings(path: Path) -> list[tuple[int, str]]:
    """String constants (f-string parts included) holding the prefix; documentation (a
    string standing alone as a statement) is left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and "_chrono_" in node.value.replace("\\_", "_")
    ]


def test_only_the_layout_module_spells_the_names() -> None:
    found = {
        f"{path.relative_to(SOURCE)}:{line}": text
        for path in sorted(SOURCE.rglob("*.py"))
        if path != SOURCE / "layout.py"
        for line, text in _spellings(path)
    }
    assert found == {}


def test_the_scan_sees_f_string_parts(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Names _chrono_tx."""\nn = 1\nsql = f"SELECT x FROM _chrono_h{n}_t"\n')
    assert _spellings(sample) == [(3, "SELECT x FROM _chrono_h")]


def test_the_names_are_the_files(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = ChronoDB(str(path))
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    db.close()
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema")}
    columns = [r[1] for r in conn.execute("PRAGMA table_info(_chrono_h1_t)")]
    conn.close()
    hist = layout.history(1, "t")
    assert hist == "_chrono_h1_t"
    assert {hist, layout.keys_of(hist), layout.history_index(hist), *layout.guard_names(1)} <= names
    assert {layout.META, layout.TRANSACTIONS, layout.SCHEMA, layout.VIEWS} <= names
    assert columns[:3] == [layout.SEQ, layout.TX, layout.OP] and columns[-1] == layout.LEAF
    assert layout.history_of(layout.keys_of(hist)) == hist


def test_internal_names() -> None:
    assert layout.is_internal("_CHRONO_h1_t") and layout.is_internal("sqlite_stat1")
    assert not layout.is_internal("chrono_t")
