"""The audit ledger on PostgreSQL: the leaf each write transaction seals as it commits.

Every committed write transaction's leaf (``audit/leaf.py``'s format, byte for byte) is
computed in PL/pgSQL by the commit step (``install.py``), in the transaction it describes,
and stored in ``_chrono_tx.leaf``: a write by any client is sealed, not only ChronoDB's.

While a transaction runs, its history triggers note in transaction-local settings the
statement kinds it ran (``TG_OP``, :data:`KINDS_SETTING`), the tables it wrote versions to
(:data:`TABLES_SETTING`) and, per table, the ctids of those versions; a ROLLBACK TO
SAVEPOINT undoes the notes with the rows. Pruning and erasure note the amendments they
record (:data:`AMENDS_SETTING`, ``amendments.py``), which the leaf ends with. At commit,
``_chrono_seal`` digests each noted table's versions in table number order (the table's
``_chrono_d{N}_t`` function, ``digests.py``, reading them back by ctid) and encodes the
leaf. The versions are read back from history rather than digested by the statement
triggers, so the leaf digests what history holds, with the SQL verification recomputes it
with (``verify.py``).

Kinds are PostgreSQL's statement kinds, in the order their triggers fire: an upsert
(INSERT ... ON CONFLICT DO UPDATE) is "UPDATE,INSERT", a TRUNCATE "TRUNCATE"; an adoption
(``version_table``) is "ADOPT,TABLES 1" as on SQLite. A statement is counted even if it
changed no row, as on SQLite.

The Merkle tree over the leaves is ``tree.py``'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from chronodb.audit.leaf import FORMAT
from chronodb.postgres.names import (
    AMENDS_SETTING,
    CATALOG,
    KINDS_SETTING,
    SEAL_FUNCTION,
    SHAPES,
    TABLES_SETTING,
    VERSIONS_SETTING,
    digests_of,
    qualified,
)


def seal_function(schema: str, tables: Sequence[tuple[int, str]]) -> str:
    """``_chrono_seal()``: the open transaction's leaf from its kinds on (kinds, tables,
    amendments), for the commit step to put its head before (:func:`head_sql`).

    ``tables``: (number, history table) of every versioned table. Each table's digest
    function is called by name in a branch of its own, not through EXECUTE, so PL/pgSQL
    keeps the plan of each call; :func:`reseal` remakes the function when a table is
    versioned. Its plans are generic: PostgreSQL would otherwise plan the digest query
    afresh for each commit (a custom plan for the ctids at hand), which cost several times
    the query itself. It runs before the commit step takes the transaction's id, so that
    readers waiting for that id (the horizon) do not wait for the digests too.
    """
    branches = "".join(
        f"    {'IF' if i == 0 else 'ELSIF'} num = {number} THEN\n"
        f"      SELECT d.versions, d.digest INTO versions, digest "
        f"FROM {qualified(schema, digests_of(hist))}(ctids) AS d;\n"
        for i, (number, hist) in enumerate(sorted(tables))
    )
    dispatch = (
        f"{branches}    ELSE\n      RAISE EXCEPTION 'versioned table number % unknown', num;\n"
        "    END IF;\n"
        if tables
        else "    RAISE EXCEPTION 'versioned table number % unknown', num;\n"
    )
    return f"""
CREATE OR REPLACE FUNCTION {qualified(schema, SEAL_FUNCTION)}() RETURNS bytea
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $body$
DECLARE
  listed text := coalesce(current_setting('{TABLES_SETTING}', true), '');
  kinds bytea := convert_to(coalesce(current_setting('{KINDS_SETTING}', true), ''), 'UTF8');
  tables bytea := ''::bytea;
  n int := 0;
  num int;
  nums int[];
  ctids tid[];
  versions bigint;
  digest bytea;
BEGIN
  -- One table (the common case) is a simple expression, which needs no query.
  IF position(',' IN listed) = 0 THEN
    nums := CASE WHEN listed = '' THEN '{{}}'::int[] ELSE ARRAY[listed::int] END;
  ELSE
    nums := (SELECT array_agg(x ORDER BY x) FROM unnest(string_to_array(listed, ',')::int[]) AS x);
  END IF;
  FOREACH num IN ARRAY nums
  LOOP
    ctids := string_to_array(current_setting('{VERSIONS_SETTING}' || num), ';')::tid[];
{dispatch}    IF versions > 0 THEN
      tables := tables || int4send(num) || int8send(versions) || digest;
      n := n + 1;
    END IF;
  END LOOP;
  RETURN {_length("kinds")} || kinds || int4send(n) || tables || coalesce(
    decode(nullif(current_setting('{AMENDS_SETTING}', true), ''), 'hex'), int4send(0));
END
$body$"""


def reseal(conn: psycopg.Connection, schema: str) -> None:
    """(Re)make ``_chrono_seal`` for the tables versioned in ``schema`` now."""
    # A dropped table's too: the transaction dropping it may have written to it first.
    tables = conn.execute(
        f"SELECT number, hist FROM {qualified(schema, CATALOG)} "
        f"UNION SELECT number, hist FROM {qualified(schema, SHAPES)}"
    ).fetchall()
    conn.execute(seal_function(schema, tables))


def head_sql(tx: str, at: str, who: str) -> str:
    """SQL for a leaf's head (format, tx_id, tx_time, user) from SQL expressions."""
    author = f"convert_to({who}, 'UTF8')"
    return (
        f"'\\x{FORMAT:02x}'::bytea || int8send({tx}) || int8send({at}) || "
        f"{_length(author)} || {author}"
    )


def _length(data: str) -> str:
    """SQL: the 2-byte big-endian length of bytea expression ``data``."""
    return f"substring(int4send(length({data})) FROM 3)"


def literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def note_kind(kind: str = "TG_OP") -> str:
    """PL/pgSQL adding a statement's kind (SQL text: by default the firing trigger's
    ``TG_OP``) to the transaction's kinds, once (``kinds``: a text variable the caller
    declares)."""
    get = f"coalesce(current_setting('{KINDS_SETTING}', true), '')"
    return (
        f"kinds := {get}; "
        f"IF position(',' || {kind} || ',' IN ',' || kinds || ',') = 0 THEN "
        f"kinds := set_config('{KINDS_SETTING}', "
        f"CASE WHEN kinds = '' THEN {kind} ELSE kinds || ',' || {kind} END, true); END IF"
    )


def note_kinds(kinds: str) -> str:
    """PL/pgSQL setting the transaction's kinds to ``kinds`` (an adoption's, fixed)."""
    return f"PERFORM set_config('{KINDS_SETTING}', {literal(kinds)}, true)"


CTIDS = "string_agg(ctid::text, ';')"
"""SQL aggregate: the ctids of the rows a history INSERT returned, as :func:`note_versions`
takes them."""


def note_versions(number: int, ctids: str) -> str:
    """PL/pgSQL noting that the transaction wrote the versions ``ctids`` (a text variable
    holding :data:`CTIDS`) to table ``number``'s history. Reuses the caller's text variable
    ``kinds``.

    By ctid, so that the commit step reads them back with a TID scan: under SERIALIZABLE,
    reading them through an index (or the BRIN index's relation lock) made writers of
    different rows conflict with each other, whereas a transaction's reads of rows it wrote
    itself take no predicate locks.
    """
    tables = f"coalesce(current_setting('{TABLES_SETTING}', true), '')"
    setting = f"{VERSIONS_SETTING}{number}"
    return (
        f"kinds := {tables}; "
        f"IF position(',{number},' IN ',' || kinds || ',') = 0 THEN "
        f"kinds := set_config('{TABLES_SETTING}', "
        f"CASE WHEN kinds = '' THEN '{number}' ELSE kinds || ',{number}' END, true); END IF; "
        f"kinds := coalesce(current_setting('{setting}', true), ''); "
        f"kinds := set_config('{setting}', "
        f"CASE WHEN kinds = '' THEN {ctids} ELSE kinds || ';' || {ctids} END, true)"
    )
