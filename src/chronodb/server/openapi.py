"""The OpenAPI 3 document of the HTTP endpoints, written by hand to say exactly what they do."""

from __future__ import annotations

from typing import Any

from chronodb.server.ui.openapi import page_paths

_SCALAR: dict[str, Any] = {
    "nullable": True,
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string", "example": "SQLError"},
                "message": {"type": "string"},
                "position": {
                    "type": "integer",
                    "nullable": True,
                    "description": "0-based offset of the offending token in the SQL, if known",
                },
            },
        }
    },
}


_HEALTH = {"$ref": "#/components/schemas/Health"}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(*, token: bool, read_only: bool, max_body_bytes: int) -> dict[str, Any]:
    unauthorized = {"401": _error("Missing or wrong bearer token")} if token else {}
    sql_errors = {
        "400": _error("Bad request or a statement ChronoDB rejected (with its position)"),
        "403": _error("A write on a server started with --read-only"),
        "413": _error(f"Request body over {max_body_bytes} bytes"),
        **unauthorized,
    }
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "ChronoDB",
            "version": "1",
            "description": (
                "SQL with time travel over HTTP. Every table keeps its history: query it with "
                "AS OF TIMESTAMP / AS OF TRANSACTION / FOR SYSTEM_TIME. The change stream is a "
                "WebSocket at / and /ws (see the README)."
                + (" This server is read-only." if read_only else "")
            ),
        },
        "paths": {
            "/sql": {
                "post": {
                    "summary": "Run one SQL statement",
                    "description": (
                        "Each request is one statement and, if it writes, one transaction. "
                        "BEGIN/COMMIT/ROLLBACK, SAVEPOINT, ATTACH, DETACH and VACUUM are "
                        "refused. BLOB values come back base64-encoded."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SQLRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            "The statement's rows, and for a write its transaction",
                            {"$ref": "#/components/schemas/SQLResult"},
                        ),
                        **sql_errors,
                    },
                }
            },
            "/tables": {
                "get": {
                    "summary": "List the tables and their columns, now or as of a point",
                    "parameters": [
                        {
                            "name": "as_of",
                            "in": "query",
                            "required": False,
                            "description": "A transaction id (digits), or a time (ISO-8601, "
                            "or epoch seconds with a decimal point): the tables and columns "
                            "as they were then",
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _json(
                            "The tables",
                            {
                                "type": "object",
                                "required": ["tables"],
                                "properties": {
                                    "tables": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Table"},
                                    }
                                },
                            },
                        ),
                        "400": _error("A point in time that cannot be read"),
                        **unauthorized,
                    },
                }
            },
            "/tables/{table}/history/{pk}": {
                "get": {
                    "summary": "Every version of one row, oldest first",
                    "parameters": [
                        {
                            "name": "table",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "pk",
                            "in": "path",
                            "required": True,
                            "description": "The key: a number, text, or a JSON array of a "
                            "composite key's values",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            "The row's versions",
                            {
                                "type": "object",
                                "required": ["table", "versions"],
                                "properties": {
                                    "table": {"type": "string"},
                                    "pk": {},
                                    "versions": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Version"},
                                    },
                                },
                            },
                        ),
                        "400": _error("A key that does not fit the table's key"),
                        "404": _error("No such table"),
                        **unauthorized,
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Health report: status, latency, sizes, alerts, advice, stream",
                    "responses": {
                        "200": _json("Status ok or warn", _HEALTH),
                        "503": _json(
                            "Status critical (e.g. the change feed is not running)",
                            {"$ref": "#/components/schemas/Health"},
                        ),
                        **unauthorized,
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Metrics in the Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **unauthorized,
                    },
                }
            },
            "/graphql": {
                "post": {
                    "summary": "Run a GraphQL query or mutation",
                    "description": (
                        "GraphQL generated from the tables, with asOf/asOfTransaction on "
                        "every field. GET /graphql in a browser opens GraphiQL; "
                        "subscriptions run over a WebSocket at /graphql "
                        "(graphql-transport-ws)."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/GraphQLRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            "The result: data, and errors if any part failed",
                            {"$ref": "#/components/schemas/GraphQLResult"},
                        ),
                        "400": _json(
                            "Not a GraphQL request", {"$ref": "#/components/schemas/GraphQLResult"}
                        ),
                        "413": _json(
                            "Query or body too large",
                            {"$ref": "#/components/schemas/GraphQLResult"},
                        ),
                        **unauthorized,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {
                        "200": _json("OpenAPI 3 document", {"type": "object"}),
                        **unauthorized,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": _ERROR,
                "Scalar": _SCALAR,
                "GraphQLRequest": {
                    "type": "object",
                    "required": ["query"],
                    "properties": {
                        "query": {"type": "string", "example": "{ users { id name } }"},
                        "variables": {"type": "object", "nullable": True},
                        "operationName": {"type": "string", "nullable": True},
                    },
                },
                "GraphQLResult": {
                    "type": "object",
                    "properties": {
                        "data": {"nullable": True},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["message"],
                                "properties": {"message": {"type": "string"}},
                            },
                        },
                    },
                },
                "SQLRequest": {
                    "type": "object",
                    "required": ["sql"],
                    "properties": {
                        "sql": {"type": "string", "example": "SELECT * FROM users WHERE id = ?"},
                        "params": {
                            "nullable": True,
                            "description": "Positional (list) or named (object) parameters",
                            "oneOf": [
                                {"type": "array", "items": {"$ref": "#/components/schemas/Scalar"}},
                                {
                                    "type": "object",
                                    "additionalProperties": {"$ref": "#/components/schemas/Scalar"},
                                },
                            ],
                        },
                    },
                },
                "SQLResult": {
                    "type": "object",
                    "required": ["columns", "rows", "rowcount", "tx_id", "tx_time"],
                    "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "rows": {
                            "type": "array",
                            "items": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Scalar"},
                            },
                        },
                        "rowcount": {"type": "integer"},
                        "tx_id": {"type": "integer", "nullable": True},
                        "tx_time": {
                            "type": "number",
                            "nullable": True,
                            "description": "Commit time, seconds since the epoch",
                        },
                        "tx_hash": {
                            "type": "string",
                            "nullable": True,
                            "description": "The transaction's leaf hash in the audit ledger",
                        },
                        "notes": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Why a time-travel read is empty when its point "
                            "alone explains it, e.g. a point before the table existed",
                        },
                    },
                },
                "Table": {
                    "type": "object",
                    "required": ["name", "columns"],
                    "properties": {
                        "name": {"type": "string"},
                        "columns": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": [
                                    "name",
                                    "type",
                                    "primary_key",
                                    "notnull",
                                    "default",
                                    "generated",
                                    "collation",
                                ],
                                "properties": {
                                    "name": {"type": "string"},
                                    "type": {
                                        "type": "string",
                                        "description": "The declared type; empty if none",
                                    },
                                    "primary_key": {
                                        "type": "integer",
                                        "description": "1-based position in the primary "
                                        "key; 0 outside it",
                                    },
                                    "notnull": {
                                        "type": "boolean",
                                        "nullable": True,
                                        "description": "null for a column dropped since "
                                        "as_of: history does not record it",
                                    },
                                    "default": {
                                        "type": "string",
                                        "nullable": True,
                                        "description": "The DEFAULT expression's SQL",
                                    },
                                    "generated": {
                                        "type": "string",
                                        "nullable": True,
                                        "enum": ["", "VIRTUAL", "STORED", None],
                                        "description": "VIRTUAL or STORED for a generated "
                                        "column (read, never written); empty otherwise; "
                                        "null as notnull is",
                                    },
                                    "collation": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "Version": {
                    "type": "object",
                    "required": ["operation", "before", "after", "tx_id", "tx_time"],
                    "properties": {
                        "operation": {"type": "string", "enum": ["INSERT", "UPDATE", "DELETE"]},
                        "values": {"type": "object", "nullable": True},
                        "before": {"type": "object", "nullable": True},
                        "after": {"type": "object", "nullable": True},
                        "tx_id": {"type": "integer"},
                        "tx_time": {"type": "number"},
                        "user": {"type": "string", "nullable": True},
                    },
                },
                "Health": {
                    "type": "object",
                    "description": "db.get_health_report() plus the server's change feed",
                    "required": ["status", "tables", "database", "alerts", "recommendations"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ok", "warn", "critical"]},
                        "latency": {"type": "object"},
                        "throughput_per_s": {"type": "number", "nullable": True},
                        "slow_statements": {"type": "array", "items": {"type": "object"}},
                        "tables": {"type": "array", "items": {"type": "object"}},
                        "database": {"type": "object"},
                        "alerts": {"type": "array", "items": {"type": "object"}},
                        "recommendations": {"type": "array", "items": {"type": "object"}},
                        "ledger": {"type": "object"},
                        "last_tx": {
                            "type": "object",
                            "nullable": True,
                            "properties": {
                                "tx_id": {"type": "integer"},
                                "tx_time": {"type": "number"},
                            },
                        },
                        "read_only": {"type": "boolean"},
                        "stream": {"type": "object"},
                        "uptime_s": {"type": "number"},
                    },
                },
            }
        },
    }
    if token:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    for path, operations in page_paths(_error, unauthorized).items():
        doc["paths"].setdefault(path, {}).update(operations)
    return doc
