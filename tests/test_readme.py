"""README.md cannot drift: its Python blocks run, its CLI lines run, its --help is current."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chronodb.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
PYPROJECT = README.parent / "pyproject.toml"


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


def test_python_blocks_run_twice_in_the_same_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for run in (1, 2):
        namespace: dict[str, object] = {"__name__": "__readme__"}
        for number, block in enumerate(blocks("python"), start=1):
            exec(compile(block, f"README.md python block {number}, run {run}", "exec"), namespace)


def test_python_blocks_leave_the_quick_starts_shop_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chronodb import ChronoDB
    from chronodb.server.sample import seed_sample

    monkeypatch.chdir(tmp_path)
    with ChronoDB("shop.db") as shop:  # what `chronodb serve shop.db --sample` made
        seed_sample(shop)
        before = shop.transactions()
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for block in blocks("python"):
        exec(compile(block, "README.md", "exec"), namespace)
    with ChronoDB("shop.db") as shop:
        assert shop.tables() == ["orders", "users"]
        assert shop.transactions() == before


def test_cli_lines_run_against_the_python_examples_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    for block in blocks("python"):
        exec(compile(block, "README.md", "exec"), namespace)
    lines = [
        line
        for block in blocks("bash")
        for line in block.splitlines()
        if line.startswith("chronodb ")
    ]
    assert any(line.startswith("chronodb exec") for line in lines)
    # TX_ID stands for an id `chronodb history` printed: the stocking of the shop.
    history = CliRunner().invoke(main, ["history", "store.db", "products", "1"]).output
    stocked = namespace["stocked"].tx_id
    assert re.search(rf"^INSERT +\| +{stocked} \|", history, flags=re.M), history
    runner = CliRunner()
    outputs = {}
    for line in lines:
        args = [str(stocked) if a == "TX_ID" else a for a in shlex.split(line)[1:]]
        result = runner.invoke(main, args, input="")
        assert result.exit_code == 0, f"{line}\n{result.output}"
        assert "Error" not in result.output, line
        outputs[line] = result.output
    then = next(out for line, out in outputs.items() if "TX_ID" in line)
    assert then.splitlines()[2:] == [" 1 | Lamp |  20.0", " 2 | Desk | 150.0"]


def test_no_example_uses_a_made_up_transaction_id() -> None:
    assert not re.search(r"AS OF TRANSACTION \d|asOfTransaction: \d", TEXT)
    assert not re.search(r"TRANSACTION \?\" -p \d", TEXT)
    assert "tx_id)  # 1 3" not in TEXT


def test_the_serving_example_imports_only_what_its_extra_installs() -> None:
    section = TEXT[TEXT.index("### Serving") : TEXT.index("### The optimizer")]
    extra = re.search(r"pip install 'chronodb\[(\w+)\]'", section)
    assert extra is not None, "the serving section names the extra to install"
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    installed = {
        re.split(r"[<>=\[ ]", requirement)[0].lower()
        for requirement in [
            *project["dependencies"],
            *project["optional-dependencies"][extra.group(1)],
        ]
    }
    code = "\n".join(block for block in blocks("python") if "BackgroundServer" in block)
    imported = set(re.findall(r"^\s*import (\w+)|^\s*from (\w+)", code, flags=re.M))
    modules = {name for pair in imported for name in pair if name} - {"chronodb", "json"}
    assert modules and modules <= installed, modules - installed


def test_help_in_readme_is_the_real_help() -> None:
    documented = re.search(r"^\$ chronodb --help\n(.*?)^```", TEXT, flags=re.S | re.M)
    assert documented is not None, "README lost its `$ chronodb --help` block"
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    assert result.exit_code == 0
    assert result.output == documented.group(1)
