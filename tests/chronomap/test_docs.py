"""Docs that cannot drift: the README's ChronoMap examples and the demo run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from chronomap.demo import run_demo

README = Path(__file__).resolve().parents[2] / "README.md"


def chronomap_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## ChronoMap\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_has_chronomap_examples() -> None:
    assert len(chronomap_examples()) >= 2


@pytest.mark.parametrize("index", range(len(chronomap_examples())))
def test_readme_example_runs(index: int) -> None:
    exec(chronomap_examples()[index], {})


def test_demo_tells_the_story() -> None:
    lines: list[str] = []
    cm = run_demo(lines.append)
    assert "As of t=250: 22.0" in lines
    assert "After a failed change inside snapshot_context, mode is 'auto'" in lines
    assert cm["mode"] == "auto"
    assert len(cm.history("temperature")) == 3


def test_python_m_chronomap() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "chronomap"], capture_output=True, text=True, check=True
    )
    assert "Latest: 19.5" in completed.stdout
