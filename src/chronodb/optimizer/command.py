"""``chronodb health DB [--json]``: the health report, readable or as JSON."""

from __future__ import annotations

import click

from chronodb.dbfile import require_file
from chronodb.formatting import to_json
from chronodb.optimizer.health import render


@click.command("health")
@click.argument("db", metavar="DB")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def health_command(db: str, as_json: bool) -> None:
    """Print DB's health: status, sizes, history growth, alerts and recommendations."""
    from chronodb.database import ChronoDB

    require_file(db)
    database = ChronoDB(db)
    try:
        report = database.get_health_report()
    finally:
        database.close()
    click.echo(to_json(report) if as_json else render(report))
