"""Reading a PostgreSQL schema's history, ledger and schema over time for a copy.

Everything is read in one REPEATABLE READ snapshot begun after the horizon
(``postgres/verify.reading``): every transaction up to it is wholly in, none after it.
Values are read through the ledger's canonical form (``postgres/digests.py``), the JSON
each version digests as, and decoded to the values SQLite would hold for it: so a copy's
versions digest as the source's did, whatever the column's type (a timestamp is its text,
a boolean 1 or 0, a numeric the text of its digits).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from chronodb.copy.model import Dump, Table, Transaction, Version
from chronodb.database import ChronoDB, postgres_engine_of
from chronodb.postgres import shapes
from chronodb.postgres import views as pg_views
from chronodb.postgres.digests import row_json, version_json
from chronodb.postgres.names import (
    DIGESTS,
    ERASURES,
    OP,
    SEQ,
    TX_TABLE,
    XID,
    qualified,
)
from chronodb.postgres.verify import reading


@contextmanager
def read(db: ChronoDB) -> Iterator[Dump]:
    """The schema ``db`` has open, as a :class:`Dump` readable until the block ends."""
    engine = postgres_engine_of(db)
    conn, schema = engine.conn, engine.backend.schema
    with engine.lock, reading(conn, schema) as upto:
        tx = qualified(schema, TX_TABLE)
        transactions = [
            Transaction(int(tx_id), int(at), who, None if leaf is None else bytes(leaf))
            for tx_id, at, who, leaf in conn.execute(
                f'SELECT tx_id, tx_time, "user", leaf FROM {tx} WHERE tx_id <= %s ORDER BY tx_id',
                (upto,),
            ).fetchall()
        ]
        book = shapes.load(conn, schema)
        by_id: dict[int, Table] = {}
        for shape in book.versions:
            by_id.setdefault(shape.table_id, Table(shape.table_id, [])).shapes.append(shape)
        tables = [by_id[n] for n in sorted(by_id)]
        for table in tables:
            for shape in table.shapes:
                for column in shape.columns:
                    table.native[column.hist] = column.decl_type
                    table.affinity[column.hist] = column.decl_type
            table.counts = {
                int(t): int(n)
                for t, n in conn.execute(
                    f"SELECT t.tx_id, count(*) FROM {qualified(schema, table.shapes[-1].hist)} "
                    f"AS h JOIN {tx} AS t ON t.xid = h.{XID} WHERE t.tx_id <= %s GROUP BY 1",
                    (upto,),
                ).fetchall()
            }
        erasures = [
            (name, key, int(n), int(tx_id), who, why)
            for name, key, n, tx_id, who, why in conn.execute(
                f'SELECT e.table_name, e.row_key, e.versions, t.tx_id, e."user", e.reason '
                f"FROM {qualified(schema, ERASURES)} AS e JOIN {tx} AS t ON t.xid = e.xid "
                "WHERE t.tx_id <= %s ORDER BY e.id",
                (upto,),
            ).fetchall()
        ]
        digests = [
            (int(size), bytes(root), float(at), _bytes(signature), _bytes(key))
            for size, root, at, signature, key in conn.execute(
                f"SELECT tree_size, root, created, signature, public_key "
                f"FROM {qualified(schema, DIGESTS)} ORDER BY tree_size"
            ).fetchall()
        ]

        def versions(table: Table) -> Iterator[Version]:
            return _versions(conn, schema, table, upto)

        def current(table: Table) -> Iterator[tuple[object, ...]]:
            live = table.live
            assert live is not None
            columns = [(c.name, c.decl_type) for c in live.columns]
            sql = f"SELECT {row_json(schema, columns, 'o', repr('I'))} FROM "
            for (text,) in conn.execute(f"{sql}{qualified(schema, live.name)} AS o"):
                yield tuple(decode(json.loads(text))[1:])

        yield Dump(
            transactions=transactions,
            tables=tables,
            views=[v for v in pg_views.definitions(conn, schema) if v.from_tx <= upto],
            views_now=pg_views.current(conn, schema),
            erasures=erasures,
            digests=digests,
            versions=versions,
            current=current,
        )


def _bytes(value: bytes | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)


def _versions(conn: psycopg.Connection, schema: str, table: Table, upto: int) -> Iterator[Version]:
    """``table``'s versions, a shape's span at a time, in transaction order, each
    transaction's in its digest's order (history order, then the canonical text)."""
    hist = qualified(schema, table.shapes[-1].hist)
    tx = qualified(schema, TX_TABLE)
    spans = table.shapes
    for i, shape in enumerate(spans):
        columns = [(c.hist, c.decl_type) for c in shape.columns]
        conditions = ["t.tx_id <= %(upto)s"]
        if i > 0:
            conditions.append(f"t.tx_id >= {int(shape.from_tx)}")
        if i + 1 < len(spans):
            conditions.append(f"t.tx_id < {int(spans[i + 1].from_tx)}")
        sql = (
            f"SELECT x, o, j FROM (SELECT t.tx_id AS x, h.{SEQ} AS s, h.{OP} AS o, "
            f"{version_json(schema, columns)} AS j FROM {hist} AS h "
            f"JOIN {tx} AS t ON t.xid = h.{XID} WHERE {' AND '.join(conditions)}) AS v "
            f'ORDER BY x, s, j COLLATE "C"'
        )
        names = [c.hist for c in shape.columns]
        with conn.cursor(name=f"chronodb_copy_{table.table_id}_{i}") as cursor:
            cursor.itersize = 5000
            cursor.execute(sql, {"upto": upto})
            for tx_id, op, text in cursor:
                values = decode(json.loads(text))[1:]
                yield Version(int(tx_id), str(op), dict(zip(names, values, strict=True)))


_TWO_63 = 2**63


def decode(values: list[object]) -> list[object]:
    """A canonical form's values as SQLite holds them: ``[hex]`` is a BLOB, ``[e, hi, lo]``
    the REAL ``(hi + lo / 2^63) * 2^e`` (``audit/digests.py``), anything else itself."""
    out: list[object] = []
    for value in values:
        if isinstance(value, list) and len(value) == 1:
            out.append(bytes.fromhex(value[0]))
        elif isinstance(value, list):
            e, hi, lo = value
            if e == 1024:
                out.append(math.inf * hi if hi else math.nan)
            else:
                # hi * 2^63 + lo is the float scaled by 2^63: exact as a double.
                out.append(math.ldexp(float(hi * _TWO_63 + lo), e - 63))
        else:
            out.append(value)
    return out
