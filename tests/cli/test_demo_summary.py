"""The demo's per-agent table: first response judged within each channel's own target and
every value in its unit (it printed one median over calls and emails, in raw seconds)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from servicepulse.cli.demo_summary import print_agent_summary
from tests.kpi.helpers import KPI_FIXTURES, load


def test_first_response_within_target_per_agent(sqlite_store: Engine, tmp_path: Path) -> None:
    # tests/kpi/test_frt_channels.py works these out by hand: a1 4 of 6 within (phone, chat),
    # a2 3 of 5 (email, social), a3 only sms, which has no target
    load(sqlite_store, KPI_FIXTURES / "frt_channels.jsonl")
    console = Console(width=120, record=True, color_system=None)
    print_agent_summary(sqlite_store, console)
    text = console.export_text()
    lines = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
             for line in text.splitlines() if line.startswith("│")}
    assert "FRT in target" in text
    assert lines["a1"][:1] == ["6"]  # p1 p2 c1–c4
    assert lines["a1"][4] == "66.7%"
    assert lines["a2"][4] == "60.0%"
    assert lines["a3"][4] == "–"
    assert "(unassigned)" in lines
