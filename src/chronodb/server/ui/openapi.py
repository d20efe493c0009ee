"""The pages in ``/openapi.json``: each answers JSON (its twin) unless a browser asks for HTML.

A page's JSON is also at its URL with a ``.json`` suffix (``/index.json`` for ``/``), and the
table, row, table diff and SQL pages give CSV with ``.csv``.
"""

from __future__ import annotations

from typing import Any

_POINT = "A transaction id (digits) or a time (ISO-8601, or epoch seconds): the point to show"


def _param(name: str, where: str = "query", description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": {"type": "string"},
    }


def _content(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/html": {"schema": {"type": "string"}},
        },
    }


def _get(summary: str, params: list[dict[str, Any]], errors: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": "JSON unless the request accepts text/html; also at the URL + .json.",
        "parameters": params,
        "responses": {"200": _content(summary), **errors},
    }


def _post(summary: str, params: list[dict[str, Any]], errors: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": "A form from the page: its csrf field must match the chronodb_csrf cookie.",
        "parameters": params,
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["csrf"],
                        "properties": {"csrf": {"type": "string"}},
                    }
                }
            },
        },
        "responses": {
            "200": _content(summary),
            "303": {"description": "Written: back to the page, naming the transaction"},
            **errors,
        },
    }


def page_paths(error: Any, unauthorized: dict[str, Any]) -> dict[str, Any]:
    """The pages' entries of the document's ``paths``; ``error(description)`` makes an error
    response."""
    bad = {"400": error("A point, filter or parameter that cannot be read"), **unauthorized}
    missing = {**bad, "404": error("No such table")}
    table, pk = _param("table", "path"), _param("pk", "path", "The row's key (JSON for several)")
    as_of = _param("as_of", description=_POINT)
    span = [_param("from", description=_POINT), _param("to", description=_POINT + " (now)")]
    writes = {
        **missing,
        "403": error("A read-only server, or a form without this browser's CSRF token"),
    }
    restore_get = _get("What restoring to as_of would write, to confirm", [as_of], writes)
    return {
        "/": {"get": _get("The database: tables, timeline, ledger", [as_of], bad)},
        "/sql": {
            "get": _get(
                "Run a read from a link (a read-only connection)",
                [_param("sql", description="The statement")],
                {
                    **bad,
                    "403": error("A statement that writes"),
                    "405": error("No statement and no browser: the API's SQL is a POST"),
                },
            )
        },
        "/diff": {"get": _get("What changed in every table between two points", span, bad)},
        "/tables/{table}": {
            "get": _get(
                "A page of a table's rows now or as of a point (keyset pagination)",
                [
                    table,
                    as_of,
                    _param("_sort", description="A column to sort by (NULLs last)"),
                    _param("_desc", description="1: descending"),
                    _param("_next", description="The next page, as the last page gave it"),
                    _param("_facet", description="A column whose values to count"),
                    _param("_size", description="Rows a page (1 to 1000, 50 by default)"),
                ],
                missing,
            )
        },
        "/tables/{table}/diff": {
            "get": _get("What changed in a table between two points", [table, *span], missing)
        },
        "/tables/{table}/rows/{pk}": {
            "get": _get(
                "A row now or as of a point, and all its versions", [table, pk, as_of], missing
            )
        },
        "/tables/{table}/restore": {
            "get": restore_get,
            "post": _post("Restore a table to as_of in a new transaction", [table, as_of], writes),
        },
        "/tables/{table}/rows/{pk}/restore": {
            "get": restore_get,
            "post": _post(
                "Restore a row to as_of in a new transaction", [table, pk, as_of], writes
            ),
        },
        "/ledger/verify": {
            "post": _post(
                "Recompute the ledger from the stored rows",
                [],
                {**writes, "409": _content("The ledger does not verify")},
            )
        },
        "/ledger/proofs/{tx_hash}": {
            "get": _get(
                "A transaction's inclusion proof against the current root",
                [_param("tx_hash", "path", "The transaction's hash, hex")],
                bad,
            )
        },
    }
