"""A small shop with a history, so that ``chronodb serve DB --sample`` has something to show."""

from __future__ import annotations

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


def describe(url: str, ws_url: str) -> str:
    """What to try once the server runs."""
    return "\n".join(
        (
            f"ChronoDB is serving at {url}",
            f"  GraphiQL (time travel with asOf):  {url}/graphql",
            f'  SQL over HTTP:    curl -s {url}/sql -d \'{{"sql": "SELECT * FROM users"}}\'',
            f"  a row's history:  {url}/tables/users/history/1",
            f'  change stream:    {ws_url}  send {{"type": "subscribe", "table": "orders"}}',
            f"  health, metrics:  {url}/health  {url}/metrics  {url}/openapi.json",
        )
    )
