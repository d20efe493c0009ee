"""The ``chronodb`` command: click commands over the library, nothing more.

Each command opens a :class:`~chronodb.ChronoDB`, calls it and prints what it returned
with :mod:`chronodb.formatting`. A :class:`~chronodb.ChronoDBError` becomes ``Error: …``
on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from chronodb import __version__, formatting, notes
from chronodb.adopt import adopt, plan_adoption
from chronodb.audit.command import digest_command, verify_command
from chronodb.copy import copy_database
from chronodb.database import ChronoDB
from chronodb.dbfile import require_file
from chronodb.errors import ChronoDBError, ReadOnlyError
from chronodb.export import export
from chronodb.optimizer.command import health_command
from chronodb.result import Result
from chronodb.server.command import serve_command
from chronodb.sql import paramstyle
from chronodb.storage.urls import is_postgres_url

FORMATS = ("table", "csv", "json")


class _Group(click.Group):
    """Turns library errors raised by any command into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ChronoDBError as err:
            raise click.ClickException(str(err)) from err


@click.group("chronodb", cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="chronodb")
def main() -> None:
    """ChronoDB: SQLite and PostgreSQL in which every table keeps its history.

    Query any table as it was with AS OF TIMESTAMP, AS OF TRANSACTION and
    FOR SYSTEM_TIME, from SQL or from the commands below.
    """


@contextmanager
def _open(path: str) -> Iterator[ChronoDB]:
    """``path`` opened; a PostgreSQL database that can only be read (a standby) is opened
    read-only, so that reads work and a write says why it is refused."""
    try:
        db = ChronoDB(path)
    except ReadOnlyError:
        if not is_postgres_url(path):
            raise
        db = ChronoDB(path, read_only=True)
    try:
        yield db
    finally:
        db.close()


def _value(text: str) -> Any:
    """A command-line value as SQL sees it: canonical integers and decimals become numbers."""
    try:
        number = int(text)
    except ValueError:
        try:
            decimal = float(text)
        except ValueError:
            return text
        return decimal if repr(decimal) == text else text
    return number if str(number) == text else text


def render(result: Result, fmt: str = "table", max_width: int | None = None) -> str | None:
    """What ``exec`` and the shell print for one statement's result (None: nothing);
    ``max_width``: the longest value a table shows uncut."""
    if result.columns:
        rows = [tuple(row) for row in result]
        if fmt == "csv":
            return formatting.to_csv(result.columns, rows)
        if fmt == "json":
            return formatting.to_json(result.to_dicts())
        return formatting.table(result.columns, rows, max_width=max_width)
    if result.tx_id is None:
        if result.rowcount < 0:
            return None
        changed = {"rowcount": result.rowcount, "tx_id": None}
        return formatting.to_json(changed) if fmt == "json" else f"{_rows(result.rowcount)} changed"
    assert result.tx_time is not None
    if fmt == "json":
        return formatting.to_json(
            {
                "rowcount": result.rowcount,
                "tx_id": result.tx_id,
                "tx_time": formatting.iso_time(result.tx_time),
            }
        )
    done = "OK" if result.rowcount < 0 else f"{_rows(result.rowcount)} changed"
    return f"{done} (transaction {result.tx_id} at {formatting.iso_time(result.tx_time)})"


def _quietly(execute: Callable[..., Result], *args: Any) -> Result:
    """``execute(*args)`` leaving its notes to :func:`_echo_notes`: the same words as the
    ChronoDBWarning they would be, without Python's file-and-line prefix."""
    with notes.notes_only():
        return execute(*args)


def _echo_notes(result: Result) -> None:
    """A result's notes (why a time-travel read is empty) on stderr, after its rows."""
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _history(db: ChronoDB, table: str, key: Sequence[str]) -> list[dict[str, Any]]:
    """One row's versions; the key is tried as numbers first, then as the text typed."""
    typed = [_value(part) for part in key]
    versions = db.get_change_history(table, typed if len(typed) > 1 else typed[0])
    if not versions and typed != list(key):
        versions = db.get_change_history(table, list(key) if len(key) > 1 else key[0])
    return versions


def render_history(
    versions: list[dict[str, Any]], fmt: str = "table", max_width: int | None = None
) -> str:
    """Versions as ``history`` prints them: operation, tx_id, time (ISO), user, values."""
    records = [
        {
            "operation": v["operation"],
            "tx_id": v["tx_id"],
            "time": formatting.iso_time(v["tx_time"]),
            "user": v["user"],
            "values": v["values"],
        }
        for v in versions
    ]
    if fmt == "json":
        return formatting.to_json(records)
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record["values"]))
    columns = ["operation", "tx_id", "time", "user", *names]
    rows = [
        [r["operation"], r["tx_id"], r["time"], r["user"], *(r["values"].get(n) for n in names)]
        for r in records
    ]
    return formatting.table(columns, rows, max_width=max_width)


DEFAULT_MAX_WIDTH = 60
max_width_option = click.option(
    "--max-width",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_WIDTH,
    show_default=True,
    metavar="N",
    help="Cut table values longer than N characters (0: never cut).",
)
create_option = click.option(
    "--create", is_flag=True, help="Make DB a new, empty database if the file is missing."
)


def _width(max_width: int) -> int | None:
    return max_width or None


@main.command("exec")
@click.argument("db", metavar="DB")
@click.argument("sql")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="VALUE",
    help="Bind a value to the next ? placeholder (repeatable).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="How to print rows.",
)
@max_width_option
@create_option
def exec_command(
    db: str, sql: str, params: tuple[str, ...], fmt: str, max_width: int, create: bool
) -> None:
    """Run one SQL statement and print its result.

    DB is the database file (with --create, made if missing) or a
    postgresql:// URL.

    Rows print as a table, CSV or JSON; a write prints how many rows it changed
    and its transaction's id and time. Values given with -p that look like
    numbers are bound as numbers. Any id or time a write or `chronodb history`
    printed reads the database as it was then:

    \b
      chronodb history app.db users 1
      chronodb exec app.db "SELECT * FROM users AS OF TRANSACTION ?" -p TX_ID
      chronodb exec app.db "SELECT * FROM users AS OF TIMESTAMP ?" -p TIME
    """
    if not create:
        require_file(db, can_create=True)
    with _open(db) as database:
        result = _quietly(database.execute, sql, [_value(p) for p in params])
        output = render(result, fmt, _width(max_width))
    if output is not None:
        click.echo(output)
    _echo_notes(result)


@main.command("history")
@click.argument("db", metavar="DB")
@click.argument("table")
@click.argument("pk", nargs=-1, required=True)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="How to print the versions.",
)
def history_command(db: str, table: str, pk: tuple[str, ...], fmt: str) -> None:
    """Print every version of one row of TABLE, oldest first.

    PK is the row's primary key (several values for a composite key, the rowid
    for a table without one). Each version shows the operation, transaction,
    time (UTC), user and the row's values.
    """
    require_file(db)
    with _open(db) as database:
        versions = _history(database, table, pk)
    if not versions:
        raise click.ClickException(f"No history for key {' '.join(pk)} in table {table!r}")
    click.echo(render_history(versions, fmt))


SHELL_COMMANDS = """\
.tables               list the tables
.schema [TABLE]...    the tables' columns (as `chronodb schema` prints them)
.history TABLE PK...  every version of one row (with its transactions' ids and times)
.help                 this message
.quit                 leave (also .exit or end of input)"""


def shell_help(db: ChronoDB) -> str:
    """The shell's .help: temporal SQL on one of DB's tables at its latest transaction."""
    tables = db.tables()
    latest = db.transactions(limit=1)
    lines = ["Enter SQL statements terminated by ';' (they may span lines). Temporal SQL works:"]
    if tables and latest:
        table = formatting.identifier(tables[0])
        tx, when = latest[0]["tx_id"], formatting.iso_time(latest[0]["tx_time"])
        what = ""
        if latest[0].get("kind") == "adopt":
            what = f", the adoption of {latest[0]['tables']} table(s) other tools made"
        lines.append(f"  (this file's latest transaction is {tx}, at {when}{what})")
    else:
        table, tx, when = "t", "TX_ID", "2026-12-07T12:00:00Z"
        lines.append("  (no writes yet: TX_ID and the time stand for what .history shows later)")
    lines += [
        f"  SELECT * FROM {table} AS OF TIMESTAMP '{when}';",
        f"  SELECT * FROM {table} AS OF TRANSACTION {tx};",
        f"  SELECT * FROM {table} FOR SYSTEM_TIME ALL;",
    ]
    return "\n".join([*lines, SHELL_COMMANDS])


def _history_file() -> Path:
    return Path(os.environ.get("CHRONODB_HISTORY") or Path.home() / ".chronodb_history")


class _Shell:
    """Reads statements until they are complete, runs them, prints results or errors."""

    def __init__(
        self,
        db: ChronoDB,
        remember: Callable[[str], None] | None = None,
        max_width: int | None = DEFAULT_MAX_WIDTH,
        complete: Callable[[str], bool] = sqlite3.complete_statement,
    ) -> None:
        self.db = db
        self.complete = complete  # whether a statement typed so far is whole
        self.remember = remember  # records a statement in the line-editing history
        self.max_width = max_width
        self.errors = 0

    def dot(self, line: str) -> bool:
        """Run a dot-command; returns False when the shell should stop."""
        name, *args = line.split()
        if name in (".quit", ".exit", ".q"):
            return False
        if name == ".help":
            click.echo(shell_help(self.db))
        elif name == ".tables":
            click.echo("\n".join(self.db.tables()))
        elif name == ".schema":
            try:
                click.echo(render_schema(self.db, args, None))
            except ChronoDBError as err:
                self.fail(str(err))
        elif name == ".history":
            if len(args) < 2:
                self.fail("Usage: .history TABLE PK...")
            else:
                versions = _history(self.db, args[0], args[1:])
                if versions:
                    click.echo(render_history(versions, max_width=self.max_width))
                else:
                    self.fail(f"No history for key {' '.join(args[1:])} in table {args[0]!r}")
        else:
            self.fail(f"Unknown command {name}; try .help")
        return True

    def fail(self, message: str) -> None:
        self.errors += 1
        click.echo(f"Error: {message}", err=True)

    def run_statement(self, sql: str) -> None:
        result = _quietly(self.db.execute, sql)
        output = render(result, max_width=self.max_width)
        if output is not None:
            click.echo(output)
        _echo_notes(result)

    def loop(self, read: Callable[[str], str | None]) -> None:
        buffer: list[str] = []
        while True:
            prompt = "     ...> " if buffer else "chronodb> "
            try:
                line = read(prompt)
            except KeyboardInterrupt:
                click.echo("")
                buffer.clear()
                continue
            if line is None:
                break
            if not buffer and line.strip().startswith("."):
                try:
                    if not self.dot(line.strip()):
                        return
                except ChronoDBError as err:
                    self.fail(str(err))
                continue
            if not buffer and not line.strip():
                continue
            buffer.append(line)
            statement = "\n".join(buffer)
            if not self.complete(statement):
                continue
            buffer.clear()
            if self.remember is not None:
                self.remember(statement)
            try:
                self.run_statement(statement)
            except ChronoDBError as err:
                self.fail(str(err))
        if any(part.strip() for part in buffer):
            self.fail("Incomplete statement at end of input (missing ';'?)")


def _remember(statement: str) -> None:
    """One readline history entry per statement, not one per line of it."""
    readline = sys.modules.get("readline")
    if readline is None:
        return
    lines = statement.count("\n") + 1
    length = readline.get_current_history_length()
    if lines > 1 and length >= lines:
        for _ in range(lines):
            readline.remove_history_item(readline.get_current_history_length() - 1)
        readline.add_history(" ".join(part.strip() for part in statement.splitlines()))


@main.command("shell")
@click.argument("db", metavar="DB")
@max_width_option
@create_option
def shell_command(db: str, max_width: int, create: bool) -> None:
    """An interactive SQL prompt on the database DB.

    DB is a database file (with --create, made if missing) or a postgresql://
    URL.

    Statements end with ';' and may span lines; results print as tables.
    Dot-commands: .tables, .history TABLE PK..., .help, .quit. Line editing
    and history (saved in ~/.chronodb_history, or $CHRONODB_HISTORY) work
    when readline is available. Without a terminal, statements are read from
    standard input and the exit code is 1 if any of them failed.
    """
    if not create:
        require_file(db, can_create=True)
    interactive = sys.stdin.isatty()
    complete = paramstyle.complete_statement if is_postgres_url(db) else sqlite3.complete_statement
    with _open(db) as database:
        if interactive:
            shell = _Shell(database, _remember, _width(max_width), complete)
            _interactive(shell, database)
        else:
            shell = _Shell(database, max_width=_width(max_width), complete=complete)
            stream = sys.stdin  # CliRunner swaps sys.stdin too
            lines = (line.rstrip("\n") for line in stream)
            shell.loop(lambda prompt: next(lines, None))
    if shell.errors and not interactive:
        sys.exit(1)


def _interactive(shell: _Shell, db: ChronoDB) -> None:
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input() still works
        readline = None  # type: ignore[assignment]
    history = _history_file()
    if readline is not None:
        with suppress(OSError):  # no history yet
            readline.read_history_file(history)
        readline.set_history_length(1000)
    click.echo(f"ChronoDB {__version__} on {db.path}. Type .help for help.")

    def read(prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            click.echo("")
            return None

    try:
        shell.loop(read)
    finally:
        if readline is not None:
            try:
                readline.write_history_file(history)
            except OSError as err:
                click.echo(f"Warning: could not save history to {history}: {err}", err=True)


@main.command("demo")
@click.option("--db", "path", default=":memory:", show_default=True, help="Database file to use.")
def demo_command(path: str) -> None:
    """A short tour of time travel (takes a second).

    Creates a table, changes it a few times and queries it AS OF TIMESTAMP, AS OF
    TRANSACTION and FOR SYSTEM_TIME ALL, then tours ChronoMap.
    """
    with _open(path) as db:
        run_demo(db, click.echo)
    click.echo("")
    click.echo("== ChronoMap: a dict that remembers ==")
    from chronomap.demo import run_demo as chronomap_demo

    chronomap_demo(click.echo)


def run_demo(db: ChronoDB, echo: Callable[[str], object]) -> None:
    """Create a table, change it a few times, and show it at several points in time."""
    if "demo_accounts" in db.tables():
        raise click.ClickException(f"{db.path} already has a demo_accounts table; use a new file")

    def show(title: str, sql: str, params: Sequence[Any] = ()) -> None:
        echo("")
        echo(f"-- {title}")
        echo(f"{sql};" + (f"   -- params: {list(params)!r}" if params else ""))
        echo(render(db.execute(sql, list(params))) or "")

    def step(sql: str) -> Result:
        result = db.execute(sql)
        echo(f"[tx {result.tx_id}] {sql}")
        time.sleep(0.05)  # so the versions' times are apart when printed
        return result

    echo("== ChronoDB: every table keeps its history ==")
    step("CREATE TABLE demo_accounts (id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER)")
    opened = step(
        "INSERT INTO demo_accounts VALUES (1, 'Alice', 100), (2, 'Bob', 50), (3, 'Carol', 75)"
    )
    step("UPDATE demo_accounts SET balance = balance - 30 WHERE id = 1")
    step("UPDATE demo_accounts SET balance = balance + 30 WHERE id = 2")
    before_close = datetime.now(UTC)
    time.sleep(0.05)
    step("DELETE FROM demo_accounts WHERE id = 3")
    step("UPDATE demo_accounts SET owner = 'Alice Smith' WHERE id = 1")

    show("Now", "SELECT * FROM demo_accounts")
    show(
        "As of a moment before Carol's account closed",
        "SELECT * FROM demo_accounts AS OF TIMESTAMP ?",
        [before_close.isoformat()],
    )
    show(
        "Right after the accounts were opened",
        "SELECT * FROM demo_accounts AS OF TRANSACTION ?",
        [opened.tx_id],
    )
    show(
        "Every version of Alice's account, with its period",
        "SELECT id, owner, balance, sys_from, sys_to FROM demo_accounts FOR SYSTEM_TIME ALL "
        "WHERE id = 1 ORDER BY sys_from",
    )
    echo("")
    echo("-- db.get_change_history('demo_accounts', 1)")
    echo(render_history(db.get_change_history("demo_accounts", 1)))
    echo("")
    echo("-- db.changes('demo_accounts', since): what changed after that moment")
    for change in db.changes("demo_accounts", before_close):
        echo(
            f"  tx {change['tx_id']} {change['operation']}: {change['before']} -> {change['after']}"
        )


SCHEMA_HEADER = ["column", "type", "key", "not null", "default", "generated", "collation"]


def render_schema(db: ChronoDB, tables: Sequence[str], as_of: str | None) -> str:
    """Each table's columns (``db.columns``), one aligned table after its name.

    A value history does not record for a column dropped since (see introspect.py) shows
    as "?"."""
    blocks = []
    for name in tables or db.tables(as_of):
        rows = [
            (
                c.name,
                c.type,
                str(c.primary_key or ""),
                "?" if c.notnull is None else ("yes" if c.notnull else ""),
                "?" if c.notnull is None else (c.default or ""),
                "?" if c.generated is None else c.generated,
                c.collation,
            )
            for c in db.columns(name, as_of)
        ]
        blocks.append(f"{name}\n{formatting.table(SCHEMA_HEADER, rows)}")
    return "\n\n".join(blocks)


@main.command("schema")
@click.argument("db", metavar="DB")
@click.argument("tables", nargs=-1, metavar="[TABLE]...")
@click.option(
    "--as-of",
    "as_of",
    metavar="T",
    help="A transaction id or a time, as AS OF takes them (default: now).",
)
def schema_command(db: str, tables: tuple[str, ...], as_of: str | None) -> None:
    """Print the columns of DB's tables, now or as of T.

    Only the tables named, if any. Each column's declared type, its position
    in the primary key, NOT NULL, DEFAULT, whether it is GENERATED (VIRTUAL
    or STORED) and its collation, as the HTTP API's /tables and GraphQL
    describe them.
    """
    require_file(db)
    with _open(db) as database:
        output = render_schema(database, tables, as_of)
    if output:
        click.echo(output)


@main.command("adopt")
@click.argument("db")
@click.option("--dry-run", is_flag=True, help="Say what adopting would do; write nothing.")
@click.option("--user", help="The user the adoption is recorded under (default: OS user).")
def adopt_command(db: str, dry_run: bool, user: str | None) -> None:
    """Version the tables of DB, a SQLite file made by other tools.

    Says first which tables it versions (with their rows), which it leaves
    unversioned and why, and about how much history it writes. Every row then
    becomes its table's first version, all in one transaction: a run that is
    stopped leaves the file as it was. Opening the file with ChronoDB does
    the same silently.
    """
    require_file(
        db,
        sqlite_only="adopt works on SQLite files; on PostgreSQL, opening the URL (ChronoDB(url) "
        "or any command) versions the schema's tables with primary keys",
    )
    plan = plan_adoption(db)
    for line in plan.describe():
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    if not plan.tables:
        return
    with click.progressbar(length=plan.rows, label="Adopting", file=sys.stderr) as bar:
        adopt(db, user=user, progress=bar.update)
    with _open(db) as database:
        latest = database.transactions(limit=1)[0]
    click.echo(
        f"Adopted {len(plan.tables)} table(s) in transaction {latest['tx_id']} at "
        f"{formatting.iso_time(latest['tx_time'])}: AS OF it or any later point works."
    )


@main.command("export")
@click.argument("db")
@click.argument("target")
@click.option(
    "--as-of",
    "as_of",
    metavar="T",
    help="A transaction id or a time, as AS OF takes them (default: the current state).",
)
def export_command(db: str, target: str, as_of: str | None) -> None:
    """Write TARGET, a plain SQLite file of DB's tables now or as of T.

    TARGET has the tables with their own CREATE TABLE statements, their
    indexes, views and triggers, and no history, ChronoDB tables or
    triggers: any SQLite tool can read and write it. As of T it has the
    tables, columns and views of then; the notes printed after it name the
    tables made from their recorded columns (changed since), left out (made
    since) or written with their current rows (unversioned, such as FTS5).
    """
    require_file(
        db,
        sqlite_only="export copies a SQLite database; on PostgreSQL, read a past state with "
        "SELECT ... AS OF and the current one with pg_dump",
    )
    report = export(db, target, as_of=as_of)
    point = "now" if as_of is None else f"as of {as_of}"
    click.echo(
        f"Wrote {target}: {len(report.rows)} table(s), {sum(report.rows.values())} row(s), {point}."
    )
    for note in report.notes:
        click.echo(f"  {note}")


@main.command("copy")
@click.argument("source")
@click.argument("destination")
def copy_command(source: str, destination: str) -> None:
    """Copy SOURCE to DESTINATION with its whole history and audit ledger.

    Each is a SQLite file or a postgresql:// URL (the connection's current
    schema). DESTINATION must be new: a file that does not exist, or a
    schema without tables, views or ChronoDB history. Every
    transaction keeps its id, time and user, every table its past shapes,
    and the ledger its leaves: the copy's root is the source's, and the
    copy is verified before this says so. A copy that fails writes none of
    SOURCE's rows to DESTINATION.
    """
    require_file(source)
    with _ProgressBar("Copying") as bar:
        report = copy_database(source, destination, progress=bar.update)
    click.echo(
        f"Copied {report.transactions} transaction(s) and {report.versions} version(s) "
        f"from {report.source} to {report.destination}."
    )
    click.echo(
        f"Ledger: {report.tree_size} leaves, root {report.root}, the same in both; "
        "the copy verifies."
    )


class _ProgressBar:
    """A progress bar on stderr, opened at the first report, when its length is known."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.shown = 0

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


main.add_command(serve_command)
main.add_command(health_command)
main.add_command(verify_command)
main.add_command(digest_command)
