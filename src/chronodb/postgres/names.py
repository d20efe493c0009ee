"""The names of ChronoDB's objects in a PostgreSQL database, and how to quote them.

They follow the SQLite layout's names where they mean the same thing (``_chrono_tx``,
``_chrono_seq``, ``_chrono_op``, ``_chrono_h{N}_{table}``), so code and documentation can
speak of one layout. Objects only PostgreSQL needs (the writer's xid, the pending table,
the allocation sequences) have names of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

SEQ = "_chrono_seq"
"""History column: the version's place in history order, from :data:`SEQ_NEXT`."""
XID = "_chrono_xid"
"""History column: the writing transaction's xid8; its commit-order id is in ``_chrono_tx``."""
OP = "_chrono_op"
"""History column: 'I' insert, 'U' update, 'D' tombstone (key columns only)."""

TX_TABLE = "_chrono_tx"
"""One row per committed write transaction: tx_id, xid, tx_time (µs), user, seq_hi, leaf."""
PENDING = "_chrono_pending"
"""One row per open write transaction (its xid): its insert queues the commit trigger."""
CATALOG = "_chrono_versioned"
"""Which tables are versioned: table name, history table, key columns."""
SEQ_NEXT = "_chrono_seq_next"
"""The sequence numbering history rows, shared by all history tables."""
TX_NEXT = "_chrono_tx_next"
"""The sequence handing out transaction ids, called only under the commit lock."""
TIME_LAST = "_chrono_time_last"
"""A sequence holding the last transaction time handed out (µs), set under the commit lock."""
COMMIT_FUNCTION = "_chrono_commit"
COMMIT_TRIGGER = "_chrono_commit"
ALLOCATE_LOCK = 0x6368726F6E6F  # "chrono"
"""Advisory lock key serializing the allocation of ids (held for microseconds, not through
the commit's WAL flush)."""
COMMITTING = 0x63686E << 40
"""Base of the per-id advisory lock keys: a transaction holds ``COMMITTING + id`` from the
allocation of its id until it is visible (or rolled back)."""
HORIZON_FUNCTION = "_chrono_horizon"
PENDING_SETTING = "chronodb.pending"
"""Transaction-local setting: the ctid of the open transaction's pending row ('' if none)."""
TX_ROW_SETTING = "chronodb.tx_row"
"""Transaction-local setting: the ctid of the transaction's ``_chrono_tx`` row, once it has
one (an early commit step, under SET CONSTRAINTS ALL IMMEDIATE)."""
USER_SETTING = "chronodb.user"
"""Session setting naming the user recorded for a transaction (default: current_user)."""


def quote(name: str) -> str:
    """``name`` as a PostgreSQL identifier, always quoted (case and keywords kept)."""
    return '"' + name.replace('"', '""') + '"'


NAME_BYTES = 59
"""The longest history table name: PostgreSQL cuts identifiers at 63 bytes, and the
longest name derived from it (``_chrono_ai{N}_t_fn``, a trigger's function) is 4 more."""


def history_of(number: int, table: str) -> str:
    """The history table of the ``number``-th versioned table ``table``.

    A long table name is cut (on a character boundary) to fit :data:`NAME_BYTES`; the
    number keeps the names of different tables apart.
    """
    prefix = f"_chrono_h{number}_"
    room = NAME_BYTES - len(prefix)
    return prefix + table.encode()[:room].decode(errors="ignore")


def changed_of(hist: str) -> str:
    """The function listing the keys of ``hist``'s versions from a point in history order
    (``_chrono_h{N}_t`` -> ``_chrono_c{N}_t``)."""
    return "_chrono_c" + hist.removeprefix("_chrono_h")


def trigger_names(hist: str) -> tuple[str, str, str, str]:
    """The insert, update, delete and truncate triggers writing ``hist``."""
    base = hist.removeprefix("_chrono_h")
    return tuple(f"_chrono_{kind}{base}" for kind in ("ai", "au", "ad", "at"))  # type: ignore[return-value]


def function_of(trigger: str) -> str:
    """The trigger function behind trigger ``trigger`` (one function per trigger)."""
    return trigger + "_fn"


def key_list(keys: Sequence[str], alias: str | None = None) -> str:
    """The quoted key columns, comma-separated, optionally prefixed by ``alias``."""
    prefix = "" if alias is None else f"{alias}."
    return ", ".join(prefix + quote(k) for k in keys)
