"""README.md cannot drift: its Python blocks run, its CLI lines run, its --help is current."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from chronodb.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", TEXT, flags=re.S | re.M)


def test_readme_has_python_examples_for_both_packages() -> None:
    code = "\n".join(blocks("python"))
    assert "from chronomap import ChronoMap" in code
    assert "from chronodb import ChronoDB" in code


def test_python_blocks_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One namespace for the whole file, as a reader following along would have.
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for number, block in enumerate(blocks("python"), start=1):
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)


def test_cli_lines_run_against_the_python_examples_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for block in blocks("python"):
        exec(compile(block, "README.md", "exec"), namespace)
    lines = [
        line
        for block in blocks("bash")
        for line in block.splitlines()
        if line.startswith("chronodb ")
    ]
    assert any(line.startswith("chronodb exec") for line in lines)
    runner = CliRunner()
    for line in lines:
        args = shlex.split(line)[1:]
        result = runner.invoke(main, args, input="")
        assert result.exit_code == 0, f"{line}\n{result.output}"
        assert "Error" not in result.output, line


def test_help_in_readme_is_the_real_help() -> None:
    documented = re.search(r"^\$ chronodb --help\n(.*?)^```", TEXT, flags=re.S | re.M)
    assert documented is not None, "README lost its `$ chronodb --help` block"
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    assert result.exit_code == 0
    assert result.output == documented.group(1)
