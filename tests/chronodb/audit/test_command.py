"""``chronodb verify`` and ``chronodb digest`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.chronodb.audit.conftest import tamper

from chronodb import ChronoDB
from chronodb.audit.trail import Digest
from chronodb.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_verify_a_healthy_file(busy_path: Path) -> None:
    result = run("verify", str(busy_path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Audit verification OK")
    data = json.loads(run("verify", str(busy_path), "--json").output)
    assert data["ok"] is True and data["checked"]["row_versions"] > 40


def test_verify_fails_with_the_first_problem(busy_path: Path) -> None:
    tamper(busy_path, "UPDATE accounts SET balance = 0 WHERE id = 7")
    result = run("verify", str(busy_path))
    assert result.exit_code == 1
    assert "FAILED" in result.output
    assert "first problem: current row edited" in result.output and "row 7" in result.output
    data = json.loads(run("verify", str(busy_path), "--json").output)
    assert data["ok"] is False and data["first_problem"]["row"] == 7


def test_digest_then_verify_against_it(busy_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.json"
    assert run("digest", str(busy_path), "--out", str(out)).exit_code == 0
    kept = Digest.load(out)
    db = ChronoDB(busy_path)
    db.execute("UPDATE accounts SET balance = 1 WHERE id = 1")
    db.close()
    result = run("verify", str(busy_path), "--digest", str(out))
    assert result.exit_code == 0, result.output
    assert "consistent" in result.output
    forged = tmp_path / "forged.json"
    forged.write_text(Digest(kept.tree_size, "00" * 32, kept.time).to_json())
    result = run("verify", str(busy_path), "--digest", str(forged))
    assert result.exit_code == 1 and "NOT consistent" in result.output


def test_digest_to_stdout_signed(busy_path: Path, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "key.pem").write_bytes(pem)
    result = run("digest", str(busy_path), "--sign-key", str(tmp_path / "key.pem"))
    assert result.exit_code == 0, result.output
    digest = Digest.from_json(result.output)
    assert digest.verify_signature()
    assert digest.public_key == key.public_key().public_bytes_raw().hex()


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    result = run("verify", str(tmp_path / "nope.db"))
    assert result.exit_code == 1 and "No such database file: " in result.output
    assert not (tmp_path / "nope.db").exists()


def test_the_progress_bar_is_fed(busy_path: Path, monkeypatch) -> None:
    import chronodb.audit.command as command

    seen: list[int] = []
    real = command.click.progressbar

    def spy(*args, **kwargs):
        bar = real(*args, **kwargs)
        update = bar.update
        bar.update = lambda n, *a: (seen.append(n), update(n, *a))[1]
        return bar

    monkeypatch.setattr(command.click, "progressbar", spy)
    assert run("verify", str(busy_path)).exit_code == 0
    assert sum(seen) > 40
