"""``chronodb serve DB``: the click command (the server itself lives in this package).

DB is a SQLite file or a ``postgresql://`` URL; several servers may serve one PostgreSQL
database, each hearing every commit (``server/sources/postgres.py``)."""

from __future__ import annotations

import click

from chronodb.errors import ChronoDBError


@click.command("serve")
@click.argument("db", metavar="DB")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="CHRONODB_TOKEN",
    default=None,
    help="Require 'Authorization: Bearer TOKEN' (or ?token= on WebSockets); "
    "needed to listen beyond loopback. Also read from CHRONODB_TOKEN.",
)
@click.option("--read-only", is_flag=True, help="Refuse every write.")
@click.option(
    "--read-url",
    default=None,
    metavar="URL",
    help="A postgresql:// URL of a streaming standby of DB: reads run there once it has "
    "replayed DB's newest transaction (else on DB); writes and the change stream stay on DB.",
)
@click.option(
    "--sample",
    is_flag=True,
    help="Fill an empty DB with a small shop (users, orders) and some history first "
    "(a DB that has tables is left as it is).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve_command(
    db: str,
    host: str,
    port: int,
    token: str | None,
    read_only: bool,
    read_url: str | None,
    sample: bool,
    log_level: str,
) -> None:
    """Serve DB: GraphQL (GraphiQL), SQL over HTTP, change stream, metrics.

    DB is a database file or a postgresql:// URL (several servers may serve one);
    --read-url sends its reads to a streaming standby.

    \b
    /graphql   GraphQL with asOf/asOfTransaction; GraphiQL in a browser;
               subscriptions over its WebSocket
    POST /sql  GET /tables  GET /tables/{table}/history/{pk}
    GET /health  GET /metrics  GET /openapi.json
    WebSocket at / and /ws: the change stream
    """
    try:
        from chronodb.server.auth import check_bind
        from chronodb.server.runner import check_port, serve
    except ImportError as err:
        raise click.ClickException(
            f"chronodb serve needs the server extra: pip install 'chronodb[server]' ({err})"
        ) from err
    from chronodb.database import ChronoDB
    from chronodb.server.sample import describe, seed_sample, time_travel
    from chronodb.storage.urls import is_postgres_url, redact

    try:
        check_bind(host, token)
        check_port(host, port)
        url = f"http://{host}:{port}"
        shown = redact(db) if is_postgres_url(db) else db  # a URL's password is never printed
        with ChronoDB(db, read_only=read_only and not sample) as database:
            if sample and seed_sample(database):
                click.echo(f"Filled {shown} with a sample shop (users, orders) and its history.")
            elif sample:
                click.echo(f"--sample skipped: {shown} already has tables, left as they are.")
            examples = time_travel(database, shown, url)
        click.echo(describe(url, url.replace("http", "ws", 1) + "/ws", examples))
        if read_url is not None:
            ChronoDB(read_url, read_only=True).close()  # reachable, and a ChronoDB database
            click.echo(f"Reads from {redact(read_url)} when it has caught up.")
        serve(
            db,
            host=host,
            port=port,
            token=token,
            read_only=read_only,
            read_url=read_url,
            log_level=log_level,
        )
    except (ChronoDBError, ValueError) as err:
        raise click.ClickException(str(err)) from err
