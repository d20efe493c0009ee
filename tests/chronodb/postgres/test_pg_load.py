"""The layout's loader for copies (``chronodb/postgres/load.py``): xids for copied
transactions that no later transaction can be given."""

from __future__ import annotations

import psycopg

from chronodb.postgres import load


def _next_xid(conn: psycopg.Connection) -> int:
    (found,) = conn.execute(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
    ).fetchone()
    return int(found)


def test_xids_are_reserved_below_the_loading_transaction(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        wanted = _next_xid(conn) + 2000  # more than the server has handed out
        load.reserve_xids(conn, wanted)
        assert _next_xid(conn) >= wanted + load.SPECIAL_XIDS
        with conn.transaction():
            given = load.xids(conn, wanted)
            (own,) = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        assert given is not None and len(given) == len(set(given)) == wanted
        assert min(given) >= load.SPECIAL_XIDS and max(given) < own
        # A later transaction's xid is above every one of them.
        with conn.transaction():
            (later,) = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        assert later > max(given)


def test_reserving_what_was_handed_out_already_spends_nothing(pg_url: str) -> None:
    # xids are the whole server's: another client may take one meanwhile, so the check is
    # that some attempt spends none (a reservation that spent xids would in every attempt).
    with psycopg.connect(pg_url, autocommit=True) as conn:
        spent = []
        for _ in range(5):
            before = _next_xid(conn)
            load.reserve_xids(conn, 10)
            spent.append(_next_xid(conn) - before)
            if spent[-1] == 0:
                break
        assert 0 in spent, spent
