"""Where a database lives: a SQLite file or a PostgreSQL server URL, and how to name it.

``postgresql://`` and ``postgres://`` URLs (libpq's forms, with query options such as
``sslmode``) name a PostgreSQL database; anything else is a SQLite path. The password a URL
may carry never leaves this module in text meant for people: errors and logs name a server
by :func:`describe` or :func:`redact`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from chronodb.errors import ConfigError

SCHEMES = ("postgresql", "postgres")


def is_postgres_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    if not isinstance(location, str):
        return False
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


# libpq's keyword/value form (``host=db dbname=app user=me``): two or more pairs, one of
# them a keyword only a server connection has.
_CONNINFO = re.compile(r"\s*(?:\w+\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S+)\s*){2,}")
_CONNINFO_KEYS = re.compile(r"(?:^|\s)(?:host|hostaddr|port|dbname|user|password|sslmode)\s*=")


def refuse_conninfo(location: str) -> None:
    """Refuse a libpq connection string given where a file or URL belongs: it would name a
    new SQLite file. The text is not repeated, since it may hold a password."""
    if (
        _CONNINFO.fullmatch(location)
        and _CONNINFO_KEYS.search(location)
        and not os.path.exists(location)
    ):
        raise ConfigError(
            "this is a PostgreSQL connection string (key=value pairs), which ChronoDB does "
            "not take: give a postgresql://user@host:port/dbname URL, or a SQLite file path"
        )


@dataclass(frozen=True)
class ServerURL:
    """A PostgreSQL URL's parts; ``repr`` and ``str`` leave the password out."""

    url: str  # as given, password included: for the driver only
    host: str
    port: int
    database: str
    user: str | None

    def __str__(self) -> str:
        return redact(self.url)

    def __repr__(self) -> str:
        return f"ServerURL({redact(self.url)!r})"

    @property
    def where(self) -> str:
        """The server and database, for messages: ``db on host:port``."""
        return f"{self.database or '(default database)'} on {self.host}:{self.port}"


def parse(url: str) -> ServerURL:
    """``url``'s parts; ConfigError (naming the URL without its password) if it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError as err:
        raise ConfigError(f"not a PostgreSQL URL: {redact(url)} ({err})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise ConfigError(f"not a PostgreSQL URL: {redact(url)} (it starts with postgresql://)")
    query = dict(parse_qsl(parts.query))
    host = unquote(parts.hostname or "") or query.get("host", "") or "localhost"
    return ServerURL(
        url=url,
        host=host,
        port=port,
        database=unquote(parts.path.lstrip("/")) or query.get("dbname", ""),
        user=unquote(parts.username) if parts.username else query.get("user"),
    )


def redact(url: str) -> str:
    """``url`` with its password (in the authority or a ``password=`` option) as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a URL that cannot be read)"
    netloc = parts.netloc
    if "@" in netloc:
        auth, _, hosts = netloc.rpartition("@")
        user, colon, _ = auth.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{hosts}"
    query = "&".join(
        f"{key}=***" if key.lower() == "password" else f"{key}={value}"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
