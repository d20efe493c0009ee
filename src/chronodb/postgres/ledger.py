"""The audit ledger on PostgreSQL: the leaf each write transaction seals as it commits.

Every committed write transaction's leaf (``audit/leaf.py``'s format, byte for byte) is
computed in PL/pgSQL by the commit step (``install.py``), in the transaction it describes,
and stored in ``_chrono_tx.leaf``: a write by any client is sealed, not only ChronoDB's.

While a transaction runs, its history triggers note in transaction-local settings the
statement kinds it ran (``TG_OP``, :data:`KINDS_SETTING`), the tables it wrote versions to
(:data:`TABLES_SETTING`) and, per table, its versions in the digest's canonical form: their
JSON texts, comma-joined in digest order (:data:`TEXTS_SETTING`), and their count
(:data:`COUNT_SETTING`). Each statement's trigger computes its versions' texts from the
rows its history INSERT returned (what history holds, with the SQL verification recomputes
them with, ``digests.py``), sorted as the digest orders one statement's versions; a later
statement's versions come later in history order, so appending keeps the order. A ROLLBACK
TO SAVEPOINT undoes the notes with the rows. A change to versions the transaction already
wrote (a schema change, an erasure) notes them again from history (:func:`renote`).
Pruning and erasure note the amendments they record (:data:`AMENDS_SETTING`,
``amendments.py``), which the leaf ends with. At commit, ``_chrono_seal`` hashes each noted
table's texts in table number order and encodes the leaf: no query reads history back.

Kinds are PostgreSQL's statement kinds, in the order their triggers fire: an upsert
(INSERT ... ON CONFLICT DO UPDATE) is "UPDATE,INSERT", a TRUNCATE "TRUNCATE"; an adoption
(``version_table``) is "ADOPT,TABLES 1" as on SQLite. A statement is counted even if it
changed no row, as on SQLite.

The Merkle tree over the leaves is ``tree.py``'s.
"""

from __future__ import annotations

import psycopg

from chronodb.audit.leaf import FORMAT
from chronodb.postgres.digests import STATEMENT_TEXTS, digest_of
from chronodb.postgres.names import (
    AMENDS_SETTING,
    CHUNKS_SETTING,
    COUNT_SETTING,
    FIRST_SETTING,
    KINDS_SETTING,
    SEAL_FUNCTION,
    TABLES_SETTING,
    TEXTS_SETTING,
    digests_of,
    qualified,
)

NOTES = "chronodb ledger notes: canonical texts"
"""The seal function's comment, naming how the history triggers it reads note a
transaction's versions: a database whose seal has another (or none) has triggers that note
them otherwise, made again when it is installed (``tables.install``)."""


def seal_function(schema: str) -> str:
    """``_chrono_seal()``: the open transaction's leaf from its kinds on (kinds, tables,
    amendments), for the commit step to put its head before (:func:`head_sql`).

    It runs no query for one table (the common case), only expressions over the notes. It
    runs before the commit step takes the transaction's id, so that readers waiting for
    that id (the horizon) do not wait for the hashing too.
    """
    chunks = f"coalesce(nullif(current_setting('{CHUNKS_SETTING}' || num, true), ''), '0')::int"
    full = (
        f"(SELECT string_agg(current_setting('{TEXTS_SETTING}' || num || '_' || i), ',' "
        f"ORDER BY i) FROM generate_series(1, chunks) AS i) || ',' || "
        f"current_setting('{TEXTS_SETTING}' || num)"
    )
    return f"""
CREATE OR REPLACE FUNCTION {qualified(schema, SEAL_FUNCTION)}() RETURNS bytea
LANGUAGE plpgsql AS $body$
DECLARE
  listed text := coalesce(current_setting('{TABLES_SETTING}', true), '');
  kinds bytea := convert_to(coalesce(current_setting('{KINDS_SETTING}', true), ''), 'UTF8');
  tables bytea := ''::bytea;
  n int := 0;
  num int;
  nums int[];
  versions bigint;
  chunks int;
  texts text;
BEGIN
  -- One table (the common case) is a simple expression, which needs no query.
  IF position(',' IN listed) = 0 THEN
    nums := CASE WHEN listed = '' THEN '{{}}'::int[] ELSE ARRAY[listed::int] END;
  ELSE
    nums := (SELECT array_agg(x ORDER BY x) FROM unnest(string_to_array(listed, ',')::int[]) AS x);
  END IF;
  FOREACH num IN ARRAY nums
  LOOP
    versions := current_setting('{COUNT_SETTING}' || num)::bigint;
    IF versions > 0 THEN
      chunks := {chunks};
      -- Apart: a subquery would make the common case a query too.
      IF chunks = 0 THEN
        texts := current_setting('{TEXTS_SETTING}' || num);
      ELSE
        texts := {full};
      END IF;
      tables := tables || int4send(num) || int8send(versions) || {digest_of("texts")};
      n := n + 1;
    END IF;
  END LOOP;
  RETURN {_length("kinds")} || kinds || int4send(n) || tables || coalesce(
    decode(nullif(current_setting('{AMENDS_SETTING}', true), ''), 'hex'), int4send(0));
END
$body$"""


def mark_notes(schema: str) -> str:
    """SQL giving the seal function its comment :data:`NOTES`."""
    return f"COMMENT ON FUNCTION {qualified(schema, SEAL_FUNCTION)}() IS {literal(NOTES)}"


def notes_current(conn: psycopg.Connection, schema: str) -> bool:
    """Whether ``schema``'s seal function reads the notes the current triggers write."""
    row = conn.execute(
        "SELECT obj_description(to_regprocedure(%s), 'pg_proc')",
        (f"{qualified(schema, SEAL_FUNCTION)}()",),
    ).fetchone()
    return row is not None and row[0] == NOTES


def renote(conn: psycopg.Connection, schema: str, number: int, hist: str) -> None:
    """Note again, as history holds them now, the open transaction's versions of table
    ``number`` (history table ``hist``), if it noted any: after a schema change gave them
    another canonical form, or an erasure removed some."""
    listed = conn.execute(
        f"SELECT position(',' || %s || ',' IN "
        f"',' || coalesce(current_setting('{TABLES_SETTING}', true), '') || ',') > 0",
        (str(number),),
    ).fetchone()
    if listed is None or not listed[0]:
        return
    conn.execute(
        f"SELECT set_config('{COUNT_SETTING}{number}', d.versions::text, true), "
        f"set_config('{TEXTS_SETTING}{number}', coalesce(d.texts, ''), true), "
        f"set_config('{CHUNKS_SETTING}{number}', '0', true) "
        f"FROM {qualified(schema, digests_of(hist))}(pg_current_xact_id(), "
        f"current_setting('{FIRST_SETTING}{number}')::bigint) AS d"
    )


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


CHUNK = 8192
"""The size in bytes at which a table's texts noted so far become a full chunk."""
TEXTS = STATEMENT_TEXTS
"""SQL aggregate: the versions a history INSERT returned as their canonical texts ``j``,
as :func:`note_versions` takes them."""


def note_versions(number: int, texts: str, count: str, seq: str) -> str:
    """PL/pgSQL noting that the transaction wrote ``count`` versions (a bigint variable),
    numbered ``seq`` in history order (a bigint variable), to table ``number``'s history:
    ``texts`` (a text variable holding :data:`TEXTS`). Reuses the caller's text variable
    ``kinds``.

    Appended to the texts noted before: a statement's versions come after its
    transaction's earlier ones in history order (its SEQ is taken later). Once the texts
    noted reach :data:`CHUNK` bytes they become a full chunk of their own and the latest
    ones start anew, so that a statement copies at most a chunk of its transaction's texts,
    not all of them.
    """
    tables = f"coalesce(current_setting('{TABLES_SETTING}', true), '')"
    noted, counted = f"{TEXTS_SETTING}{number}", f"{COUNT_SETTING}{number}"
    chunks = f"{CHUNKS_SETTING}{number}"
    full = f"(coalesce(nullif(current_setting('{chunks}', true), ''), '0')::int + 1)::text"
    return (
        f"kinds := {tables}; "
        f"IF position(',{number},' IN ',' || kinds || ',') = 0 THEN "
        f"kinds := set_config('{TABLES_SETTING}', "
        f"CASE WHEN kinds = '' THEN '{number}' ELSE kinds || ',{number}' END, true); "
        f"kinds := set_config('{noted}', {texts}, true); "
        f"kinds := set_config('{counted}', {count}::text, true); "
        f"kinds := set_config('{FIRST_SETTING}{number}', {seq}::text, true); "
        f"ELSE kinds := current_setting('{noted}'); "
        f"IF octet_length(kinds) < {CHUNK} THEN kinds := set_config('{noted}', "
        f"CASE WHEN kinds = '' THEN {texts} ELSE kinds || ',' || {texts} END, true); "
        f"ELSE kinds := set_config('{noted}_' || set_config('{chunks}', {full}, true), "
        f"kinds, true); kinds := set_config('{noted}', {texts}, true); END IF; "
        f"kinds := set_config('{counted}', "
        f"(current_setting('{counted}')::bigint + {count})::text, true); END IF"
    )
