"""The ``chronodb`` command as a user runs it: exec, history, shell, demo, --help."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chronodb import ChronoDB, __version__
from chronodb.cli import main

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """users: Alice inserted (tx 2), renamed (tx 3); Bob inserted (tx 4) and deleted (tx 5);
    tx 1 created the table (see ``txs`` for their ids)."""
    path = tmp_path / "app.db"
    with ChronoDB(path, user="tester") as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
        db.execute("INSERT INTO users VALUES (1, 'Alice', 'alice@example.com')")
        db.execute("UPDATE users SET name = 'Alicia' WHERE id = 1")
        db.execute("INSERT INTO users VALUES (2, 'Bob', NULL)")
        db.execute("DELETE FROM users WHERE id = 2")
    return path


@pytest.fixture
def txs(db_path: Path) -> list[int | None]:
    """The fixture's transactions by number: ``[None, tx1, ..., tx5]`` (ids are times)."""
    with ChronoDB(db_path) as db:
        return [None, *sorted(t["tx_id"] for t in db.transactions())]


def run(runner: CliRunner, *args: object, input: str | None = None) -> Result:
    return runner.invoke(main, [str(a) for a in args], input=input)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def fails(result: Result, message: str) -> None:
    """Exit code 1, ``Error: <message>`` on stderr, and no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


# --------------------------------------------------------------------------- exec
def test_exec_prints_an_aligned_table(runner: CliRunner, db_path: Path) -> None:
    out = ok(run(runner, "exec", db_path, "SELECT id, name, email FROM users"))
    assert out == (
        "id | name   | email\n---+--------+------------------\n 1 | Alicia | alice@example.com\n"
    )


def test_exec_as_of_transaction_with_a_param(
    runner: CliRunner, db_path: Path, txs: list[int | None]
) -> None:
    sql = "SELECT * FROM users AS OF TRANSACTION ?"
    out = ok(run(runner, "exec", db_path, sql, "-p", txs[4]))
    assert out.splitlines()[2:] == [
        " 1 | Alicia | alice@example.com",
        " 2 | Bob    | NULL",
    ]


def test_exec_as_of_timestamp_with_an_iso_param(runner: CliRunner, db_path: Path) -> None:
    with ChronoDB(db_path) as db:
        inserted = db.get_change_history("users", 1)[0]["tx_time"]
    moment = datetime.fromtimestamp(inserted, UTC).isoformat()
    sql = "SELECT name FROM users AS OF TIMESTAMP ? WHERE id = ?"
    out = ok(run(runner, "exec", db_path, sql, "--param", moment, "--param", "1"))
    assert out.splitlines()[2:] == ["Alice"]


def test_exec_system_time_all_shows_periods_as_iso(runner: CliRunner, db_path: Path) -> None:
    sql = "SELECT id, name, sys_from, sys_to FROM users FOR SYSTEM_TIME ALL ORDER BY sys_from"
    lines = ok(run(runner, "exec", db_path, sql)).splitlines()
    assert lines[0].split(" | ")[:2] == ["id", "name  "]
    assert len(lines) == 2 + 3
    assert re.fullmatch(rf" 1 \| Alice  \| {ISO} \| {ISO}", lines[2])
    assert re.fullmatch(rf" 1 \| Alicia \| {ISO} \| NULL\s*", lines[3])
    assert re.fullmatch(rf" 2 \| Bob    \| {ISO} \| {ISO}", lines[4])


def test_exec_csv(runner: CliRunner, db_path: Path, txs: list[int | None]) -> None:
    sql = f"SELECT * FROM users AS OF TRANSACTION {txs[4]} ORDER BY id"
    out = ok(run(runner, "exec", db_path, sql, "--format", "csv"))
    assert list(csv.reader(io.StringIO(out))) == [
        ["id", "name", "email"],
        ["1", "Alicia", "alice@example.com"],
        ["2", "Bob", ""],
    ]


def test_exec_json(runner: CliRunner, db_path: Path, txs: list[int | None]) -> None:
    sql = f"SELECT * FROM users AS OF TRANSACTION {txs[4]} ORDER BY id"
    out = ok(run(runner, "exec", db_path, sql, "-f", "json"))
    assert json.loads(out) == [
        {"id": 1, "name": "Alicia", "email": "alice@example.com"},
        {"id": 2, "name": "Bob", "email": None},
    ]


def test_exec_write_prints_rows_changed_and_transaction(
    runner: CliRunner, db_path: Path, txs: list[int | None]
) -> None:
    sql = "UPDATE users SET email = ? WHERE id = ?"
    out = ok(run(runner, "exec", db_path, sql, "-p", "a@new.example", "-p", "1"))
    first = re.fullmatch(rf"1 row changed \(transaction (\d+) at {ISO}\)\n", out)
    assert first and int(first[1]) > txs[5]
    out = ok(run(runner, "exec", db_path, "INSERT INTO users (name) VALUES ('C'), ('D')"))
    second = re.match(r"2 rows changed \(transaction (\d+) at ", out)
    assert second and int(second[1]) > int(first[1])
    with ChronoDB(db_path) as db:
        assert db.execute("SELECT email FROM users WHERE id = 1").scalar() == "a@new.example"


def test_exec_write_as_json(runner: CliRunner, db_path: Path, txs: list[int | None]) -> None:
    sql = "DELETE FROM users WHERE id = 1"
    record = json.loads(ok(run(runner, "exec", db_path, sql, "--format", "json")))
    assert record["rowcount"] == 1
    assert record["tx_id"] > txs[5]
    assert re.fullmatch(ISO, record["tx_time"])


def test_exec_write_that_changes_nothing(runner: CliRunner, db_path: Path) -> None:
    out = ok(run(runner, "exec", db_path, "UPDATE users SET name = 'x' WHERE id = 99"))
    assert out == "0 rows changed\n"


def test_exec_ddl_reports_its_transaction(
    runner: CliRunner, db_path: Path, txs: list[int | None]
) -> None:
    out = ok(run(runner, "exec", db_path, "CREATE TABLE tags (id INTEGER PRIMARY KEY)"))
    made = re.fullmatch(rf"OK \(transaction (\d+) at {ISO}\)\n", out)
    assert made and int(made[1]) > txs[5]


def test_exec_params_that_look_like_numbers_bind_as_numbers(
    runner: CliRunner, db_path: Path
) -> None:
    sql = "SELECT typeof(?), typeof(?), typeof(?), typeof(?)"
    values = ["-p", "42", "-p", "2.5", "-p", "007", "-p", "x"]
    out = ok(run(runner, "exec", db_path, sql, *values, "-f", "csv"))
    assert out.splitlines()[1] == "integer,real,text,text"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC * FROM users", 'near "SELEC": syntax error'),
        ("SELECT * FROM nope", "no such table: nope"),
        ("SELECT * FROM users AS OF TIMESTAMP 'last tuesday'", "Invalid timestamp 'last tuesday'"),
        ("INSERT INTO users VALUES (1, 'dup', NULL)", "UNIQUE constraint failed"),
    ],
)
def test_exec_errors_are_one_line_and_exit_1(
    runner: CliRunner, db_path: Path, sql: str, message: str
) -> None:
    fails(run(runner, "exec", db_path, sql), message)


def test_exec_with_a_param_too_large_for_sqlite_is_one_line(
    runner: CliRunner, db_path: Path
) -> None:
    result = run(runner, "exec", db_path, "SELECT ?", "-p", "99999999999999999999999999999")
    fails(result, "99999999999999999999999999999 is too large")
    assert len(result.stderr.strip().splitlines()) == 1


def test_exec_on_a_folder_is_a_clean_error(runner: CliRunner, tmp_path: Path) -> None:
    fails(run(runner, "exec", tmp_path, "SELECT 1"), "unable to open database file")


# --------------------------------------------------------------------------- history
def test_history_table(runner: CliRunner, db_path: Path, txs: list[int | None]) -> None:
    lines = ok(run(runner, "history", db_path, "users", "2")).splitlines()
    header = [name.strip() for name in lines[0].split("|")]
    assert header == ["operation", "tx_id", "time", "user", "id", "name", "email"]
    assert re.fullmatch(
        rf"INSERT    \| *{txs[4]} \| {ISO} \| tester \|  2 \| Bob  \| NULL", lines[2]
    )
    assert re.fullmatch(
        rf"DELETE    \| *{txs[5]} \| {ISO} \| tester \|  2 \| Bob  \| NULL", lines[3]
    )


def test_history_json(runner: CliRunner, db_path: Path, txs: list[int | None]) -> None:
    versions = json.loads(ok(run(runner, "history", db_path, "users", "1", "--format", "json")))
    assert [(v["operation"], v["tx_id"], v["user"], v["values"]["name"]) for v in versions] == [
        ("INSERT", txs[2], "tester", "Alice"),
        ("UPDATE", txs[3], "tester", "Alicia"),
    ]
    assert all(re.fullmatch(ISO, v["time"]) for v in versions)


def test_history_of_text_and_composite_keys(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE codes (code TEXT PRIMARY KEY, label TEXT)")
        db.execute("INSERT INTO codes VALUES ('007', 'bond'), ('42', 'answer')")
        db.execute(
            "CREATE TABLE stock (shop TEXT, item INTEGER, qty INTEGER, PRIMARY KEY (shop, item))"
        )
        db.execute("INSERT INTO stock VALUES ('north', 5, 10)")
        db.execute("UPDATE stock SET qty = 9")
    assert "bond" in ok(run(runner, "history", path, "codes", "007"))
    assert "answer" in ok(run(runner, "history", path, "codes", "42"))
    versions = json.loads(ok(run(runner, "history", path, "stock", "north", "5", "-f", "json")))
    assert [v["values"]["qty"] for v in versions] == [10, 9]


def test_history_errors(runner: CliRunner, db_path: Path) -> None:
    fails(run(runner, "history", db_path, "users", "99"), "No history for key 99 in table 'users'")
    fails(run(runner, "history", db_path, "nope", "1"), "no such table: nope")
    fails(run(runner, "history", db_path, "users", "1", "2"), "keyed by 1 column(s); got 2")
    fails(run(runner, "history", db_path.with_name("typo.db"), "users", "1"), "No such database")
    assert not db_path.with_name("typo.db").exists()
    missing_pk = run(runner, "history", db_path, "users")
    assert missing_pk.exit_code == 2
    assert "Missing argument 'PK...'" in missing_pk.output


# --------------------------------------------------------------------------- shell
def test_shell_reads_statements_from_stdin(
    runner: CliRunner, db_path: Path, txs: list[int | None]
) -> None:
    script = (
        "SELECT id,\n"
        "       name\n"
        f"  FROM users AS OF TRANSACTION {txs[2]};\n"
        "\n"
        "UPDATE users SET name = 'Al' WHERE id = 1;\n"
        "SELECT name FROM users;\n"
    )
    result = run(runner, "shell", db_path, input=script)
    assert result.exit_code == 0, result.output
    assert "chronodb>" not in result.output  # no prompts without a terminal
    lines = result.stdout.splitlines()
    assert lines[:3] == ["id | name", "---+------", " 1 | Alice"]
    assert re.fullmatch(rf"1 row changed \(transaction \d+ at {ISO}\)", lines[3])
    assert lines[4:] == ["name", "----", "Al"]


def test_shell_dot_commands(runner: CliRunner, db_path: Path, txs: list[int | None]) -> None:
    script = ".tables\n.history users 1\n.help\n.quit\nSELECT 'never run';\n"
    result = run(runner, "shell", db_path, input=script)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.match(r"users\noperation \| tx_id +\|", out)
    assert re.search(rf"UPDATE    \| *{txs[3]} \| {ISO} \| tester \|  1 \| Alicia", out)
    assert ".history TABLE PK...  every version of one row" in out
    assert "never run" not in out


def test_shell_continues_after_an_error(runner: CliRunner, db_path: Path) -> None:
    script = (
        "SELECT * FROM missing;\n"
        "SELECT name FROM users\n WHERE id = 1;\n"
        ".history users\n"
        ".frobnicate\n"
        "SELECT 'still here' AS status;\n"
    )
    result = run(runner, "shell", db_path, input=script)
    assert result.exit_code == 1  # a script with failures says so
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        "Error: no such table: missing (line 1, column 15)",
        "Error: Usage: .history TABLE PK...",
        "Error: Unknown command .frobnicate; try .help",
    ]
    assert result.stdout.splitlines() == [
        "name",
        "------",
        "Alicia",
        "status",
        "----------",
        "still here",
    ]


def test_shell_transactions_span_statements(runner: CliRunner, db_path: Path) -> None:
    script = (
        "BEGIN;\n"
        "UPDATE users SET name = 'A1' WHERE id = 1;\n"
        "UPDATE users SET email = 'e' WHERE id = 1;\n"
        "COMMIT;\n"
        "SELECT count(*) AS versions FROM users FOR SYSTEM_TIME ALL WHERE id = 1;\n"
    )
    result = run(runner, "shell", db_path, input=script)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "       3"


def test_shell_reports_an_unfinished_statement(runner: CliRunner, db_path: Path) -> None:
    result = run(runner, "shell", db_path, input="SELECT 1;\nSELECT name FROM users\n")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["1", "-", "1"]
    assert "Error: Incomplete statement at end of input" in result.stderr


def _drive_terminal(args: list[str], env: dict[str, str], keys: list[str]) -> str:
    """Run a command on a pseudo-terminal, type ``keys`` line by line, return what it showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 60  # only bounds a hang: a loaded machine can be slow

    def read_until(pattern: bytes | None, start: int) -> int:
        """Read until ``pattern`` shows at or after ``start`` (None: until the end of output);
        return the position just after it."""
        nonlocal shown
        while pattern is None or shown.find(pattern, start) < 0:
            if time.monotonic() > deadline:
                break
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # EIO: the program exited and closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
        found = -1 if pattern is None else shown.find(pattern, start)
        return len(shown) if found < 0 else found + len(pattern)

    try:
        seen = 0
        for key in keys:
            seen = read_until(b"> ", seen)  # a prompt after what was shown so far
            os.write(leader, key.encode() + b"\n")
            seen = read_until(b"\n", seen)  # the echo of what was typed
        read_until(None, seen)
        proc.wait(timeout=max(1, deadline - time.monotonic()))
        return shown.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)


def test_shell_on_a_terminal_prompts_and_saves_history(db_path: Path, tmp_path: Path) -> None:
    history_file = tmp_path / "history"
    env = {**os.environ, "CHRONODB_HISTORY": str(history_file), "TERM": "dumb"}
    shown = _drive_terminal(
        [sys.executable, "-m", "chronodb", "shell", str(db_path)],
        env,
        ["SELECT name", "FROM users;", "SELECT nonsense FROM users;", ".quit"],
    )
    assert "Type .help for help" in shown
    assert "chronodb>" in shown and "...>" in shown
    assert "Alicia" in shown
    assert "Error: no such column: nonsense" in shown
    saved = history_file.read_text().splitlines()
    # readline may escape spaces in the file; a multi-line statement is one entry
    entries = [line.replace("\\040", " ") for line in saved if not line.startswith("_HiStOrY")]
    assert entries == ["SELECT name FROM users;", "SELECT nonsense FROM users;", ".quit"]


# --------------------------------------------------------------------------- demo
def test_demo_runs_as_a_module() -> None:
    # The timeout only bounds a hang: the demo takes ~2 s, but ~15 s on a loaded machine.
    done = subprocess.run(
        [sys.executable, "-m", "chronodb", "demo"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for heading in (
        "== ChronoDB: every table keeps its history ==",
        "-- As of a moment before Carol's account closed",
        "-- Right after the accounts were opened",
        "-- Every version of Alice's account, with its period",
        "-- db.get_change_history('demo_accounts', 1)",
        "== ChronoMap: a dict that remembers ==",
    ):
        assert heading in out
    as_of_timestamp = out.split("-- As of a moment before Carol's account closed")[1]
    assert " 3 | Carol |      75" in as_of_timestamp.split("\n\n")[0]
    assert re.search(rf" 1 \| Alice Smith \|      70 \| {ISO} \| NULL", out)
    assert re.search(r"tx \d+ DELETE: \{'id': 3, 'owner': 'Carol', 'balance': 75\} -> None", out)
    assert "As of t=250: 22.0" in out  # ChronoMap's own tour


def test_demo_into_a_file_keeps_the_history(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    ok(run(runner, "demo", "--db", path))
    with ChronoDB(path) as db:
        assert len(db.get_change_history("demo_accounts", 1)) == 3
    fails(run(runner, "demo", "--db", path), "already has a demo_accounts table")


# --------------------------------------------------------------------------- help
def test_version(runner: CliRunner) -> None:
    assert ok(run(runner, "--version")) == f"chronodb, version {__version__}\n"


@pytest.mark.parametrize(
    ("command", "usage", "documented"),
    [
        ("exec", "DB SQL", ["-p, --param VALUE", "-f, --format [table|csv|json]"]),
        ("history", "DB TABLE PK...", ["-f, --format [table|json]"]),
        ("shell", "DB", [".history TABLE PK...", "$CHRONODB_HISTORY"]),
        ("demo", "", ["--db TEXT", "[default: :memory:]"]),
    ],
)
def test_help_of_each_command(
    runner: CliRunner, command: str, usage: str, documented: list[str]
) -> None:
    out = runner.invoke(main, [command, "--help"], terminal_width=80).output
    assert out.startswith(f"Usage: chronodb {command} [OPTIONS] {usage}".rstrip() + "\n")
    flat = " ".join(out.split())
    for text in documented:
        assert " ".join(text.split()) in flat
    assert "-h, --help" in out


# ------------------------------------------------------------ the first five minutes
def test_exec_and_shell_refuse_a_missing_file_unless_create(
    runner: CliRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "typo.db"
    for args in (["exec", missing, "SELECT 1"], ["shell", missing]):
        fails(
            run(runner, *args, input=""),
            f"No such database file: {missing}; pass --create to make a new one",
        )
        assert not missing.exists()
    fails(run(runner, "history", missing, "t", "1"), f"No such database file: {missing}")
    fails(run(runner, "health", missing), f"No such database file: {missing}")
    fails(run(runner, "verify", missing), f"No such database file: {missing}")
    ok(run(runner, "exec", missing, "CREATE TABLE t (id INTEGER PRIMARY KEY)", "--create"))
    assert ok(run(runner, "shell", tmp_path / "new.db", "--create", input=".tables\n")) == "\n"
    assert ok(run(runner, "exec", missing, "SELECT count(*) AS n FROM t")) == "n\n-\n0\n"


def test_long_values_are_cut_in_tables_and_max_width_changes_where(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "notes.db"
    long = "word " * 40
    with ChronoDB(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO notes VALUES (1, ?)", [long])
    out = ok(run(runner, "exec", path, "SELECT * FROM notes"))
    row = out.splitlines()[2]
    assert row == " 1 | " + long[:59] + "…"
    narrow = ok(run(runner, "exec", path, "SELECT * FROM notes", "--max-width", "10"))
    assert narrow.splitlines()[2] == " 1 | word word…"
    whole = ok(run(runner, "exec", path, "SELECT * FROM notes", "--max-width", "0"))
    assert whole.splitlines()[2] == " 1 | " + long.rstrip()
    as_csv = ok(run(runner, "exec", path, "SELECT body FROM notes", "--format", "csv"))
    assert long in as_csv  # only tables are cut
    shell = ok(run(runner, "shell", path, "--max-width", "12", input="SELECT * FROM notes;\n"))
    assert shell.splitlines()[2] == " 1 | word word w…"


def test_times_printed_by_exec_and_history_read_back_the_state_they_name(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "shop.db"
    ok(run(runner, "exec", path, "CREATE TABLE p (id INTEGER PRIMARY KEY, n TEXT)", "--create"))
    ok(run(runner, "exec", path, "INSERT INTO p VALUES (1, 'a')"))
    wrote = ok(run(runner, "exec", path, "UPDATE p SET n = 'b' WHERE id = 1"))
    ok(run(runner, "exec", path, "UPDATE p SET n = 'c' WHERE id = 1"))
    match = re.search(rf"\(transaction (\d+) at ({ISO})\)", wrote)
    assert match is not None
    tx, when = match.groups()
    by_time = f"SELECT n FROM p AS OF TIMESTAMP '{when}'"
    assert ok(run(runner, "exec", path, by_time)).splitlines()[2] == "b"
    by_tx = "SELECT n FROM p AS OF TRANSACTION ?"
    assert ok(run(runner, "exec", path, by_tx, "-p", tx)).splitlines()[2] == "b"
    history = ok(run(runner, "history", path, "p", "1")).splitlines()[2:]
    for line in history:
        _op, tx_id, time_text, _user, _id, value = (c.strip() for c in line.split("|"))
        by_time = f"SELECT n FROM p AS OF TIMESTAMP '{time_text}'"
        assert ok(run(runner, "exec", path, by_time)).splitlines()[2] == value
        assert ok(run(runner, "exec", path, by_tx, "-p", tx_id)).splitlines()[2] == value


def test_shell_help_shows_temporal_sql_at_this_files_latest_transaction(
    runner: CliRunner, db_path: Path, txs: list[int | None]
) -> None:
    out = ok(run(runner, "shell", db_path, input=".help\n"))
    assert f"latest transaction is {txs[5]}" in out
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith("SELECT")]
    assert lines[1] == f"SELECT * FROM users AS OF TRANSACTION {txs[5]};"
    script = "\n".join(lines) + "\n"
    answers = ok(run(runner, "shell", db_path, input=script))
    assert answers.count("Alicia") >= 3  # each example runs and finds the row


def test_exec_help_uses_no_made_up_transaction_ids(runner: CliRunner) -> None:
    out = runner.invoke(main, ["exec", "--help"], terminal_width=80).output
    assert "-p 3" not in out and "chronodb history app.db users 1" in out
    assert "-p TX_ID" in out
