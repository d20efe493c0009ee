"""The names of ChronoDB's layout: the one place they are spelled.

Everything ChronoDB keeps in a database, and every name it gives in the SQL it writes,
starts with :data:`PREFIX`; a user's table whose name does is not versioned
(:func:`is_internal`). The names of objects in the file are its format: changing one is a
format change (``versioning/upgrade.py``). The SQL around them stays with the code that
runs it; this module holds the names alone, and a test keeps every other module from
spelling them.
"""

from __future__ import annotations

PREFIX = "_chrono_"
INTERNAL_LIKE = "'" + PREFIX.replace("_", "\\_") + "%' ESCAPE '\\'"
"""A LIKE pattern, with its ESCAPE clause, matching the names that start with PREFIX."""


def is_internal(name: str) -> bool:
    """Whether ``name`` is ChronoDB's own or SQLite's (never a user's table)."""
    return name.lower().startswith((PREFIX, "sqlite_"))


# -- Shared tables (one each per file) -------------------------------------------------------

META = "_chrono_meta"  # key/value: the file format, the origin of transaction times
META_VERIFIED = "verified"
"""The key of META's row holding the ledger's last verification (``audit/verified.py``): when,
with what result. Added by the first verification, so older files and databases need none."""
TRANSACTIONS = "_chrono_tx"  # transaction records, with the ledger's leaves
TX_MARKS = "_chrono_tx_mark"  # the time of every counted era's MARK_EVERY-th transaction
SCHEMA = "_chrono_schema"  # the catalog: each table's shape per span of transactions
VIEWS = "_chrono_views"  # each view's definition per span of transactions
ERASURES = "_chrono_erasures"  # erased keys, kept so history's gaps are explained
LEDGER = "_chrono_ledger"  # a view of the transaction records that have leaves
LEDGER_HASH = "_chrono_ledger_hash"  # leaf hash to transaction
DIGESTS = "_chrono_digests"  # signed-off tree sizes and roots
MERKLE = "_chrono_merkle"  # the Merkle tree's stored nodes

# -- History columns -------------------------------------------------------------------------

SEQ = "_chrono_seq"  # rowid alias: history order survives VACUUM
TX = "_chrono_tx"  # the transaction that wrote the version
OP = "_chrono_op"  # INSERTED, UPDATED or DELETED
LEAF = "_chrono_leaf"
"""The audit ledger's leaf of the transaction whose last version of the table this row is
(``audit/ledger.py``): a page the write dirties anyway, where a transaction record would
cost a page of its own. NULL on every other row."""
ROWID_KEY = "_chrono_rowid"  # the key of a table without a primary key: its rowid

INSERTED = "I"
UPDATED = "U"
DELETED = "D"  # a tombstone
"""The values of OP."""

# -- Per table: history ``_chrono_h{N}_{name}`` and its companions ---------------------------

HISTORY = "_chrono_h"
KEY_SET = "_chrono_k"
NULL_KEYS = "_chrono_n"
NOTES = "_chrono_r"
BIRTHS = "_chrono_b"
"""The prefixes of the per-table names; each is followed by the table's number, ``_`` and
its name at registration. All have one length, so one's suffix is the others'."""

TRIGGER_SUFFIXES = ("ai", "au", "ak", "ad", "bi", "bu", "ri", "ru", "ni", "nk")
"""The history triggers' suffixes: four on every table, four on tables a REPLACE can empty
of a row through another UNIQUE constraint, two on tables whose key may hold a NULL."""


def history(table_id: int, name: str) -> str:
    """The history table of table number ``table_id``, named ``name`` when registered."""
    return f"{HISTORY}{table_id}_{name}"


def keys_of(hist: str) -> str:
    """The key set of history table ``hist``: every key its history holds, once."""
    return KEY_SET + hist[len(HISTORY) :]


def null_keys_of(hist: str) -> str:
    """The table of ``hist``'s keys that hold a NULL."""
    return NULL_KEYS + hist[len(HISTORY) :]


def notes_of(hist: str) -> str:
    """The TEMP table noting the keys of rows a write of ``hist``'s table may REPLACE away."""
    return NOTES + hist[len(HISTORY) :]


def births_of(hist: str) -> str:
    """The births table ``hist`` had in file formats 2 to 5."""
    return BIRTHS + hist[len(HISTORY) :]


def history_of(companion: str) -> str:
    """The history table of a key set, null keys or notes table."""
    return HISTORY + companion[len(HISTORY) :]


def history_index(hist: str) -> str:
    """The unique index of ``hist`` on (key, TX)."""
    return hist + "_key"


def births_index(hist: str) -> str:
    """The partial index of 'I' versions ``hist`` had before file format 2."""
    return hist + "_ins"


def trigger_names(hist: str) -> list[str]:
    """The history triggers' names, in the order of :data:`TRIGGER_SUFFIXES`."""
    return [f"{hist}_{suffix}" for suffix in TRIGGER_SUFFIXES]


def guard_names(table_id: int) -> list[str]:
    """The guard triggers' names of table number ``table_id``: INSERT, UPDATE, DELETE."""
    return [f"_chrono_guard{table_id}_{kind}" for kind in ("i", "u", "d")]


WRITE_GUARD = "write_through_chronodb"
"""A collation only ChronoDB's connections define (``storage/sqlite.py``), named by each
versioned table's guard triggers (``tables.create_guard``) in a condition that never holds.
SQLite looks it up when it compiles a write, so any other connection's INSERT, UPDATE or
DELETE on a versioned table fails at once ("no such collation sequence:
write_through_chronodb") and changes nothing: it has none of ChronoDB's TEMP history
triggers, so its change would have no version. Reads are not affected. A collation, not a
function: a function in a trigger makes SQLite journal every statement in case it fails,
a comparison does not."""

# -- Other objects and names -----------------------------------------------------------------

NOW = "_chrono_now"  # TEMP: the connection's open transaction, read by its triggers
LEAF_OF_ONE = "_chrono_leaf_of_one"  # a writer's SQL function: a one-version seal's leaf
GONE = "_chrono_gone"  # TEMP: the history rows a prune removes
NEWEST = "_chrono_newest"  # TEMP: each key's newest version, while verifying
DEFAULT_PROBE = "_chrono_default_probe"  # TEMP: what a column's default stores
COPY_SUFFIX = "_chrono_copy"  # a table being rebuilt: its name, then this
OLD_TX_TIME_INDEX = "_chrono_tx_time"  # on the transaction records, before format 3
OLD_MARK_TRIGGERS = ("_chrono_tx_mark_ai", "_chrono_tx_mark_ad")  # kept the marks in format 3
ATOMIC = "_chrono_atomic"  # the savepoint around a statement that must not half-apply

# Names in the SQL ChronoDB writes: column aliases and bound parameters.
FROM = "_chrono_from"  # a version's start (microseconds)
TO = "_chrono_to"  # a version's end (microseconds; NULL while current)
NEXT = "_chrono_next"  # the transaction of the key's next version
ROW = "_chrono_row"  # a version's rowid
PREV = "_chrono_prev"  # the rowid of the key's previous version
AT = "_chrono_at"  # a version's transaction time (microseconds)
WHO = "_chrono_who"  # a version's transaction's user
LEAF = "_chrono_leaf"  # a version's transaction's ledger leaf
RANK = "_chrono_rank"  # a row's rank among a relation's rows (GraphQL)
POINT_PARAM = "_chrono_p"  # a point in time's parameter, then its number
KEY_PARAM = "_chrono_k"  # a user's positional parameter, named, then its number

# -- PostgreSQL (``chronodb.postgres``): the names it adds to those above ---------------------

PG_XID = "_chrono_xid"  # history column: the writing transaction's xid8
PG_PENDING = "_chrono_pending"  # one row per open write transaction: queues the commit step
PG_CATALOG = "_chrono_versioned"  # the versioned tables: name, history, key columns
PG_SEQ_NEXT = "_chrono_seq_next"  # sequence: history order, shared by all history tables
PG_TX_NEXT = "_chrono_tx_next"  # sequence: transaction ids, called under the allocation lock
PG_TIME_LAST = "_chrono_time_last"  # sequence: the last transaction time handed out (µs)
PG_SETTLED = "_chrono_settled"  # unlogged sequence: every id below it is visible or rolled back
PG_COMMIT = "_chrono_commit"  # the commit step: a deferred constraint trigger and its function
PG_HORIZON = "_chrono_horizon"  # a reader's bound: the function waiting for ids to settle
PG_READ_HORIZON = "_chrono_read_horizon"  # the same, checked against a statement's snapshot
PG_KEY_INDEX = "_chrono_i"  # per table: history's (key, SEQ) index
PG_SEQ_INDEX = "_chrono_s"  # per table: history's BRIN index on SEQ
PG_CHANGED = "_chrono_c"  # per table: the function listing keys changed from a SEQ on
PG_DIGESTS = "_chrono_d"  # per table: one transaction's versions in the ledger's form
"""Per-table prefixes, followed like HISTORY by the table's number, ``_`` and its name."""
PG_TRIGGER_SUFFIXES = ("ai", "au", "ad", "at")
"""The history triggers (insert, update, delete, truncate), each with a function of its
name: ``{hist}_{suffix}``."""
PG_OLD_ROWS = "_chrono_old"  # a statement trigger's transition table of old rows
PG_NEW_ROWS = "_chrono_new"  # and of new rows
PG_POINT = "_chrono_point"  # in AS OF SQL: the point (its tx id and seq_hi)
PG_LOW = "_chrono_low"  # in AS OF SQL: the first history number changed since the point
PG_CHANGED_KEYS = "_chrono_changed"  # in AS OF SQL: the keys changed since the point
PG_REAL = "_chrono_real"  # the ledger's canonical form of a float8 that needs scaling
PG_SEAL = "_chrono_seal"  # the ledger's leaf of the transaction committing
PG_ROW_IMAGE = "_chrono_row"  # in verification's SQL: a row's canonical JSON, current or past
PG_VIEW_POINT = "_chrono_param"  # a view's query planned AS OF: its point's parameter
PG_DDL_COUNT = "_chrono_ddl_count"  # sequence: ALTER and DROP TABLE statements run by anyone
PG_DDL_NOTE = "_chrono_ddl_note"  # the event trigger (named per schema) and function counting them
