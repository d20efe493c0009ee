"""The engine under :class:`~chronodb.ChronoDB`: one backend's connection, the lock, the
transaction state, the write path, the catalog and the statement caches.

``ChronoDB`` is the public facade: it checks options, constructs an :class:`Engine` over the
backend :func:`chronodb.storage.open_backend` chose, and forwards to it. The modules that
work inside the engine (``ddl``, ``audit.trail``, ``optimizer``) are given the Engine and use
only the names below; everything with a leading underscore is the engine's own.

State (read it; the engine changes it):

- ``backend``: the :class:`~chronodb.storage.base.Backend`; ``conn``: its connection, for
  reads and for statements run inside the engine's transactions
- ``lock``: the re-entrant lock every use of ``conn`` holds
- ``catalog``: the :class:`~chronodb.versioning.catalog.Catalog` of versioned tables
- ``ledger``: the audit :class:`~chronodb.audit.ledger.Ledger`, or None (``ledger=False``)
- ``open_tx``: ``(tx_id, tx_time_us)`` of the open write transaction, or None
- ``explicit``: whether a transaction opened with BEGIN is open (the lock is then held)
- ``last_commit``: the :class:`~chronodb.engine.common.Committed` transaction the last
  explicit COMMIT made (None if it wrote nothing); read it under the lock taken before BEGIN
- ``tx_has_ddl``: whether the open transaction changed the schema (set it with
  :meth:`Engine.note_ddl`)
- ``routes``, ``plans``: the statement caches (route per SQL text, temporal plan per text)
- ``path``, ``user``, ``read_only``, ``auto_create_tables``, ``time_travel``: the options;
  ``closed``; ``last_verification``: this connection's last ledger verification
  (``audit/verified.py``; the database keeps the last one of any)

Calls:

- ``execute(sql, params)``: one statement by its route; ``route(sql)``: that route
- ``run_write(run, ddl=, kind=, sql=)``: ``run()`` as a write, in the open transaction or in
  one of its own (recorded, sealed, committed); ``write_many(sql, rows)``
- ``begin()``, ``commit()``, ``rollback()``, ``transaction()``; ``atomic()``: a savepoint
  around several steps inside an explicit transaction; ``whole()``: a batch as one write;
  ``note_abort(err)``: after an error, follow SQLite if it rolled the transaction back
- ``reload_catalog()``; ``refresh_catalog()``: reload if any process changed the schema;
  ``snapshot()``: one read state of the file throughout; ``bind(sql, params)`` and
  ``bind_current(sql, params)``: a temporal statement's SQL and parameters
- ``store_leaves(merkle=)``, ``index_leaves()``: the ledger's pending leaves;
  ``ledger_check(force)``, ``amend(touched)``: what prune and erase ask and record
- ``open()``: make the file ready; ``close()``
"""

from chronodb.engine.core import Engine, Params

__all__ = ["Engine", "Params"]
