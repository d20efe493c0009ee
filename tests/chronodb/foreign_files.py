"""SQLite files made by other tools (the plain ``sqlite3`` module), for adoption and export.

``make_app`` writes one of each kind of table ChronoDB meets in the wild; ``plain_rows``
reads any table's rows with plain sqlite3, sorted, for comparing with ChronoDB's answers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

APP_SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    age INT CHECK (age >= 0) DEFAULT 1
);
CREATE TABLE notes (body TEXT, score REAL);
CREATE TABLE grid (x INT, y TEXT, v TEXT, PRIMARY KEY (x, y));
CREATE TABLE settings (k TEXT PRIMARY KEY, v INT) WITHOUT ROWID;
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INT REFERENCES users (id),
    qty INT,
    doubled INT GENERATED ALWAYS AS (qty * 2) VIRTUAL,
    tripled INT GENERATED ALWAYS AS (qty * 3) STORED
);
CREATE INDEX orders_user ON orders (user_id);
CREATE VIEW user_names AS SELECT name FROM users;
CREATE TABLE log (msg TEXT);
CREATE TRIGGER users_log AFTER INSERT ON users BEGIN
    INSERT INTO log (msg) VALUES ('new ' || NEW.name);
END;
CREATE VIRTUAL TABLE docs USING fts5 (title, body);
"""
VERSIONED = ["grid", "log", "notes", "orders", "settings", "users"]
"""The tables of ``make_app``'s file that ChronoDB versions (docs is FTS5: it does not)."""
FTS_SHADOWS = ["docs_config", "docs_content", "docs_data", "docs_docsize", "docs_idx"]


def make_app(path: Path, rows: int = 5) -> Path:
    """A file with every kind of table (see APP_SCHEMA), ``rows`` rows in each."""
    conn = sqlite3.connect(path)
    conn.executescript(APP_SCHEMA)
    for i in range(rows):
        conn.execute("INSERT INTO users (name, age) VALUES (?, ?)", (f"user{i}", i))
        conn.execute("INSERT INTO notes VALUES (?, ?)", (f"note{i}", i / 2))
        conn.execute("INSERT INTO grid VALUES (?, ?, ?)", (i, f"y{i}", "v"))
        conn.execute("INSERT INTO settings VALUES (?, ?)", (f"k{i}", i))
        conn.execute("INSERT INTO orders (id, user_id, qty) VALUES (?, ?, ?)", (i, i + 1, i))
        conn.execute("INSERT INTO docs VALUES (?, ?)", (f"title{i}", f"body {i}"))
    conn.commit()
    conn.close()
    return path


def make_big(path: Path, rows: int) -> Path:
    """A file with one plain table of ``rows`` rows and one keyed table as big."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE events (kind TEXT, payload TEXT)")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)")
    numbers = [(i, f"label {i} " + "x" * 40) for i in range(rows)]
    conn.executemany("INSERT INTO events VALUES (?, ?)", numbers)
    conn.executemany("INSERT INTO items VALUES (?, ?)", numbers)
    conn.commit()
    conn.close()
    return path


def sorted_rows(rows: Iterable[Any]) -> list[tuple[Any, ...]]:
    """Rows as tuples in one order whatever they hold (NULLs and mixed types included)."""
    return sorted((tuple(r) for r in rows), key=repr)


def plain_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """``table``'s rows as plain sqlite3 reads them, sorted."""
    conn = sqlite3.connect(path)
    try:
        return sorted_rows(conn.execute(f'SELECT * FROM "{table}"'))
    finally:
        conn.close()


def schema_names(path: Path) -> list[str]:
    """Every name in the file's sqlite_schema."""
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_schema")]
    finally:
        conn.close()
