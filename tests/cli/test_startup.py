"""Start-up costs nothing a command does not use (issue 16): importing the command line and
asking it for help load none of the heavy libraries. They load inside the commands that need
them; a module-level import of one of them in any `servicepulse.cli` module (or in what those
import) would make every command, and `--help`, pay for it. Checked by `sys.modules` in a fresh
interpreter, never by a clock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("pandas", "numpy", "scipy", "ibis", "sqlalchemy", "alembic", "duckdb", "pyarrow",
         "matplotlib", "weasyprint", "sklearn")

# Runs `code` in a fresh interpreter, then prints the heavy top-level packages it loaded
# (at exit, so that what `--help` loads while printing counts too).
PROBE = textwrap.dedent("""
    import atexit, json, sys
    heavy = {heavy!r}
    def report():
        loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set(heavy))
        sys.__stderr__.write("LOADED " + json.dumps(loaded) + "\\n")
    atexit.register(report)
    sys.argv = ["servicepulse", *{argv!r}]
    {code}
""")


def loaded_heavy(code: str, argv: list[str] | None = None) -> tuple[list[str], str]:
    """The heavy packages loaded by `code` (run with `argv`), and its stdout."""
    script = PROBE.format(heavy=HEAVY, argv=argv or [], code=code)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"})
    lines = [line for line in done.stderr.splitlines() if line.startswith("LOADED ")]
    assert lines, f"the probe did not finish: {done.stderr[-2000:]}"
    loaded: list[str] = json.loads(lines[-1].removeprefix("LOADED "))
    return loaded, done.stdout


def test_the_probe_sees_a_heavy_import() -> None:
    # the check can fail: a script that imports numpy is reported as loading it
    loaded, _ = loaded_heavy("import numpy")
    assert loaded == ["numpy"]


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    loaded, _ = loaded_heavy("import servicepulse.cli.main")
    assert loaded == []


RUN = "from servicepulse.cli.main import run\nrun()"


@pytest.mark.parametrize("argv", [
    ["--help"], ["kpi", "--help"], ["import", "--help"], ["scorecard", "--help"],
    ["drivers", "--help"], ["staffing", "--help"], ["verify", "--help"], ["bench", "--help"],
])
def test_help_loads_no_heavy_library(argv: list[str]) -> None:
    loaded, out = loaded_heavy(RUN, argv)
    assert "Usage: servicepulse" in out  # the help was printed, not an error
    assert loaded == []


def test_written_out_defaults_match_their_sources() -> None:
    # a default the command line writes out to avoid importing its module is the module's
    from servicepulse.cli import insights
    from servicepulse.insights import drivers

    assert insights.DEFAULT_MAX_TOPICS == drivers.DEFAULT_MAX_TOPICS == 25
