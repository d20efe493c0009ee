"""Saved digests on PostgreSQL: the signed-off (tree size, root) pairs, kept in the database.

``_chrono_digests`` has SQLite's columns (``audit/ledger.py``): tree size, root, the time
it was taken (epoch seconds), and the Ed25519 signature and public key of a signed one.
Verification (``verify.py``) checks the ledger against every row: a rewrite of history,
records and leaves that agree with each other is caught by a digest saved before it, unless
the rewriter deletes those rows too (a digest kept outside the database catches that).
"""

from __future__ import annotations

import psycopg

from chronodb.postgres.names import DIGESTS, qualified


def ddl(schema: str) -> str:
    """The statement creating ``_chrono_digests`` in ``schema`` (idempotent)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, DIGESTS)} ("
        " tree_size bigint PRIMARY KEY,"
        " root bytea NOT NULL,"
        " created double precision NOT NULL,"
        " signature bytea,"
        " public_key bytea)"
    )


def save(
    conn: psycopg.Connection,
    schema: str,
    tree_size: int,
    root: bytes,
    created: float,
    signature: bytes | None = None,
    public_key: bytes | None = None,
) -> None:
    """Keep a digest; a later one of the same size replaces it (its root is the same, or
    verification reports the ledger rewritten)."""
    conn.execute(
        f"INSERT INTO {qualified(schema, DIGESTS)} AS d VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (tree_size) DO UPDATE SET root = excluded.root, "
        "created = excluded.created, signature = excluded.signature, "
        "public_key = excluded.public_key",
        (tree_size, root, created, signature, public_key),
    )


def saved(conn: psycopg.Connection, schema: str) -> list[tuple[int, bytes]]:
    """(tree size, root) of every saved digest, smallest first (none in a database whose
    objects predate the table, opened read-only)."""
    table = qualified(schema, DIGESTS)
    found = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    if found is None or found[0] is None:
        return []
    rows = conn.execute(f"SELECT tree_size, root FROM {table} ORDER BY tree_size").fetchall()
    return [(int(size), bytes(root)) for size, root in rows]
