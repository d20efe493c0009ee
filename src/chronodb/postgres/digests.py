"""The ledger's digests of history rows on PostgreSQL: the same canonical form as on SQLite.

A version's canonical form is the JSON text SQLite's ``json_array(op, columns...)`` prints
(``chronodb.audit.digests``): no spaces, strings escaped as SQLite escapes them (PostgreSQL's
``to_json`` escapes the same characters the same way). A transaction's digest for a table is
SHA-256 over ``[v1,v2,...]``, its versions in history order. On PostgreSQL a statement's
versions share one ``_chrono_seq``, so versions are ordered by ``_chrono_seq``, then by their
canonical text (bytewise, collation "C"): one order, whatever the database's collation.

How each PostgreSQL type enters the canonical form, chosen so that a value SQLite can hold
(as Python's sqlite3 stores it) digests to the same bytes on both:

=============================  ==============================================================
smallint, integer, bigint      an integer (SQLite INTEGER)
boolean                        1 or 0 (Python stores a bool as an INTEGER)
real, double precision         ``[e, hi, lo]``, exactly as SQLite's REAL; NaN (which SQLite
                               stores as NULL) is ``[1024, 0, 0]``
text, varchar, char, name      a JSON string (SQLite TEXT)
bytea                          ``[HEX]`` (SQLite BLOB, upper-case hex)
timestamp                      a string ``YYYY-MM-DD HH:MM:SS[.ffffff]``: what Python's
                               sqlite3 stores for a naive datetime (``isoformat(" ")``)
timestamp with time zone       the same in UTC, followed by ``+00:00`` (an aware datetime)
date                           a string ``YYYY-MM-DD`` (a date)
numeric                        a JSON string of its text (``1.50``): SQLite has no exact
                               decimal, and this is what a TEXT column holding it digests to
anything else                  a JSON string of its text, printed under fixed settings
                               (:data:`FIXED_SETTINGS`) so that no session's DateStyle,
                               TimeZone or IntervalStyle changes it
NULL                           null
=============================  ==============================================================

A value PostgreSQL holds and SQLite cannot (infinite timestamps, BC dates, arrays) is only
digested consistently on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chronodb.postgres.names import (
    OP,
    REAL_FUNCTION,
    SEQ,
    TX_TABLE,
    XID,
    digests_of,
    qualified,
    quote,
)

FIXED_SETTINGS = (
    ("datestyle", "ISO, YMD"),
    ("intervalstyle", "postgres"),
    ("timezone", "UTC"),
    ("extra_float_digits", "1"),
    ("lc_monetary", "C"),
)
"""The settings under which a value of a type without its own rule is printed."""

_P63 = "'9223372036854775808'::float8"  # 2^63
_P62 = "'4611686018427387904'::float8"  # 2^62
_PM11 = "'0.00048828125'::float8"  # 2^-11
_INTEGERS = {"smallint", "integer", "bigint"}
_FLOATS = {"real", "double precision"}
_TEXTS = ("text", "character varying", "character", "name", '"char"', "citext")
_DATES = {"date", "timestamp without time zone", "timestamp with time zone"}
_TIMESTAMP = "YYYY-MM-DD HH24:MI:SS"


def real_function(schema: str) -> str:
    """``_chrono_real(float8)``: ``[e, hi, lo]`` of any float8, scaling by 2^62 a step at a
    time as SQLite's recursive query does (``audit/digests.py``); the common range is
    computed inline (:func:`_real`) and never calls it."""
    return f"""
CREATE OR REPLACE FUNCTION {qualified(schema, REAL_FUNCTION)}(x float8) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $body$
DECLARE
  y float8 := x;
  e int := 0;
  hi float8;
BEGIN
  IF x = 'NaN'::float8 THEN RETURN '[1024,0,0]'; END IF;
  IF x = 'Infinity'::float8 THEN RETURN '[1024,1,0]'; END IF;
  IF x = '-Infinity'::float8 THEN RETURN '[1024,-1,0]'; END IF;
  WHILE y <> 0 AND (abs(y) < {_PM11} OR abs(y) >= {_P63}) LOOP
    IF abs(y) < 1 THEN y := y * {_P62}; e := e - 62; ELSE y := y / {_P62}; e := e + 62; END IF;
  END LOOP;
  hi := trunc(y);
  RETURN '[' || e || ',' || hi::bigint || ',' || ((y - hi) * {_P63})::bigint || ']';
END
$body$"""


def _real(schema: str, c: str) -> str:
    """A float8 expression's ``[e, hi, lo]``: exact arithmetic, as on SQLite."""
    hi = f"trunc({c})"
    inline = f"'[0,' || {hi}::bigint || ',' || (({c} - {hi}) * {_P63})::bigint || ']'"
    return (
        f"CASE WHEN abs({c}) < {_P63} AND (abs({c}) >= {_PM11} OR {c} = 0) THEN {inline} "
        f"ELSE {qualified(schema, REAL_FUNCTION)}({c}) END"
    )


def _timestamp(c: str) -> str:
    """``YYYY-MM-DD HH:MM:SS[.ffffff]`` of a timestamp, as Python's ``isoformat(" ")``."""
    return (
        f"CASE WHEN NOT isfinite({c}) THEN {c}::text ELSE to_char({c}, '{_TIMESTAMP}') || "
        f"CASE WHEN date_trunc('second', {c}) = {c} THEN '' ELSE to_char({c}, '.US') END END"
    )


def _base(kind: str) -> str:
    """A ``format_type`` spelling without its modifiers: ``numeric(10,2)`` is ``numeric``,
    ``timestamp(3) with time zone`` is ``timestamp with time zone``."""
    return " ".join(re.sub(r"\([^)]*\)", "", kind).split())


def value_sql(schema: str, c: str, kind: str) -> str:
    """The canonical JSON text of expression ``c`` of type ``kind`` (``format_type``'s
    spelling), ``null`` for NULL."""
    base = _base(kind)
    if kind.endswith("[]"):
        text = f"to_json({c}::text)::text"
    elif base in _INTEGERS:
        text = f"{c}::text"
    elif base == "boolean":
        text = f"{c}::int::text"
    elif base in _FLOATS:
        text = _real(schema, f"{c}::float8")
    elif base in _TEXTS or base == "numeric":
        text = f"to_json({c}::text)::text"
    elif base == "bytea":
        text = f"'[\"' || upper(encode({c}, 'hex')) || '\"]'"
    elif base == "timestamp without time zone":
        text = f"to_json({_timestamp(c)})::text"
    elif base == "timestamp with time zone":
        utc = f"({c} AT TIME ZONE 'UTC')"
        suffix = f"CASE WHEN isfinite({c}) THEN '+00:00' ELSE '' END"
        text = f"to_json({_timestamp(utc)} || {suffix})::text"
    elif base == "date":
        day = f"CASE WHEN isfinite({c}) THEN to_char({c}, 'YYYY-MM-DD') ELSE {c}::text END"
        text = f"to_json({day})::text"
    else:
        text = f"to_json({c}::text)::text"
    return f"coalesce({text}, 'null')"


def row_json(schema: str, columns: Sequence[tuple[str, str]], alias: str, op: str) -> str:
    """SQL for one version's canonical JSON: ``op`` (an SQL text expression), then the
    columns ``(name, type)`` of row ``alias``. An op is a letter (I, U, D), which JSON
    quotes as is: no ``to_json`` call, the costliest part of a row's text."""
    values = [value_sql(schema, f"{alias}.{quote(name)}", kind) for name, kind in columns]
    if not values:
        return f"'[\"' || ({op})::text || '\"]'"
    return f"'[\"' || ({op})::text || '\",' || " + " || ',' || ".join(values) + " || ']'"


def version_json(schema: str, columns: Sequence[tuple[str, str]], alias: str = "h") -> str:
    """SQL for the canonical JSON of history row ``alias``."""
    return row_json(schema, columns, alias, f"{alias}.{OP}")


ORDER = 's, j COLLATE "C"'
"""The order of one transaction's versions in its digest (``s``: SEQ, ``j``: the JSON)."""
STATEMENT_TEXTS = "string_agg(j, ',' ORDER BY j COLLATE \"C\")"
"""SQL aggregate: the canonical JSON texts ``j`` of one statement's versions (which share
their SEQ), comma-joined in digest order."""


def digest_of(texts: str) -> str:
    """SQL: the digest of the comma-joined canonical texts ``texts`` (an SQL text
    expression), SHA-256 over ``[texts]``."""
    return f"sha256(convert_to('[' || {texts} || ']', 'UTF8'))"


DIGEST = digest_of(f"coalesce(string_agg(j, ',' ORDER BY {ORDER}), '')")
"""SQL aggregate: a transaction's digest for a table, over rows (s, j)."""


def settings_clause(columns: Sequence[tuple[str, str]]) -> str:
    """The function SET clauses the canonical form of these columns needs: none when every
    type has its own rule (settings cost a function call some microseconds)."""
    plain = _INTEGERS | _FLOATS | _DATES | {"boolean", "bytea", "numeric", *_TEXTS}
    if all(_base(kind) in plain and not kind.endswith("[]") for _, kind in columns):
        return ""
    return " ".join(f"SET {name} = '{value}'" for name, value in FIXED_SETTINGS)


def pinned(columns: Sequence[tuple[str, str]], body: str) -> str:
    """PL/pgSQL running ``body`` under :data:`FIXED_SETTINGS` if the canonical form of these
    columns needs them (:func:`settings_clause`), then putting the session's back: for a
    block that cannot have a function's SET clauses (a DO block)."""
    if not settings_clause(columns):
        return body
    pin = " ".join(
        f"PERFORM set_config('{name}', '{value}', true);" for name, value in FIXED_SETTINGS
    )
    back = " ".join(
        f"PERFORM set_config('{name}', saved[{i}], true);"
        for i, (name, _) in enumerate(FIXED_SETTINGS, 1)
    )
    kept = ", ".join(f"current_setting('{name}')" for name, _ in FIXED_SETTINGS)
    return f"DECLARE saved text[] := ARRAY[{kept}]; BEGIN {pin} {body}; {back} END"


def texts_function(schema: str, hist: str, columns: Sequence[tuple[str, str]]) -> str:
    """``_chrono_d{N}_t(x, lo)``: (versions, texts) of transaction ``x``'s versions in
    ``hist`` numbered ``lo`` or more: their count and their canonical JSON texts,
    comma-joined in digest order (NULL for none). What the ledger notes again when a
    transaction's own versions change under it (``ledger.renote``); ``lo`` lets the BRIN
    index on SEQ skip all but history's tail. The body names its arguments ``$1`` and
    ``$2``: in an SQL function a history column of the same name would win."""
    return (
        f"CREATE OR REPLACE FUNCTION {qualified(schema, digests_of(hist))}"
        "(x xid8, lo bigint) RETURNS TABLE (versions bigint, texts text) "
        f"LANGUAGE sql STABLE {settings_clause(columns)} AS $body$ "
        f"SELECT count(*), string_agg(j, ',' ORDER BY {ORDER}) FROM (SELECT h.{SEQ} AS s, "
        f"{version_json(schema, columns)} AS j FROM {qualified(schema, hist)} AS h "
        f"WHERE h.{XID} = $1 AND h.{SEQ} >= $2) AS v $body$"
    )


def scan_sql(
    schema: str,
    hist: str,
    columns: Sequence[tuple[str, str]],
    *,
    one: bool = False,
    many: bool = False,
    span: str | None = None,
) -> str:
    """SQL giving (xid, versions, digest) for every transaction with versions in ``hist``
    (``one``: for the xid given as its parameter; ``many``: for the xids of the text array
    given as its parameter): verification's recomputation, the same digests the commit step
    seals. Run it under :data:`FIXED_SETTINGS`. ``columns``: the history columns (name,
    type) of the table's shape those transactions wrote; ``span``: a condition on their ids
    (``t.tx_id``, NULL for a transaction without a record) that picks the transactions of
    that shape."""
    picked = [f"h.{XID} = %s"] if one else [f"h.{XID} = ANY (%s::xid8[])"] if many else []
    conditions = picked + ([f"({span})"] if span else [])
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    joined = f" LEFT JOIN {qualified(schema, TX_TABLE)} AS t ON t.xid = h.{XID}" if span else ""
    return (
        f"SELECT x, count(*), {DIGEST} FROM (SELECT h.{XID} AS x, h.{SEQ} AS s, "
        f"{version_json(schema, columns)} AS j FROM {qualified(schema, hist)} AS h{joined}"
        f"{where}) AS v GROUP BY x"
    )
