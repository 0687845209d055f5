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
from pathlib import Path

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


# --- one command built, not sixty -----------------------------------------------------------

def test_a_run_builds_only_the_command_it_names() -> None:
    from servicepulse.cli.main import app, app_for

    for argv in (["kpi", "--by", "team"], ["--db", "sqlite:///x.db", "kpi"],
                 ["--db=sqlite:///x.db", "kpi", "--help"]):
        only = app_for(argv)
        assert [info.name for info in only.registered_commands] == ["kpi"], argv
        assert only.registered_groups == []
    staffing = app_for(["staffing", "plan"])
    assert staffing.registered_commands == []
    assert [info.name for info in staffing.registered_groups] == ["staffing"]
    for argv in ([], ["--help"], ["kpii"], ["--db", "sqlite:///x.db"], ["--version", "kpi"]):
        assert app_for(argv) is app, argv  # the whole list, the usual "no such command"
    assert len(app.registered_commands) > 1  # the app itself is left whole


def test_each_command_answers_as_in_the_whole_app() -> None:
    from typer.testing import CliRunner

    from servicepulse.cli.main import app, app_for

    runner = CliRunner()
    names = [info.name for info in (*app.registered_commands, *app.registered_groups)]
    assert len(names) == len(set(names)) > 20
    for name in names:
        assert name is not None
        whole = runner.invoke(app, [name, "--help"], terminal_width=100)
        alone = runner.invoke(app_for([name, "--help"]), [name, "--help"], terminal_width=100)
        assert whole.exit_code == alone.exit_code == 0, name
        assert alone.output == whole.output, name
    # a usage error of a command reads the same too
    whole = runner.invoke(app, ["kpi", "--period"])
    alone = runner.invoke(app_for(["kpi", "--period"]), ["kpi", "--period"])
    assert whole.exit_code == alone.exit_code == 2
    assert alone.output == whole.output


def test_the_command_line_start_composes_the_program(tmp_path: Path) -> None:
    # servicepulse.composition.compose() names the hooks' installer at the start of every
    # command (issue 21: one composition root), before anything could import: no fallback
    probe = textwrap.dedent(f"""
        import sys
        from servicepulse.cli.main import run
        from servicepulse.composition import register_hooks
        from servicepulse.ingest import hooks
        print(hooks._installers == [])
        sys.argv = ["servicepulse", "--db", "sqlite:///{tmp_path / 'store.db'}", "check"]
        try:
            run()
        except SystemExit:
            pass
        print(hooks._installers == [register_hooks])
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.splitlines()[0] == "True", done.stderr
    assert done.stdout.splitlines()[-1] == "True", done.stderr
