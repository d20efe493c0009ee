"""The names of ChronoDB's objects in a PostgreSQL database, and how to quote them.

They follow the SQLite layout's names where they mean the same thing (``_chrono_tx``,
``_chrono_seq``, ``_chrono_op``, ``_chrono_h{N}_{table}``), so code and documentation can
speak of one layout. Objects only PostgreSQL needs (the writer's xid, the pending table,
the allocation sequences) have names of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from chronodb import layout

SEQ = layout.SEQ
"""History column: the version's place in history order, from :data:`SEQ_NEXT`."""
XID = layout.PG_XID
"""History column: the writing transaction's xid8; its commit-order id is in ``_chrono_tx``."""
OP = layout.OP
"""History column: 'I' insert, 'U' update, 'D' tombstone (key columns only)."""

TX_TABLE = layout.TRANSACTIONS
"""One row per committed write transaction: tx_id, xid, tx_time (µs), user, seq_lo, seq_hi,
leaf, settled (every id below it was visible or rolled back when this one was handed out)."""
PENDING = layout.PG_PENDING
"""One row per open write transaction (its xid): its insert queues the commit trigger."""
CATALOG = layout.PG_CATALOG
"""Which tables are versioned now: table name, history table, key columns."""
SHAPES = layout.SCHEMA
"""Every versioned table's shapes over time (``shapes.py``), as SQLite's catalog of the same
name: its name, columns and history columns, from the transaction that made a shape (by
xid) to the one that changed it or dropped the table."""
VIEWS = layout.VIEWS
"""Every view's definitions over time (``views.py``), as SQLite's table of the same name."""
SEQ_NEXT = layout.PG_SEQ_NEXT
"""The sequence numbering history rows, shared by all history tables."""
TX_NEXT = layout.PG_TX_NEXT
"""The sequence handing out transaction ids, called only under the allocation lock."""
TIME_LAST = layout.PG_TIME_LAST
"""A sequence holding the last transaction time handed out (µs), set under the lock."""
SETTLED = layout.PG_SETTLED
"""An unlogged sequence, set under the allocation lock: every id below its value is visible
or rolled back (the commit step's walk, read back on a standby from ``_chrono_tx.settled``)."""
META = layout.META
"""Key/value: the ledger's last verification (``layout.META_VERIFIED``), as in SQLite's file."""
DIGESTS = layout.DIGESTS
"""The saved digests: tree size, root, time, signature and public key (``signoffs.py``)."""
COMMIT_FUNCTION = layout.PG_COMMIT
COMMIT_TRIGGER = layout.PG_COMMIT
HORIZON_FUNCTION = layout.PG_HORIZON
DDL_COUNT = layout.PG_DDL_COUNT
"""A sequence the event trigger advances at each ALTER or DROP TABLE, whoever runs it
(``outside.py``): a change of it tells the engine to look for schema changes to follow."""
DDL_NOTE = layout.PG_DDL_NOTE
READ_HORIZON_FUNCTION = layout.PG_READ_HORIZON
REAL_FUNCTION = layout.PG_REAL
SEAL_FUNCTION = layout.PG_SEAL
HISTORY = layout.HISTORY
OLD_ROWS = layout.PG_OLD_ROWS
NEW_ROWS = layout.PG_NEW_ROWS
POINT = layout.PG_POINT
LOW = layout.PG_LOW
CHANGED_KEYS = layout.PG_CHANGED_KEYS
FROM = layout.FROM
TX = layout.TX  # in SQL: a version's transaction id, as a column alias
TO = layout.TO
NEXT = layout.NEXT
PREFIX = layout.PREFIX

ERASURES = layout.ERASURES
"""The erased keys: table, key, how many versions went, the erasing xid, user, reason."""

ALLOCATE_LOCK = 0x6368726F6E6F  # "chrono"
"""Advisory lock key serializing the allocation of ids (held for microseconds, not through
the commit's WAL flush)."""
MAINTAIN_LOCK = ALLOCATE_LOCK + 2
"""Advisory lock a pruning or erasing transaction holds until it ends: one at a time, so
each one's amendments are digested after the previous one's removals."""
COMMITTING = 0x63686E << 40
"""Base of the per-id advisory lock keys: a transaction holds ``COMMITTING + id`` from the
allocation of its id until it is visible (or rolled back)."""
PENDING_SETTING = "chronodb.pending"
"""Transaction-local setting: the ctid of the open transaction's pending row ('' if none)."""
TX_ROW_SETTING = "chronodb.tx_row"
"""Transaction-local setting: the ctid of the transaction's ``_chrono_tx`` row, once it has
one (an early commit step, under SET CONSTRAINTS ALL IMMEDIATE)."""
KINDS_SETTING = "chronodb.kinds"
"""Transaction-local setting: the statement kinds (TG_OP) the transaction ran, in order of
first use, comma-separated: the ledger leaf's ``kinds``."""
TABLES_SETTING = "chronodb.tables"
"""Transaction-local setting: the numbers of the versioned tables the transaction wrote
versions to, comma-separated: the tables its leaf digests."""
TEXTS_SETTING = "chronodb.j"
"""Transaction-local settings, one per table number following this: the canonical JSON
texts of the versions the transaction wrote to that table's history, comma-joined in digest
order (the ledger's, ``ledger.py``); the latest of them, when earlier ones were moved to
full chunks ``{TEXTS_SETTING}{N}_{k}``, k from 1 (:data:`CHUNKS_SETTING`)."""
CHUNKS_SETTING = "chronodb.k"
"""Transaction-local settings, one per table number following this: how many full chunks of
the transaction's texts for that table there are ('' or unset: none)."""
COUNT_SETTING = "chronodb.n"
"""Transaction-local settings, one per table number following this: how many versions the
transaction wrote to that table's history."""
FIRST_SETTING = "chronodb.s"
"""Transaction-local settings, one per table number following this: the history order
number of the transaction's first versions in that table."""
AMENDS_SETTING = "chronodb.amends"
"""Transaction-local setting: the hex of the leaf's amendments section (count, then entries)
that pruning or erasure in this transaction recorded ('' or unset: none)."""
LAST_XID_SETTING = "chronodb.last_xid"
"""Session setting: the xid of this session's last write transaction ('' if it wrote
nothing), kept across its COMMIT so that the statement after can find its id."""
HORIZON_SETTING = "chronodb.horizon"
"""Session setting: a horizon a statement of this session checked, and the schema generation
then (``bounds.py``), space-separated."""
USER_SETTING = "chronodb.user"
"""Session setting naming the user recorded for a transaction (default: current_user)."""


NOTIFY_PREFIX = "chronodb_"
"""The commit step notifies channel ``chronodb_<schema>`` with the new id (a doorbell)."""
NOTIFY_LOCK = 0x63686E6F  # "chno"
"""Advisory lock class (the first of two int4 keys; the second is the channel's hashtext)
taken, try and transaction-scoped, by the commit step that notifies: one transaction per
schema at a time sends the doorbell, the others commit without queuing a NOTIFY."""


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel on which the commit step announces ``schema``'s commits."""
    return NOTIFY_PREFIX + schema


def quote(name: str) -> str:
    """``name`` as a PostgreSQL identifier, always quoted (case and keywords kept)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """``schema.name``, both quoted."""
    return f"{quote(schema)}.{quote(name)}"


NAME_BYTES = 60
"""The longest history table name: PostgreSQL cuts identifiers at 63 bytes, and the
longest name derived from it (``{hist}_ai``, a trigger and its function) is 3 more."""


def history_of(number: int, table: str) -> str:
    """The history table of the ``number``-th versioned table ``table``.

    A long table name is cut (on a character boundary) to fit :data:`NAME_BYTES`; the
    number keeps the names of different tables apart.
    """
    prefix = layout.history(number, "")
    room = NAME_BYTES - len(prefix.encode())
    return prefix + table.encode()[:room].decode(errors="ignore")


def _companion(prefix: str, hist: str) -> str:
    return prefix + hist[len(layout.HISTORY) :]


def key_index_of(hist: str) -> str:
    """History's (key, _chrono_seq) index."""
    return _companion(layout.PG_KEY_INDEX, hist)


def seq_index_of(hist: str) -> str:
    """History's BRIN index on _chrono_seq."""
    return _companion(layout.PG_SEQ_INDEX, hist)


def changed_of(hist: str) -> str:
    """The function listing the keys of ``hist``'s versions from a point in history order."""
    return _companion(layout.PG_CHANGED, hist)


def digests_of(hist: str) -> str:
    """The function giving one transaction's versions in ``hist`` in the ledger's canonical
    form."""
    return _companion(layout.PG_DIGESTS, hist)


def trigger_names(hist: str) -> tuple[str, ...]:
    """The insert, update, delete and truncate triggers writing ``hist`` (each function is
    named as its trigger: they live in different catalogs)."""
    return tuple(f"{hist}_{suffix}" for suffix in layout.PG_TRIGGER_SUFFIXES)


def key_list(keys: Sequence[str], alias: str | None = None) -> str:
    """The quoted key columns, comma-separated, optionally prefixed by ``alias``."""
    prefix = "" if alias is None else f"{alias}."
    return ", ".join(prefix + quote(k) for k in keys)
