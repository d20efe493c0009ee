"""``chronodb verify DB`` and ``chronodb digest DB``: the audit ledger from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from chronodb.audit.trail import Digest
from chronodb.database import ChronoDB
from chronodb.dbfile import require_file
from chronodb.errors import AuditError


def _open_existing(path: str, read_only: bool) -> ChronoDB:
    require_file(path)
    return ChronoDB(path, read_only=read_only)


@click.command("verify")
@click.argument("db", metavar="DB")
@click.option(
    "--digest",
    "digest_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A digest exported earlier (chronodb digest): also prove the log was only appended to.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def verify_command(db: str, digest_file: str | None, as_json: bool) -> None:
    """Check the audit ledger of DB against every stored row.

    Exit code 1, with the first problem, when anything was changed behind ChronoDB's back.
    """
    database = _open_existing(db, read_only=True)
    try:
        show = not as_json and sys.stderr.isatty()
        with click.progressbar(
            length=1, label="Verifying", file=sys.stderr, hidden=not show
        ) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, done, 1)
                bar.update(done - bar.pos)

            report = database.audit_trail.verify(progress=progress)
        consistent = None
        if digest_file is not None:
            try:
                kept = Digest.load(digest_file)
            except AuditError as err:
                raise click.ClickException(str(err)) from err
            consistent = database.audit_trail.verify_consistency(kept)
    finally:
        database.close()
    ok = report.ok and consistent is not False
    if as_json:
        data = report.to_dict()
        data["consistent_with_digest"] = consistent
        data["ok"] = ok
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(report.summary())
        if consistent is not None:
            click.echo(
                f"digest {digest_file}: "
                + (
                    "consistent (the log was only appended to)"
                    if consistent
                    else "NOT consistent: the ledger was rewritten since that digest was taken"
                )
            )
    if not ok:
        sys.exit(1)


@click.command("digest")
@click.argument("db", metavar="DB")
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Write the digest here (default stdout)."
)
@click.option(
    "--sign-key",
    type=click.Path(exists=True, dir_okay=False),
    help="Ed25519 private key (PEM, or 32 raw bytes) to sign the digest with.",
)
def digest_command(db: str, out: str | None, sign_key: str | None) -> None:
    """Print the ledger digest of DB as JSON: keep it elsewhere.

    The digest is (tree size, root hash, time); `chronodb verify DB --digest FILE` later
    proves the ledger was only appended to since.
    """
    key = _load_key(sign_key) if sign_key else None
    database = _open_existing(db, read_only=False)
    try:
        made = database.audit_trail.digest(signing_key=key)
    finally:
        database.close()
    if out:
        Path(out).write_text(made.to_json() + "\n")
        click.echo(f"digest of {made.tree_size} transactions written to {out}", err=True)
    else:
        click.echo(made.to_json())


def _load_key(path: str) -> object:
    data = Path(path).read_bytes()
    if len(data) == 32:
        return data
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError as err:
        raise click.ClickException(
            "signing needs the cryptography package: pip install 'chronodb[audit]'"
        ) from err
    try:
        return load_pem_private_key(data, password=None)
    except ValueError as err:
        raise click.ClickException(f"{path} is not an unencrypted PEM private key") from err
