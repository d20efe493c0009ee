"""What a column means to SQLite beyond its values: its type affinity and its collation.

A table read AS OF a point is a subquery over its history, and SQLite gives a subquery's
column the affinity and collation of its expression. History columns therefore declare
their table column's affinity (:func:`history_type`), so ``WHERE id = '1'`` converts the
string as the table would; and the snapshot names each column's collation in its
projection (``snapshots.as_of``), so ``WHERE name = 'Bob'`` on a NOCASE column matches
'bob' there too. History's own indexes stay BINARY: a key that changes case is a new key.
"""

from __future__ import annotations

import re

from chronodb.sql.classify import unquote

BINARY = "BINARY"

_TOKENS = re.compile(
    r"""\s+|--[^\n]*|/\*.*?(?:\*/|$)"""  # blanks and comments: skipped
    r"""|'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]"""  # strings and names
    r"""|[\w$]+|.""",
    re.S,
)


def affinity(decl_type: str) -> str:
    """SQLite's affinity for a declared type (section 3.1 of its datatype rules)."""
    decl = decl_type.upper()
    if "INT" in decl:
        return "INTEGER"
    if any(word in decl for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not decl or "BLOB" in decl:
        return "BLOB"
    if any(word in decl for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def history_type(decl_type: str) -> str:
    """The type a history column declares: its table column's affinity, by its plainest name.

    Values reach history from the table with that affinity already applied, so declaring it
    changes no stored value; a BLOB affinity (no conversion) is declared by no type at all.
    """
    found = affinity(decl_type)
    return "" if found == "BLOB" else found


def collations(create_sql: str) -> dict[str, str]:
    """Each column's collation as a CREATE TABLE statement declares it, by lowercased name.

    Columns without a COLLATE clause are left out (they compare as BINARY). Only the column
    definitions' own clauses count, not a COLLATE inside a CHECK or a default expression.
    """
    tokens = [
        t for t in _TOKENS.findall(create_sql) if not t.isspace() and t[:2] not in ("--", "/*")
    ]
    try:
        start = tokens.index("(")
    except ValueError:  # CREATE TABLE ... AS SELECT: SQLite writes its own column list
        return {}
    found: dict[str, str] = {}
    depth, definition = 0, []
    for token in tokens[start + 1 :]:
        if token == "(":
            depth += 1
            if depth == 1:
                definition.append("(")  # a parenthesized group stands for nothing here
        elif token == ")":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and token == ",":
            _note(definition, found)
            definition = []
        elif depth == 0:
            definition.append(token)
    _note(definition, found)
    return found


def _note(definition: list[str], found: dict[str, str]) -> None:
    """Record one column definition's COLLATE clause (a table constraint has none outside
    parentheses, and its first word names no column)."""
    for i, token in enumerate(definition[1:-1], start=1):
        if token.upper() == "COLLATE" and definition[i + 1] != "(":
            found[unquote(definition[0]).lower()] = unquote(definition[i + 1])
