"""``chronodb serve DB``: the click command (the server itself lives in this package)."""

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
    "--sample",
    is_flag=True,
    help="Fill an empty DB with a small shop (users, orders) and some history first.",
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
    sample: bool,
    log_level: str,
) -> None:
    """Serve DB: change stream (WebSocket at / and /ws), SQL over HTTP, metrics.

    \b
    POST /sql  GET /tables  GET /tables/{table}/history/{pk}
    GET /health  GET /metrics  GET /openapi.json
    """
    try:
        from chronodb.server.runner import serve
    except ImportError as err:
        raise click.ClickException(
            f"chronodb serve needs the server extra: pip install 'chronodb[server]' ({err})"
        ) from err
    from chronodb.database import ChronoDB
    from chronodb.server.sample import describe, seed_sample

    try:
        if sample:
            with ChronoDB(db) as database:
                if seed_sample(database):
                    click.echo(f"Filled {db} with a sample shop (users, orders) and its history.")
        url = f"http://{host}:{port}"
        click.echo(describe(url, url.replace("http", "ws", 1) + "/ws"))
        serve(db, host=host, port=port, token=token, read_only=read_only, log_level=log_level)
    except (ChronoDBError, ValueError) as err:
        raise click.ClickException(str(err)) from err
