"""`servicepulse`: the command line. Each area of the product registers its commands here.

Global option: `--db URL` (else SERVICEPULSE_DATABASE_URL, else ./servicepulse.db).
Exit codes: 0 success, 1 failure (an unexpected error included), 2 usage or configuration
error (and any `InvalidRequest`), 3 import finished with quarantined rows, 4 not found
(`NotFound`), 5 conflict (`Conflict`), 6 a service unavailable (`Unavailable`): the domain
errors of `servicepulse.errors` print their message and exit with their code. A closed pipe
(`servicepulse kpi | head`) ends the command quietly, exit 1.

No traceback reaches the user: an unexpected exception in any command is written, with its
traceback, to the error log (`error_log_path()`: $XDG_STATE_HOME/servicepulse/errors.log,
by default ~/.local/state/servicepulse/errors.log) under a short reference, and the command
prints one line, `error: <summary> (reference <id>; details in <path>)`, and exits 1.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import secrets
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from servicepulse.cli.context import CliState

ERROR_LOG_NAME = "errors.log"
ERROR_LOG_MAX_BYTES = 1_000_000  # then the log moves to errors.log.1 (one generation kept)
_SUMMARY_CHARS = 300
# user:password@ in a database URL on the command line is not written to the log
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def error_log_path() -> Path:
    """Where unexpected errors are logged: $XDG_STATE_HOME/servicepulse/errors.log, else
    ~/.local/state/servicepulse/errors.log (the XDG default)."""
    state_home = os.environ.get("XDG_STATE_HOME") or ""
    base = Path(state_home) if os.path.isabs(state_home) else Path.home() / ".local" / "state"
    return base / "servicepulse" / ERROR_LOG_NAME


def _summary(exc: BaseException) -> str:
    """One line about `exc`: its type and the first line of its message, shortened."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__
    text = "".join(c if c.isprintable() else "\ufffd" for c in text)
    return text if len(text) <= _SUMMARY_CHARS else text[:_SUMMARY_CHARS - 1] + "…"


def _write_log(path: Path, entry: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if path.stat().st_size > ERROR_LOG_MAX_BYTES:
            path.replace(path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
    # the log may hold record contents (exception messages): readable by the user only
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(entry)


def report_unexpected(exc: BaseException) -> str:
    """Log `exc` with its traceback under a new reference; the one line to show the user."""
    reference = secrets.token_hex(4)
    argv = " ".join(_URL_PASSWORD.sub(r"\1***@", arg) for arg in sys.argv)
    entry = (
        f"=== {datetime.now(UTC).isoformat(timespec='seconds')} reference {reference} "
        f"(pid {os.getpid()}, Python {sys.version.split()[0]})\n"
        f"command: {argv}\n"
        + "".join(traceback.format_exception(exc))
        + "\n"
    )
    summary = _summary(exc)
    path = error_log_path()
    for candidate in (path, Path(tempfile.gettempdir()) / f"servicepulse-{os.getuid()}-"
                      f"{ERROR_LOG_NAME}"):
        try:
            _write_log(candidate, entry)
        except OSError as error:
            problem = error.strerror or str(error)
            continue
        return f"error: {summary} (reference {reference}; details in {candidate})"
    return (f"error: {summary} (reference {reference}; the details could not be written to "
            f"{path}: {problem})")


def _reader_gone() -> int:
    """The reader of our output stopped reading (`servicepulse kpi | head`): nothing is said,
    as for any Unix tool, and the exit is 1, as click's own for a closed pipe. Standard output
    points to /dev/null from here so that the flush at exit does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    with contextlib.suppress(OSError, ValueError):  # not a real file: a test's captured output
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


def _report(exc: Exception) -> int:
    """Tell the user about `exc` on stderr; the exit status. A domain error
    (`servicepulse.errors`) is its message and its exit code; anything else is a bug: one line
    with a reference, the traceback in the error log, exit 1."""
    from servicepulse.config import ConfigError
    from servicepulse.errors import ServicePulseError

    if isinstance(exc, BrokenPipeError):
        return _reader_gone()
    if isinstance(exc, ConfigError):
        typer.echo(f"error: {exc}\nFix the configuration (see docs/configuration.md).", err=True)
    elif isinstance(exc, ServicePulseError) and exc.exit_code != 1:
        typer.echo(f"error: {exc.message}", err=True)
    else:
        typer.echo(report_unexpected(exc), err=True)
        return 1
    return exc.exit_code


class _Commands(TyperGroup):
    """The command group: expected errors keep their messages and exit codes; anything else
    becomes one line and a logged traceback (`report_unexpected`)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise  # usage errors (exit 2), explicit exits, aborts: handled by typer
        except Exception as exc:
            raise typer.Exit(_report(exc)) from None


app = typer.Typer(
    name="servicepulse",
    help="ServicePulse: customer-service KPIs, scorecards and staffing from every contact.",
    cls=_Commands,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (sqlite:///FILE or postgresql+psycopg://...).",
                     envvar="SERVICEPULSE_DATABASE_URL", show_envvar=True),
    ] = None,
) -> None:
    from servicepulse.composition import compose

    ctx.obj = CliState(db_url=db)
    # the program's start wires the areas (import hooks, which read the settings the command
    # loads: once, on first use); cheap, idempotent
    compose(ctx.obj.settings)


def _register() -> None:
    # Imported here so that each command module can import `app` helpers without cycles.
    from servicepulse.cli import bench, demo, ingest, staffing, store_commands

    store_commands.register(app)
    ingest.register(app)
    demo.register(app)
    staffing.register(app)
    bench.register(app)
    from servicepulse.cli import insights; insights.register(app)  # noqa: E702, I001
    from servicepulse.cli import web; web.register(app)  # noqa: E702, I001
    from servicepulse.cli import export, kpi; kpi.register(app); export.register(app)  # noqa: E702, I001
    from servicepulse.cli import simulate; simulate.register(app)  # noqa: E702, I001
    from servicepulse.cli import scorecards; scorecards.register(app)  # noqa: E702, I001
    from servicepulse.cli import verify; verify.register(app)  # noqa: E702, I001
    from servicepulse.cli import explain; explain.register(app)  # noqa: E702, I001
    from servicepulse.cli import digest; digest.register(app)  # noqa: E702, I001
    from servicepulse.cli import qa; qa.register(app)  # noqa: E702, I001


_register()


def _command_named(argv: list[str]) -> str | None:
    """The command a command line names after the global options (`--db URL`), if any."""
    index = 0
    while index < len(argv):
        argument = argv[index]
        if argument == "--db":
            index += 2
        elif argument.startswith("--db="):
            index += 1
        else:
            return None if argument.startswith("-") else argument
    return None


def app_for(argv: list[str]) -> typer.Typer:
    """`app` with only the command `argv` names registered, when it names one. Typer builds
    every registered command (their options, read from the annotations) before it runs one:
    about 50 ms for the sixty here, of which a run needs one. Without a known command name
    (`--help`, a typo) the whole app answers, with its list and its "no such command"."""
    name = _command_named(argv)
    commands = [info for info in app.registered_commands if info.name == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if not commands and not groups:
        return app
    only = copy.copy(app)
    only.registered_commands, only.registered_groups = commands, groups
    return only


def run() -> None:
    """The console entry point: known user errors become a message and exit status 2, and
    no traceback is shown (the commands' group handles both; this catches what happens
    outside any command)."""
    try:
        app_for(sys.argv[1:])()
    except Exception as exc:
        raise SystemExit(_report(exc)) from None

