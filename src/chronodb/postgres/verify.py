"""Full verification of the ledger on PostgreSQL: recompute every leaf from the stored rows.

Run in one REPEATABLE READ snapshot taken after the horizon, so concurrent writers are
either wholly in it or wholly out. What is checked:

1. every transaction record (``_chrono_tx``) has a leaf that decodes and whose head (id,
   time, user) is the record's;
2. every history row belongs to a recorded transaction (by its xid);
3. every transaction's versions, table by table, digest (``digests.scan_sql``, the SQL the
   commit step sealed with) to what its leaf recorded, no more tables and no fewer;
4. every current table equals its history's newest versions, key by key;
5. given a digest kept elsewhere (``tree.digest``), the tree of that size has its root.

It catches rows edited, deleted or inserted behind the triggers' back (a superuser's
``session_replication_role = replica`` or ``DISABLE TRIGGER``) and edited records. What
it cannot catch: someone who rewrites history, records and leaves consistently; a digest
kept outside the database catches that (5).
"""

from __future__ import annotations

import time

import psycopg

from chronodb.audit.digests import shape_at
from chronodb.audit.leaf import Leaf
from chronodb.audit.verify import Problem, VerificationReport
from chronodb.errors import AuditError
from chronodb.postgres import shapes
from chronodb.postgres.digests import FIXED_SETTINGS, row_json, scan_sql
from chronodb.postgres.install import horizon
from chronodb.postgres.names import (
    CATALOG,
    OP,
    SEQ,
    TX_TABLE,
    XID,
    key_list,
    qualified,
    quote,
)
from chronodb.postgres.tree import Tree
from chronodb.versioning.catalog import SchemaVersion

CURRENT = "current row differs from history"
"""The kind of a problem found in a current table (step 4)."""


def verify(
    conn: psycopg.Connection,
    schema: str = "public",
    *,
    digest: tuple[int, bytes] | None = None,
) -> VerificationReport:
    """Verify the ledger in ``schema``; ``digest``: a (tree size, root) kept elsewhere.

    ``conn`` must be in autocommit mode: verification runs in a transaction of its own,
    read-only, begun after the horizon.
    """
    started = time.perf_counter()
    report = VerificationReport(ok=True)
    upto = _snapshot(conn, schema)
    with conn.transaction():
        _settle(conn)
        leaves = _records(conn, schema, upto, report)
        sealed = {tx: (xid, leaf) for tx, xid, leaf in leaves}
        by_xid = {xid: tx for tx, xid, _ in leaves}
        found: dict[int, list[tuple[int, int, bytes]]] = {}
        book = shapes.load(conn, schema)
        live = {
            number: table
            for number, table in conn.execute(
                f"SELECT number, table_name FROM {qualified(schema, CATALOG)}"
            ).fetchall()
        }
        names: dict[int, str] = {}
        for number in sorted({shape.table_id for shape in book.versions}):
            spans = book.versions_of(number)
            table, hist = live.get(number, spans[-1].name), spans[-1].hist
            names[number] = table
            rows = 0
            for i, shape in enumerate(spans):
                columns = [(c.hist, c.decl_type) for c in shape.columns]
                sql = scan_sql(schema, hist, columns, span=_span(spans, i))
                for xid, count, digest_ in conn.execute(sql):
                    rows += count
                    tx = by_xid.get(str(xid))
                    if tx is None:
                        report.problems.append(
                            Problem(
                                "history rows without a transaction",
                                f"{count} version(s) of xid {xid} in {hist}: no transaction "
                                "record has that xid",
                                table=table,
                            )
                        )
                        continue
                    found.setdefault(tx, []).append((number, count, bytes(digest_)))
            report.checked["versions"] = report.checked.get("versions", 0) + rows
            if number in live:
                _current(conn, schema, table, spans[-1], by_xid, report)
        for tx, (_, leaf) in sealed.items():
            if leaf is None:
                continue
            recorded = sorted((t.table_id, t.versions, t.digest) for t in leaf.tables)
            actual = sorted(found.get(tx, []))
            if recorded != actual:
                report.problems.append(_mismatch(tx, recorded, actual, names))
        report.checked["transactions"] = len(sealed)
        tree = Tree(conn, schema, upto)
    report.tree_size = tree.size
    report.root = tree.root().hex()
    if digest is not None:
        size, root = digest
        if size > tree.size or tree.root(size) != root:
            report.problems.append(
                Problem(
                    "root differs from a saved digest",
                    f"the tree of {size} leaves does not have the saved root {root.hex()}",
                )
            )
    report.ok = not report.problems
    report.seconds = time.perf_counter() - started
    return report


def verify_transaction(conn: psycopg.Connection, tx_id: int, schema: str = "public") -> bool:
    """Whether transaction ``tx_id``'s versions still digest to its leaf, and the leaf is
    in the ledger's tree (its inclusion proof verifies against the root).

    ``conn`` must be in autocommit mode, as for :func:`verify`.
    """
    upto = _snapshot(conn, schema)
    with conn.transaction():
        _settle(conn)
        row = conn.execute(
            f"SELECT xid, leaf FROM {qualified(schema, TX_TABLE)} WHERE tx_id = %s", (tx_id,)
        ).fetchone()
        if row is None or row[1] is None or tx_id > upto:
            return False
        try:
            leaf = Leaf.decode(bytes(row[1]))
        except AuditError:
            return False
        if leaf.tx_id != tx_id:
            return False
        actual = []
        book = shapes.load(conn, schema)
        for number in sorted({shape.table_id for shape in book.versions}):
            shape = shape_at(book, number, tx_id)
            if shape is None:
                continue
            columns = [(c.hist, c.decl_type) for c in shape.columns]
            sql = scan_sql(schema, shape.hist, columns, one=True)
            for _, count, digest_ in conn.execute(sql, (row[0],)):
                actual.append((number, count, bytes(digest_)))
        if sorted(actual) != sorted((t.table_id, t.versions, t.digest) for t in leaf.tables):
            return False
        tree = Tree(conn, schema, upto)
    proof = tree.prove(tx_id)
    return proof.verify(tree.leaf_hash(tx_id), tree.root())


def _snapshot(conn: psycopg.Connection, schema: str) -> int:
    """The horizon, to be taken before the snapshot that reads up to it."""
    if not conn.autocommit:
        raise AuditError(
            "ledger verification needs a connection in autocommit mode: it reads in one "
            "snapshot of its own, begun after the horizon"
        )
    return horizon(conn, schema)


def _settle(conn: psycopg.Connection) -> None:
    """Make the open transaction a read-only snapshot with the digests' settings."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    for name, value in FIXED_SETTINGS:
        conn.execute("SELECT set_config(%s, %s, true)", (name, value))


def _records(
    conn: psycopg.Connection, schema: str, upto: int, report: VerificationReport
) -> list[tuple[int, str, Leaf | None]]:
    """(tx_id, xid, decoded leaf or None) of every record up to ``upto``; step 1."""
    out: list[tuple[int, str, Leaf | None]] = []
    for tx, xid, at, who, blob in conn.execute(
        f'SELECT tx_id, xid, tx_time, "user", leaf FROM {qualified(schema, TX_TABLE)} '
        "WHERE tx_id <= %s ORDER BY tx_id",
        (upto,),
    ):
        leaf = None
        if blob is None:
            report.problems.append(Problem("missing leaf", "the record has no leaf", tx))
        else:
            try:
                leaf = Leaf.decode(bytes(blob))
            except AuditError as err:
                report.problems.append(Problem("leaf undecodable", str(err), tx))
        if leaf is not None and (leaf.tx_id, leaf.tx_time, leaf.user) != (tx, at, who):
            report.problems.append(
                Problem(
                    "leaf does not match its record",
                    f"the leaf says tx {leaf.tx_id} at {leaf.tx_time} by {leaf.user!r}, "
                    f"the record tx {tx} at {at} by {who!r}",
                    tx,
                )
            )
        out.append((tx, str(xid), leaf))
    return out


def _span(spans: list[SchemaVersion], i: int) -> str | None:
    """The condition on a transaction's id (``t.tx_id``) under which shape ``spans[i]``
    of a table encodes its versions: from the shape's first transaction to the next
    shape's; the last shape also takes the transaction dropping the table, and versions of
    no recorded transaction (reported apart)."""
    conditions = []
    if i > 0:
        conditions.append(f"t.tx_id >= {spans[i].from_tx}")
    if i + 1 < len(spans):
        conditions.append(f"t.tx_id < {spans[i + 1].from_tx}")
        return " AND ".join(conditions)
    return f"t.tx_id IS NULL OR {conditions[0]}" if conditions else None


def _mismatch(
    tx: int,
    recorded: list[tuple[int, int, bytes]],
    actual: list[tuple[int, int, bytes]],
    names: dict[int, str],
) -> Problem:
    """The problem of a transaction whose versions no longer digest to its leaf's."""
    have = {t: (n, d) for t, n, d in actual}
    want = {t: (n, d) for t, n, d in recorded}
    for table_id in sorted(have.keys() | want.keys()):
        if have.get(table_id) != want.get(table_id):
            n_want = want.get(table_id, (0, b""))[0]
            n_have = have.get(table_id, (0, b""))[0]
            return Problem(
                "history does not match the leaf",
                f"the leaf records {n_want} version(s) in table {table_id}, history holds "
                f"{n_have}" + (" with another digest" if n_want == n_have else ""),
                tx,
                names.get(table_id, str(table_id)),
            )
    raise AssertionError("no difference between equal digests")


def _current(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    shape: SchemaVersion,
    by_xid: dict[str, int],
    report: VerificationReport,
) -> None:
    """Step 4: compare ``table``'s rows (of its open ``shape``) with its history's newest
    version of each key."""
    keys = [c.name for c in shape.key_columns]
    stored = list(shape.keys)
    key = key_list(stored, "h")
    same = " AND ".join(f"c.{quote(k)} = n.{quote(k)}" for k in keys)
    current = row_json(schema, [(c.name, c.decl_type) for c in shape.columns], "t", "'I'")
    newest = row_json(schema, [(c.hist, c.decl_type) for c in shape.columns], "h", "'I'")
    keyed = ", ".join(f"coalesce(c.{quote(k)}, n.{quote(k)})::text" for k in keys)
    named = ", ".join(f"h.{quote(h)} AS {quote(k)}" for h, k in zip(stored, keys, strict=True))
    sql = (
        f"SELECT n.{XID}, ARRAY[{keyed}] FROM "
        f"(SELECT {key_list(keys, 't')}, {current} AS j FROM {qualified(schema, table)} AS t) AS c "
        f"FULL JOIN (SELECT DISTINCT ON ({key}) {named}, h.{XID}, "
        f"CASE WHEN h.{OP} = 'D' THEN NULL ELSE {newest} END AS j "
        f"FROM {qualified(schema, shape.hist)} AS h ORDER BY {key}, h.{SEQ} DESC) AS n "
        f"ON {same} WHERE c.j IS DISTINCT FROM n.j"
    )
    count = conn.execute(f"SELECT count(*) FROM {qualified(schema, table)}").fetchone()
    report.checked["current rows"] = report.checked.get("current rows", 0) + (
        count[0] if count else 0
    )
    for xid, row_key in conn.execute(sql):
        tx = None if xid is None else by_xid.get(str(xid))
        report.problems.append(
            Problem(
                CURRENT,
                f"the row with key {row_key} is not its newest version in history",
                tx,
                table,
                row_key,
            )
        )
