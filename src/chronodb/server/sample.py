"""A small shop with a history, so that ``chronodb serve DB --sample`` has something to show."""

from __future__ import annotations

import shlex

from chronodb import formatting
from chronodb.database import ChronoDB

SCHEMA = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), "
    "total REAL, status TEXT)",
)


def seed_sample(db: ChronoDB) -> bool:
    """Create and fill ``users`` and ``orders`` with a few changes; False if tables exist."""
    if db.tables():
        return False
    for statement in SCHEMA:
        db.execute(statement)
    db.executemany(
        "INSERT INTO users (id, name, email) VALUES (?, ?, ?)",
        [(1, "Alice", "alice@email.com"), (2, "Bob", "bob@email.com")],
    )
    db.executemany(
        "INSERT INTO orders (id, user_id, total, status) VALUES (?, ?, ?, ?)",
        [(1, 1, 25.0, "new"), (2, 1, 90.5, "new"), (3, 2, 12.0, "new")],
    )
    db.execute("UPDATE orders SET status = 'shipped' WHERE id = 1")
    db.execute("UPDATE users SET email = 'alice@new.example' WHERE id = 1")
    db.execute("DELETE FROM orders WHERE id = 3")
    return True


def time_travel(db: ChronoDB, db_arg: str, url: str) -> list[str]:
    """Ready-to-paste reads of a table as it was before the latest transaction, with that
    transaction's id and time as they are in the file; none if there is no such point."""
    from chronodb.server.graphql.catalog import read_catalog

    tables = {t.name: t for t in read_catalog(db)}
    recent = db.transactions(limit=2)
    if not tables or len(recent) < 2:
        return []
    table = tables.get("orders") or next(iter(tables.values()))
    latest, before = recent
    tx, when = before["tx_id"], formatting.iso_time(before["tx_time"])
    quoted = formatting.identifier(table.name)
    by_tx = f"SELECT * FROM {quoted} AS OF TRANSACTION {tx}"
    by_time = f"SELECT * FROM {quoted} AS OF TIMESTAMP '{when}'"
    fields = " ".join(c.field for c in table.columns[:4])
    body = '{"sql": "' + by_tx.replace('"', '\\"') + '"}'
    return [
        f"Time travel: {table.name} as it was before the latest transaction "
        f"({latest['tx_id']}, {formatting.iso_time(latest['tx_time'])}):",
        f"  chronodb exec {shlex.quote(db_arg)} {_shell_word(by_tx)}",
        f"  chronodb exec {shlex.quote(db_arg)} {_shell_word(by_time)}",
        f"  curl -s {url}/sql -d {shlex.quote(body)}",
        f"  GraphQL: {{ {table.field}(asOfTransaction: {tx}) {{ {fields} }} }}",
        f'           {{ {table.field}(asOf: "{when}") {{ {fields} }} }}',
    ]


def _shell_word(text: str) -> str:
    """``text`` as one shell word: in double quotes when nothing in it is special there."""
    if not any(c in text for c in '"$`\\!'):
        return f'"{text}"'
    return shlex.quote(text)


def describe(url: str, ws_url: str, examples: list[str] | None = None) -> str:
    """What to try once the server runs; ``examples`` (from :func:`time_travel`) last."""
    return "\n".join(
        (
            f"ChronoDB is serving at {url}",
            f"  the time-travel browser:           {url}/  (in a web browser)",
            f"  GraphiQL (time travel with asOf):  {url}/graphql",
            f'  SQL over HTTP:    curl -s {url}/sql -d \'{{"sql": "SELECT * FROM users"}}\'',
            f"  a row's history:  {url}/tables/users/history/1",
            f'  change stream:    {ws_url}  send {{"type": "subscribe", "table": "orders"}}',
            f"  health, metrics:  {url}/health  {url}/metrics  {url}/openapi.json",
            *(examples or []),
        )
    )
