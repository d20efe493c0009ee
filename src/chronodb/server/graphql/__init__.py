"""GraphQL at ``/graphql``: a schema generated from the tables, with time travel.

    catalog.py        tables, columns and foreign keys, with their GraphQL names
    schema.py         the graphql-core schema and its resolvers
    loader.py         SQL for filters, ordering, ``asOf``; one statement per nesting level
    mutations.py      insert_/update_/delete_<table>
    service.py        the schema kept current (rebuilt after DDL), parsing and validation caches
    subscriptions.py  <table>_changes over the graphql-transport-ws protocol, from the change feed
    routes.py         POST/GET /graphql, the GraphiQL page and its assets (static/), the WebSocket

Use :func:`mount_graphql` on the server's app, or :func:`graphql_routes` on any starlette app.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GraphQLService", "graphql_routes", "mount_graphql"]


def __getattr__(name: str) -> Any:
    if name in ("graphql_routes", "mount_graphql"):
        from chronodb.server.graphql import routes

        return getattr(routes, name)
    if name == "GraphQLService":
        from chronodb.server.graphql.service import GraphQLService

        return GraphQLService
    raise AttributeError(name)
