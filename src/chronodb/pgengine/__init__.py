"""The engine on PostgreSQL (:class:`PostgresEngine`): the calls of ``chronodb.engine``'s
Engine that the facade uses, over the layout ``chronodb.postgres`` installs."""

from chronodb.pgengine.core import PostgresEngine

__all__ = ["PostgresEngine"]
