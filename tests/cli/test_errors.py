"""No traceback reaches a user (issue 15): an unexpected exception in any command prints one
line with a reference and exits 1; the error log holds the traceback under that reference.
Usage and configuration errors keep their messages and exit 2; the domain errors
(`servicepulse.errors`) print their message and exit with their code (issue 21)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servicepulse.cli.main import app, error_log_path
from servicepulse.errors import Conflict, InvalidRequest, NotFound, ServicePulseError, Unavailable

runner = CliRunner()
ONE_LINE = re.compile(
    r"^error: (?P<summary>.+) \(reference (?P<reference>[0-9a-f]{8}); details in (?P<log>.+)\)$")


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("the disk said no\nand a second line nobody needs")


def test_an_unexpected_exception_prints_one_line_and_logs_the_traceback(
        tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("servicepulse.ingest.references.unresolved_references", _boom)
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "check"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    match = ONE_LINE.match(lines[0])
    assert match is not None, lines[0]
    assert match["summary"] == "RuntimeError: the disk said no"
    log = Path(match["log"])
    assert log == state_home / "servicepulse" / "errors.log" == error_log_path()
    assert "Traceback" not in result.output
    logged = log.read_text()
    entry = logged[logged.index(f"reference {match['reference']}"):]
    assert "Traceback (most recent call last):" in entry
    assert "in _boom" in entry and "RuntimeError: the disk said no" in entry
    assert "and a second line nobody needs" in entry  # the whole message is in the log
    assert oct(log.stat().st_mode & 0o777) == oct(0o600)


def test_each_error_gets_its_own_reference(tmp_path: Path, state_home: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("servicepulse.ingest.references.unresolved_references", _boom)
    references = set()
    for _ in range(3):
        result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "check"])
        match = ONE_LINE.match(result.stderr.strip())
        assert match is not None
        references.add(match["reference"])
    assert len(references) == 3
    logged = (state_home / "servicepulse" / "errors.log").read_text()
    assert all(f"reference {reference}" in logged for reference in references)


def test_an_unwritable_log_place_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            ) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, so no directory can be made under it")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))
    monkeypatch.setattr("servicepulse.ingest.references.unresolved_references", _boom)
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "check"])
    assert result.exit_code == 1
    match = ONE_LINE.match(result.stderr.strip())
    assert match is not None and Path(match["log"]).exists()
    assert match["reference"] in Path(match["log"]).read_text()


def test_usage_and_configuration_errors_keep_their_messages(
        tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'x.db'}"]
    missing = runner.invoke(app, [*db, "import", str(tmp_path / "missing.jsonl")])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    assert "reference" not in missing.output
    monkeypatch.setenv("SERVICEPULSE_MAX_DURATION_S", "-1")
    (tmp_path / "one.jsonl").write_text('{"type": "team", "id": "t", "name": "T"}\n')
    config = runner.invoke(app, [*db, "import", str(tmp_path / "one.jsonl")])
    assert config.exit_code == 2
    assert config.stderr.startswith("error: invalid configuration:\n  environment variable "
                                    "SERVICEPULSE_MAX_DURATION_S: max_duration_s = '-1'")
    assert "Fix the configuration (see docs/configuration.md)." in config.stderr
    assert not (state_home / "servicepulse" / "errors.log").exists()


def test_the_installed_command_shows_no_traceback(tmp_path: Path) -> None:
    """The real entry point, in its own process: a store that cannot be reached is one line
    (and the password of the URL is not written to the log)."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    result = subprocess.run(
        [sys.executable, "-m", "servicepulse", "--db",
         "postgresql+psycopg://someone:hunter2@127.0.0.1:1/nowhere", "check"],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    match = ONE_LINE.match(lines[0])
    assert match is not None and match["summary"].startswith("OperationalError: ")
    logged = Path(match["log"]).read_text()
    assert "Traceback (most recent call last):" in logged
    assert "someone:***@127.0.0.1" in logged and "hunter2" not in logged


@pytest.mark.parametrize(("error", "code"), [
    (InvalidRequest("--from 2026-13-01 is not a date: use YYYY-MM-DD"), 2),
    (NotFound("no team 't9'; `servicepulse kpi --by team` lists the teams"), 4),
    (Conflict("the review r1 is already submitted"), 5),
    (Unavailable("the mail server does not answer: try again later"), 6),
])
def test_a_domain_error_prints_its_message_and_exits_with_its_code(
        tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch,
        error: ServicePulseError, code: int) -> None:
    def raising(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("servicepulse.ingest.references.unresolved_references", raising)
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "check"])
    assert result.exit_code == code
    assert result.stderr == f"error: {error.args[0]}\n"
    assert not (state_home / "servicepulse" / "errors.log").exists()


# what is meant for the user raises a domain error: a KeyError, or a plain ValueError or
# LookupError, is a bug (exit 1 with a reference), never "invalid" (2) or "not found" (4)
@pytest.mark.parametrize(("error", "summary"), [
    (KeyError("csat"), "KeyError: 'csat'"),
    (ValueError("a value the user can fix"), "ValueError: a value the user can fix"),
    (LookupError("no thing 't1'"), "LookupError: no thing 't1'"),
])
def test_a_key_error_is_a_bug_not_a_not_found(tmp_path: Path, state_home: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              error: Exception, summary: str) -> None:
    def raising(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("servicepulse.ingest.references.unresolved_references", raising)
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "check"])
    assert result.exit_code == 1
    match = ONE_LINE.match(result.stderr.strip())
    assert match is not None and match["summary"] == summary
    assert match["reference"] in (state_home / "servicepulse" / "errors.log").read_text()


@pytest.mark.parametrize("arguments", [
    ["kpi", "--from", "2026-01-01", "--to", "2026-01-02", "--format", "csv"],  # sys.stdout
    ["quarantine", "list"],  # rich
    ["bench", "--help"],  # typer's help
])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path, arguments: list[str]) -> None:
    """`servicepulse ... | head`: the reader goes away before the output is written; that is no
    error to report (before, a one-line "error: BrokenPipeError" with a logged reference)."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    process = subprocess.Popen(
        [sys.executable, "-m", "servicepulse", "--db", f"sqlite:///{tmp_path / 'x.db'}",
         *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the command starts writing (its start takes 0.2 s+)
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1
    assert errors == ""
    assert not (tmp_path / "state" / "servicepulse" / "errors.log").exists()


# The commands catch the domain errors (or the library's error, turned into one where it is
# raised), never any ValueError: a bug stays a bug (exit 1, logged), bad input is said.

def test_a_store_url_that_is_no_url_is_a_usage_error(tmp_path: Path, state_home: Path) -> None:
    # SQLAlchemy's ArgumentError, an InvalidRequest from the store: once an unexpected error
    result = runner.invoke(app, ["--db", "no-such-thing", "check"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for --db: 'no-such-thing' is not a database URL: use" in " ".join(
        result.output.replace("│", " ").split())
    other = runner.invoke(app, ["--db", "mysql://someone@host/db", "check"])
    assert other.exit_code == 2
    assert "unsupported database URL" in other.output
    assert "reference" not in result.output + other.output
    assert not (state_home / "servicepulse" / "errors.log").exists()


def test_a_filter_the_kpi_query_refuses_is_said_in_words(tmp_path: Path,
                                                         state_home: Path) -> None:
    # pydantic's ValidationError, turned into an InvalidRequest where the query is built; the
    # command used to show the last line of pydantic's text: its documentation link
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "explain",
                                 "--kpi", "csat", "--from", "2026-03-01", "--to", "2026-03-08",
                                 "--by", "channel", "--filter", "bogus=1"])
    assert result.exit_code == 2, result.output
    words = " ".join(result.output.replace("│", " ").split())
    assert "filters: cannot filter on 'bogus': use agent, team, role, channel" in words
    assert "errors.pydantic.dev" not in words and "reference" not in words


def test_a_centre_the_simulator_cannot_make_is_a_usage_error(tmp_path: Path,
                                                             state_home: Path) -> None:
    result = runner.invoke(app, ["simulate", "--agents", "5", "--days", "2", "--out",
                                 str(tmp_path / "out.jsonl"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "agents: 5 is too few; the simulated centre needs at least 12" in " ".join(
        result.output.replace("│", " ").split())
    assert not (tmp_path / "out.jsonl").exists()


def test_an_empty_store_for_the_rollup_bench_is_an_invalid_request(
        tmp_path: Path, state_home: Path) -> None:
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "bench", "rollup"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        "error: the store holds no interactions: import some first")
    assert not (state_home / "servicepulse" / "errors.log").exists()
