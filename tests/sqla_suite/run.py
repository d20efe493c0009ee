"""Run SQLAlchemy's dialect compliance suite on sqlite+pysqlite and sqlite+chronodb (and, with
--postgresql, on postgresql+psycopg and postgresql+chronodb) and print the counts side by
side, with every test SQLAlchemy's own driver passes and ChronoDB's does not.

    python tests/sqla_suite/run.py                 # SQLite: both drivers
    python tests/sqla_suite/run.py --postgresql    # PostgreSQL too (the test server)

Each run is its own pytest invocation (SQLAlchemy's plugin, setup.cfg beside this file) in
a temporary directory, so the suite's files never mix with the project's tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent


MESSAGES: dict[str, str] = {}  # test id -> the first line of its failure, ChronoDB's runs


def outcomes(junit: Path) -> dict[str, str]:
    """Test id -> passed, failed, error or skipped (and each failure's message noted)."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        kinds = {child.tag for child in case}
        found[name] = next(
            (k for k in ("failure", "error", "skipped") if k in kinds), "passed"
        ).replace("failure", "failed")
        for child in case:
            if child.tag in ("failure", "error") and "chronodb" in junit.name:
                MESSAGES[name] = (child.get("message") or "").splitlines()[0][:160]
    return found


def run(url: str, workdir: Path) -> tuple[dict[str, str], float]:
    junit = workdir / f"{url.split(':')[0].replace('+', '_')}.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(HERE / "setup.cfg"),
        "--rootdir",
        str(HERE),
        str(HERE / "test_suite.py"),
        "--dburi",
        url,
        "-q",
        f"--junitxml={junit}",
    ]
    start = time.monotonic()
    subprocess.run(command, cwd=workdir, stdout=subprocess.DEVNULL, check=False)
    return outcomes(junit), time.monotonic() - start


def counts(results: dict[str, str]) -> str:
    tally = {k: 0 for k in ("passed", "failed", "error", "skipped")}
    for outcome in results.values():
        tally[outcome] += 1
    return ", ".join(f"{n} {k}" for k, n in tally.items())


def compare(theirs: str, ours: str, workdir: Path) -> int:
    base, base_time = run(theirs, workdir)
    mine, my_time = run(ours, workdir)
    print(f"{theirs:<28} {counts(base)}  ({base_time:.0f} s)")
    print(f"{ours:<28} {counts(mine)}  ({my_time:.0f} s)")
    missing = sorted(t for t, o in base.items() if o == "passed" and mine.get(t) != "passed")
    listed = sorted(t for t in missing if mine.get(t) == "skipped")
    broken = [t for t in missing if t not in listed]
    print(
        f"passed on {theirs.split(':')[0]} but not on {ours.split(':')[0]}: {len(missing)} "
        f"({len(listed)} in exceptions.txt, {len(broken)} not)"
    )
    for test in broken:
        print(f"  {mine.get(test, 'missing')}: {test}: {MESSAGES.get(test, '')}")
    return len(broken)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", action="store_true", help="also on the test server")
    args = parser.parse_args()
    unexplained = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        unexplained += compare(
            "sqlite+pysqlite:///suite.db", "sqlite+chronodb:///suite.db", workdir
        )
        if args.postgresql:
            server = os.environ.get(
                "CHRONODB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            )
            sys.path.insert(0, str(HERE.parent.parent))
            from tests.chronodb import pgserver

            with pgserver.fresh_database(server) as one, pgserver.fresh_database(server) as two:
                theirs = pgserver.as_url(one).replace("postgresql://", "postgresql+psycopg://")
                ours = pgserver.as_url(two).replace("postgresql://", "postgresql+chronodb://")
                unexplained += compare(theirs, ours, workdir)
    sys.exit(1 if unexplained else 0)


if __name__ == "__main__":
    main()
