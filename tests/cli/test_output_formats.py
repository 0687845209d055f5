"""Every command prints a table (or a sentence) by default and JSON with `--format json`;
`import` names its source with `--format` and its summary with `--output`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from servicepulse.cli.main import app

runner = CliRunner(env={"COLUMNS": "120"})

# Commands without an output format, and what they print instead.
WITHOUT_FORMAT = {
    "init": "a sentence (migrated / up to date)",
    "schema": "the records' JSON Schema: the document itself",
    "demo": "the simulated centre's table, then serves",
    "serve": "a web server",
    "simulate": "writes records to a file; a summary table",
    "report": "writes an HTML or PDF file",
    "quarantine retry": "a sentence", "quarantine drop": "a sentence",
    "user add": "a sentence", "user password": "a sentence", "user disable": "a sentence",
    "user enable": "a sentence", "user delete": "a sentence",
    "token create": "the token", "token revoke": "a sentence",
    "alerts add": "a sentence", "alerts remove": "a sentence",
}
# --format names a file format here, not what is printed.
FILE_FORMATS = {"import": None, "export": "parquet"}


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield " ".join(path), command


def test_every_command_prints_a_table_by_default() -> None:
    formats: dict[str, Any] = {}
    for name, command in _commands(get_command(app)):
        if name.startswith("bench ") and name != "bench scorecards":
            continue  # benchmarks print their report for BENCHMARKS.md
        options = [p for p in command.params if "--format" in getattr(p, "opts", [])]
        formats[name] = options[0].default if options else None
        if not options:
            assert name in WITHOUT_FORMAT, f"`{name}` has no --format: table|json"
        elif name in FILE_FORMATS:
            assert formats[name] == FILE_FORMATS[name]
        else:
            assert formats[name] == "table", name
    assert set(WITHOUT_FORMAT) <= set(formats)  # the list names real commands
    output = next(p for p in dict(_commands(get_command(app)))["import"].params
                  if "--output" in p.opts)
    assert output.default is None  # table unless --output json (or the old --format json)


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--db", f"sqlite:///{tmp_path / 'alerts.db'}"]


def test_alerts_run_prints_a_table_and_json_on_request(db: list[str]) -> None:
    table = runner.invoke(app, [*db, "alerts", "run", "--date", "2026-03-09"])
    assert table.exit_code == 0, table.output
    lines = [" ".join(line.replace("│", " ").split()) for line in table.stdout.splitlines()]
    assert lines[0].startswith("Alert check at ")
    assert "rules checked 0" in lines and "fired none" in lines
    assert "no alert rules to check: add one with `servicepulse alerts add` " \
           "(see docs/scorecards.md)" in lines
    as_json = runner.invoke(app, [*db, "alerts", "run", "--date", "2026-03-09", "--format",
                                  "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == {"checked": 0, "fired": [], "recovered": [],
                                          "delivered": 0, "failed": 0, "errors": []}
    bad = runner.invoke(app, [*db, "alerts", "run", "--interval", "soon"])
    assert bad.exit_code == 2
    assert "interval 'soon' is not understood: write 15m, 30m, 1h or seconds" in \
        " ".join(bad.output.replace("│", " ").split())
