"""`servicepulse bench workforce` compares with pyworkforce, a development dependency: without
it the command says how to install it (exit 6, a service unavailable), never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servicepulse.cli.main import app


def test_without_pyworkforce_the_benchmark_says_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setitem(sys.modules, "pyworkforce", None)  # not importable, as without [dev]
    result = CliRunner().invoke(app, ["bench", "workforce", "--runs", "3"])
    assert result.exit_code == 6
    assert result.stderr == (
        "error: the workforce benchmark compares with pyworkforce, a development dependency "
        "that is not installed: install the dev extra (`make install`, or "
        "`pip install -e '.[dev]'`) and run `servicepulse bench workforce` again\n")
    assert not (tmp_path / "state").exists()  # an expected error: nothing logged
