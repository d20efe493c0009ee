"""The modules around the engine use its internal API only: no module reads the private
fields of a database or engine object it was given."""

from __future__ import annotations

import ast
from pathlib import Path

import chronodb

SOURCE = Path(chronodb.__file__).parent
_HOLDERS = {"db", "database", "engine"}  # how modules name a ChronoDB or its Engine


def _holder(node: ast.expr) -> str | None:
    """``db``, ``engine``, ``self._db``, ``self.engine``...: the name, if ``node`` is one."""
    if isinstance(node, ast.Name) and node.id in _HOLDERS:
        return node.id
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and node.attr.lstrip("_") in _HOLDERS
    ):
        return f"self.{node.attr}"
    return None


def _private_reads(path: Path, root: Path = SOURCE) -> list[str]:
    """Each read of a private field of a database or engine in ``path``, as where: what."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(root)}:{node.lineno}: {_holder(node.value)}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and _holder(node.value) is not None
    ]


def test_no_module_reads_a_database_or_engine_private_field() -> None:
    found = [read for path in sorted(SOURCE.rglob("*.py")) for read in _private_reads(path)]
    # The facade's own module reaches its engine (engine_of, the closed check).
    allowed = {"database.py"}
    assert [r for r in found if r.split(":")[0] not in allowed] == []


def test_the_check_sees_a_private_read(tmp_path: Path) -> None:
    source = tmp_path / "reader.py"
    source.write_text(
        "class A:\n"
        "    def f(self, db, engine):\n"
        "        return db._conn, engine.catalog, self._engine._lock, self._own\n"
    )
    assert _private_reads(source, tmp_path) == [
        "reader.py:3: db._conn",
        "reader.py:3: self._engine._lock",
    ]
