"""Full verification of the ledger on PostgreSQL: recompute every leaf from the stored rows.

Run in one REPEATABLE READ snapshot taken after the horizon, so concurrent writers are
either wholly in it or wholly out. What is checked:

1. every transaction record (``_chrono_tx``) has a leaf that decodes and whose head (id,
   time, user) is the record's;
2. every history row belongs to a recorded transaction (by its xid);
3. every transaction's versions, table by table, digest (``digests.scan_sql``, the SQL the
   commit step sealed with) to what its leaf recorded, no more tables and no fewer, or to
   what a later pruning or erasure recorded instead (``amendments.py``);
4. every current table equals its history's newest versions, key by key;
5. given a digest kept elsewhere (``tree.digest``), the tree of that size has its root;
   so has the tree of each digest saved in the database (``signoffs.py``).

The kinds of problems are SQLite's (``audit/verify.py``), so a report reads the same on
both backends.

It catches rows edited, deleted or inserted behind the triggers' back (a superuser's
``session_replication_role = replica`` or ``DISABLE TRIGGER``) and edited records. What
it cannot catch: someone who rewrites history, records and leaves consistently; a digest
kept outside the database catches that (5).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from chronodb.audit.digests import shape_at
from chronodb.audit.leaf import Leaf
from chronodb.audit.verify import Problem, VerificationReport, check_digests
from chronodb.errors import AuditError
from chronodb.layout import PG_ROW_IMAGE as ROW
from chronodb.postgres import shapes
from chronodb.postgres.amendments import amending, expected, latest
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
from chronodb.postgres.signoffs import saved
from chronodb.postgres.tree import Tree
from chronodb.versioning.catalog import SchemaVersion


def verify(
    conn: psycopg.Connection,
    schema: str = "public",
    *,
    digest: tuple[int, bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerificationReport:
    """Verify the ledger in ``schema``; ``digest``: a (tree size, root) kept elsewhere;
    ``progress(done, total)``: called with the versions checked, table by table.

    ``conn`` must be in autocommit mode: verification runs in a transaction of its own,
    read-only, begun after the horizon.
    """
    started = time.perf_counter()
    report = VerificationReport(ok=True)
    with reading(conn, schema) as upto:
        leaves = _records(conn, schema, upto, report)
        sealed = {tx: (xid, leaf) for tx, xid, leaf in leaves}
        by_xid = {xid: tx for tx, xid, _ in leaves}
        # Committed between the horizon and this snapshot: in it, but checked next time.
        later = {
            str(x)
            for (x,) in conn.execute(
                f"SELECT xid FROM {qualified(schema, TX_TABLE)} WHERE tx_id > %s", (upto,)
            )
        }
        found: dict[int, list[tuple[int, int, bytes]]] = {}
        total = sum(t.versions for _, leaf in sealed.values() if leaf for t in leaf.tables)
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
            for hist, columns, span in shapes.scans(book, number):
                for xid, count, digest_ in conn.execute(scan_sql(schema, hist, columns, span=span)):
                    tx = by_xid.get(str(xid))
                    if tx is None and str(xid) in later:
                        continue
                    rows += count
                    if tx is None:
                        report.problems.append(
                            Problem(
                                "history rows inserted",
                                f"{count} version(s) of xid {xid} in {hist}: no transaction "
                                "record has that xid",
                                table=table,
                            )
                        )
                        continue
                    found.setdefault(tx, []).append((number, count, bytes(digest_)))
            report.checked["versions"] = report.checked.get("versions", 0) + rows
            if progress is not None:
                progress(report.checked["versions"], total)
            if number in live:
                _current(conn, schema, table, spans[-1], by_xid, report)
        amended = latest(leaf for _, leaf in sealed.values() if leaf is not None)
        # A record without a leaf whose transaction wrote no versions was made up.
        report.problems = [
            Problem("transaction record inserted", "no leaf and no versions", p.tx_id)
            if p.kind == "ledger leaf deleted" and p.tx_id not in found
            else p
            for p in report.problems
        ]
        for tx, (_, leaf) in sealed.items():
            if leaf is None:
                continue
            recorded = expected(leaf, amended)
            actual = sorted(found.get(tx, []))
            if recorded != actual:
                report.problems.append(_mismatch(tx, recorded, actual, names))
        report.checked["transactions"] = len(sealed)
        if amended:
            pairs = sum(len(tables) for tables in amended.values())
            report.notes.append(
                f"{pairs} transaction/table pair(s) were pruned or erased; their remaining "
                "versions were checked against the digests recorded when that happened"
            )
        tree = Tree(conn, schema, upto)
        check_digests(saved(conn, schema), tree.tree, report)
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
    with reading(conn, schema) as upto:
        row = conn.execute(
            f"SELECT xid, leaf FROM {qualified(schema, TX_TABLE)} WHERE tx_id = %s", (tx_id,)
        ).fetchone()
        if row is None or row[1] is None or tx_id > upto:
            return False
        try:
            leaf = Leaf.decode(bytes(row[1]))
        except AuditError:
            return False
        tree = Tree(conn, schema, upto)
        if leaf.tx_id != tx_id or not matches(conn, schema, row[0], leaf, tree):
            return False
    proof = tree.prove(tx_id)
    return proof.verify(tree.leaf_hash(tx_id), tree.root())


def matches(conn: psycopg.Connection, schema: str, xid: object, leaf: Leaf, tree: Tree) -> bool:
    """Whether the versions of the transaction ``xid`` digest to what ``leaf`` records, as
    amended by the later leaves of ``tree`` (inside :func:`reading`)."""
    actual = []
    book = shapes.load(conn, schema)
    for number in sorted({shape.table_id for shape in book.versions}):
        shape = shape_at(book, number, leaf.tx_id)
        if shape is None:
            continue
        columns = [(c.hist, c.decl_type) for c in shape.columns]
        for _, count, digest_ in conn.execute(
            scan_sql(schema, shape.hist, columns, one=True), (xid,)
        ):
            actual.append((number, count, bytes(digest_)))
    later = [
        Leaf.decode(blob) for tx, blob in tree.leaves.items() if tx > leaf.tx_id and amending(blob)
    ]
    return sorted(actual) == expected(leaf, latest(later))


@contextmanager
def reading(conn: psycopg.Connection, schema: str = "public") -> Iterator[int]:
    """One read-only REPEATABLE READ snapshot, with the digests' settings, begun after the
    horizon it yields: every transaction up to it is wholly in, no later one can appear
    below it. ``conn`` must be in autocommit mode."""
    if not conn.autocommit:
        raise AuditError(
            "ledger verification needs a connection in autocommit mode: it reads in one "
            "snapshot of its own, begun after the horizon"
        )
    upto = horizon(conn, schema)
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for name, value in FIXED_SETTINGS:
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        yield upto


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
            report.problems.append(Problem("ledger leaf deleted", "the record has no leaf", tx))
        else:
            try:
                leaf = Leaf.decode(bytes(blob))
            except AuditError as err:
                report.problems.append(Problem("ledger leaf edited", str(err), tx))
        if leaf is not None and (leaf.tx_id, leaf.tx_time, leaf.user) != (tx, at, who):
            report.problems.append(
                Problem(
                    "transaction record edited",
                    f"the leaf says tx {leaf.tx_id} at {leaf.tx_time} by {leaf.user!r}, "
                    f"the record tx {tx} at {at} by {who!r}",
                    tx,
                )
            )
        out.append((tx, str(xid), leaf))
    return out


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
            if n_want == n_have:
                kind = "history row edited"
            else:
                kind = "history rows deleted" if n_have < n_want else "history rows inserted"
            return Problem(
                kind,
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
    version of each key.

    As on SQLite, a row differing from its key's newest version is "edited", a live newest
    version without its row "deleted" (both name that version's transaction), a row whose
    key has no live version "inserted"; the row is named by its key's value (a tuple for a
    composite key).
    """
    keys = [c.name for c in shape.key_columns]
    stored = list(shape.keys)
    key = key_list(stored, "h")
    same = " AND ".join(f"c.{quote(k)} = n.{quote(k)}" for k in keys)
    current = row_json(schema, [(c.name, c.decl_type) for c in shape.columns], "t", "'I'")
    newest = row_json(schema, [(c.hist, c.decl_type) for c in shape.columns], "h", "'I'")
    keyed = ", ".join(f"coalesce(c.{quote(k)}, n.{quote(k)})" for k in keys)
    named = ", ".join(f"h.{quote(h)} AS {quote(k)}" for h, k in zip(stored, keys, strict=True))
    sql = (
        f"SELECT n.{XID}, c.{ROW} IS NULL, n.{ROW} IS NULL, {keyed} FROM "
        f"(SELECT {key_list(keys, 't')}, {current} AS {ROW} "
        f"FROM {qualified(schema, table)} AS t) AS c "
        f"FULL JOIN (SELECT DISTINCT ON ({key}) {named}, h.{XID}, "
        f"CASE WHEN h.{OP} = 'D' THEN NULL ELSE {newest} END AS {ROW} "
        f"FROM {qualified(schema, shape.hist)} AS h ORDER BY {key}, h.{SEQ} DESC) AS n "
        f"ON {same} WHERE c.{ROW} IS DISTINCT FROM n.{ROW}"
    )
    count = conn.execute(f"SELECT count(*) FROM {qualified(schema, table)}").fetchone()
    report.checked["current rows"] = report.checked.get("current rows", 0) + (
        count[0] if count else 0
    )
    for xid, gone, dead, *values in conn.execute(sql):
        row_key = values[0] if len(values) == 1 else tuple(values)
        if dead:
            kind, detail, xid = "current row inserted", "has no live version in history", None
        elif gone:
            kind, detail = "current row deleted", "is gone, its newest version is live"
        else:
            kind, detail = "current row edited", "differs from its newest version"
        tx = None if xid is None else by_xid.get(str(xid))
        report.problems.append(
            Problem(kind, f"the row with key {row_key!r} {detail}", tx, table, row_key)
        )
