"""Settings are loaded once, by the program's starts, and passed in (issue 21).

`servicepulse.config.load_settings` reads the configuration file; only the composition roots
call it: the command line's context object (cli/context.py) and the web app factory
(web/app.py, with web/server.py, uvicorn's entry point, which hands its settings to it).
Everything else is given the settings. The scan below fails on any other module that imports
or calls it; the other tests follow one setting from the file to a KPI figure.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.main import app as cli
from servicepulse.config import Settings, load_settings
from servicepulse.ingest import hooks
from servicepulse.kpi.settings import KpiSettings, kpi_settings
from servicepulse.web.app import create_app
from servicepulse.web.users import create_token, create_user
from tests.kpi.helpers import load

SRC = Path(__file__).parent.parent / "src" / "servicepulse"
ROOTS = {"cli/context.py", "web/app.py", "web/server.py"}
CONFIG_MODULE = "servicepulse.config"


def settings_loads(source: str) -> list[int]:
    """Lines of `source` that import `load_settings` from servicepulse.config (under any
    name, at any depth) or reach it through the module (`config.load_settings`)."""
    tree = ast.parse(source)
    modules: set[str] = set()  # names bound to servicepulse.config itself
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == CONFIG_MODULE:
            lines += [node.lineno for alias in node.names if alias.name == "load_settings"]
        elif isinstance(node, ast.ImportFrom) and node.module == "servicepulse":
            modules |= {alias.asname or alias.name for alias in node.names
                        if alias.name == "config"}
        elif isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names
                        if alias.name == CONFIG_MODULE}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "load_settings":
            owner = ast.unparse(node.value)
            if owner in modules or owner == CONFIG_MODULE:
                lines.append(node.lineno)
    return sorted(lines)


def test_the_scan_finds_every_way_of_reaching_load_settings() -> None:
    assert settings_loads("from servicepulse.config import load_settings\n") == [1]
    assert settings_loads("def f():\n    from servicepulse.config import load_settings as l\n"
                          "    return l()\n") == [2]
    assert settings_loads("import servicepulse.config\nservicepulse.config.load_settings()\n"
                          ) == [2]
    assert settings_loads("from servicepulse import config as c\nc.load_settings()\n") == [2]
    # the connectors' settings files are another thing of the same name
    assert settings_loads("from servicepulse.ingest.connectors.base import load_settings\n"
                          "load_settings(None)\n") == []


def test_only_the_composition_roots_load_the_settings() -> None:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative == "config.py":
            continue
        lines = settings_loads(path.read_text(encoding="utf-8"))
        if lines:
            found[relative] = lines
    outside = {name: lines for name, lines in found.items() if name not in ROOTS}
    assert outside == {}, ("load_settings() outside the program's starts: take the settings "
                           f"as an argument or from the context instead: {outside}")
    assert set(found) == ROOTS  # and the starts do load them


def test_kpi_settings_of_none_are_the_documented_defaults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a configuration file in reach changes nothing: kpi_settings never reads it
    (tmp_path / "servicepulse.toml").write_text('timezone = "Asia/Tokyo"\nminimum_sample = 3\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(tmp_path / "servicepulse.toml"))
    assert kpi_settings(None) == KpiSettings()
    assert (kpi_settings(None).timezone, kpi_settings(None).minimum_sample) == ("UTC", 30)


def test_kpi_settings_map_each_field_of_the_configuration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SERVICEPULSE_"):
            monkeypatch.delenv(name)
    config = tmp_path / "servicepulse.toml"
    config.write_text("""
timezone = "Europe/Berlin"
repeat_window_days = 3
short_abandon_s = 8
service_level_formula = "answered_only"
minimum_sample = 12
gross_margin = 0.4
cltv_horizon_months = 24
default_window_days = 14
[service_level_threshold_s]
phone = 15
email = 3600
[frt_target_s]
chat = 45
[default_hourly_cost]
manager = 50
""")
    mapped = kpi_settings(load_settings(config))
    assert mapped == KpiSettings(
        timezone="Europe/Berlin", repeat_window_days=3.0, short_abandon_s=8.0,
        service_level_thresholds={"phone": 15.0, "chat": 30.0, "email": 3600.0},
        service_level_formula="answered_only", minimum_sample=12, gross_margin=0.4,
        cltv_horizon_months=24.0,
        frt_targets={"phone": 20.0, "chat": 45.0, "email": 86_400.0, "social": 3_600.0},
        hourly_costs={**KpiSettings().hourly_costs, "manager": 50.0},
        default_window_days=14)


# Eight answered calls in March 2026, answered after these waits (seconds); no abandons, so
# every service-level formula is (answered within the threshold) / 8.
WAITS = (5, 12, 15, 18, 25, 28, 40, 60)
START = datetime(2026, 3, 2, 9, tzinfo=UTC)
MARCH = ("2026-03-01", "2026-04-01")


def _calls() -> Iterator[dict[str, object]]:
    for number, wait in enumerate(WAITS):
        created = START + timedelta(minutes=number)
        yield {"type": "interaction", "id": f"call{number}", "channel": "phone",
               "created_at": created.isoformat(),
               "answered_at": (created + timedelta(seconds=wait)).isoformat()}


@pytest.fixture
def calls_store(sqlite_store: Engine, tmp_path: Path) -> Engine:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in _calls()))
    load(sqlite_store, path)
    return sqlite_store


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.upper().startswith("SERVICEPULSE_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no servicepulse.toml here
    return work


def _service_level(store: Engine, *options: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, [*options, "--db", str(store.url), "kpi", "--kpi",
                                      "service_level", "--from", MARCH[0], "--to", MARCH[1],
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    figure: dict[str, object] = json.loads(result.stdout)["rows"][0]["kpis"]["service_level"]
    return figure


def test_a_setting_in_the_file_reaches_the_kpi_engine_through_the_command_line(
        calls_store: Engine, clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # defaults: phone within 20 s -> 5, 12, 15, 18 s: 4 / 8 = 50 %; below the minimum
    # sample of 30
    figure = _service_level(calls_store)
    assert (figure["value"], figure["n"], figure["low_sample"]) == (50.0, 8, True)
    config = clean_environment / "servicepulse.toml"
    config.write_text("minimum_sample = 8\n[service_level_threshold_s]\nphone = 30\n")
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(config))
    # within 30 s: 25 and 28 s as well, 6 / 8 = 75 %; 8 answers reach the minimum sample
    figure = _service_level(calls_store)
    assert (figure["value"], figure["n"], figure["low_sample"]) == (75.0, 8, False)
    # the file in the working directory, when no variable names one: within 10 s, 1 / 8
    monkeypatch.delenv("SERVICEPULSE_CONFIG")
    (clean_environment / "servicepulse.toml").write_text(
        "[service_level_threshold_s]\nphone = 10\n")
    assert _service_level(calls_store)["value"] == 12.5


def test_the_app_loads_its_settings_once_at_its_start(
        calls_store: Engine, clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = clean_environment / "servicepulse.toml"
    config.write_text("[service_level_threshold_s]\nphone = 30\n")
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(config))
    create_user(calls_store, "boss", "correct horse battery", "admin")
    headers = {"Authorization": f"Bearer {create_token(calls_store, 'boss', 'read')}"}
    query = f"/api/v1/kpi?kpi=service_level&from={MARCH[0]}&to={MARCH[1]}"
    app = create_app(calls_store, serve_stale=False, prewarm=False)
    # the import hooks read the settings the app loaded
    assert hooks.settings().service_level_threshold_s.as_dict() == {"phone": 30, "chat": 30}
    with TestClient(app) as client:
        answer = client.get(query, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"][0]["kpis"]["service_level"]["value"] == 75.0  # 6 / 8
        # the file changes under a running app: it goes on with what it loaded
        config.write_text("[service_level_threshold_s]\nphone = 10\n")
        client.app.state.services.cache.clear()  # type: ignore[attr-defined]
        again = client.get(query, headers=headers)
        assert again.json()["rows"][0]["kpis"]["service_level"]["value"] == 75.0
    # a new start reads it again (1 / 8 within 10 s); settings given are used as they are
    with TestClient(create_app(calls_store, serve_stale=False, prewarm=False)) as client:
        answer = client.get(query, headers=headers)
        assert answer.json()["rows"][0]["kpis"]["service_level"]["value"] == 12.5
    given = Settings(service_level_threshold_s={"phone": 16})  # 5, 12, 15 s: 3 / 8
    with TestClient(create_app(calls_store, serve_stale=False, prewarm=False,
                               settings=given)) as client:
        answer = client.get(query, headers=headers)
        assert answer.json()["rows"][0]["kpis"]["service_level"]["value"] == 37.5


def test_the_import_hooks_build_the_rollup_with_the_commands_settings(
        sqlite_store: Engine, clean_environment: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the hooks that follow an import are handed the settings the command loaded (through
    # the composition root): the rollup is kept in the configured time zone
    from sqlalchemy import text

    path = tmp_path / "calls.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in _calls()))
    config = clean_environment / "servicepulse.toml"
    config.write_text('timezone = "America/New_York"\n')
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(config))
    result = CliRunner().invoke(cli, ["--db", str(sqlite_store.url), "import", str(path)])
    assert result.exit_code == 0, result.output
    with sqlite_store.connect() as connection:
        zones = set(connection.execute(text(
            "SELECT DISTINCT timezone FROM kpi_daily_sums_packed")).scalars())
    assert zones == {"America/New_York"}
    # and a command's figures are in that zone: 2 March 09:00-09:07 UTC is 2 March 04:00 in
    # New York
    answer = CliRunner().invoke(cli, ["--db", str(sqlite_store.url), "kpi", "--kpi", "contacts",
                                      "--by", "channel", "--period", "day", "--from",
                                      "2026-03-02", "--to", "2026-03-03", "--format", "json"])
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    assert document["timezone"] == "America/New_York"
    assert [(row["group"], row["kpis"]["contacts"]["value"]) for row in document["rows"]] == [
        ({"channel": "phone", "period": "2026-03-02"}, 8)]
