"""Coaching report and team digest on the hand-computed team; HTML and PDF."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from servicepulse.kpi.results import KpiFigure
from servicepulse.scorecards.coaching import coaching_data, compare_with_team, write_report
from servicepulse.scorecards.scorecard import Context


def test_gaps_only_where_significant_with_their_sources(team_store: Engine,
                                                        team_context: Context) -> None:
    data = coaching_data(team_store, "A2", context=team_context)
    gaps = {gap["kpi"]: gap for gap in data["gaps"]}
    # CSAT 20/40 against the rest of the team's (36 + 32 + 30 + 12) / 132 = 83.3%: significant
    assert set(gaps) == {"csat", "fcr"}
    assert gaps["csat"]["versus"] == "the rest of the team's 83.3%"
    # FCR 40/80 against (36 + 36 + 28 + 36) / 162 = 84.0%
    assert gaps["fcr"]["versus"] == "the rest of the team's 84.0%"
    # every call is phone and without category: the gap comes from channel phone
    assert [(s["dimension"], s["segment"]) for s in gaps["csat"]["sources"]] == [
        ("channel", "phone")]
    assert data["strengths"] == []  # first response is the same for everyone (10 s)
    # the lowest-rated answers with their comments, lowest first
    assert len(data["examples"]) == 5
    assert {e["score"] for e in data["examples"]} == {2.0}
    assert data["examples"][0]["comment"].startswith("Slow and unhelpful (A2")
    assert data["focus"][0].startswith("Customer satisfaction: 50.0% against the rest of the "
                                       "team's 83.3% (n = 40); mostly in channel phone (50.0% "
                                       "against the team's 75.6% on 40)")  # 130/172
    # A1: CSAT 36/40 = 90% against the rest's 94/132 = 71.2%: pooled z = 0.188 / 0.0775 = 2.4;
    # FCR 36/40 against 140/202 = 69.3%: z = 0.207 / 0.0771 = 2.7: both significant strengths
    a1 = coaching_data(team_store, "A1", context=team_context)
    assert [(s["kpi"], s["versus"]) for s in a1["strengths"]] == [
        ("csat", "the rest of the team's 71.2%"), ("fcr", "the rest of the team's 69.3%")]
    assert a1["gaps"] == []


def test_compare_with_team_needs_significance() -> None:
    # 21/30 = 70% against a team of 220/300 (rest 199/270 = 73.7%): not significant
    result = compare_with_team("csat", KpiFigure(70.0, 30), KpiFigure(73.3333, 300))
    assert result is not None and result["significant"] is False
    # means: 200 ± 1.96·10 against 300 ± 1.96·10: z = 100 / 14.1 → significant
    result = compare_with_team("ttr", KpiFigure(200.0, 40, (180.4, 219.6)),
                               KpiFigure(300.0, 400, (280.4, 319.6)))
    assert result is not None and result["significant"] is True
    # in units, never raw seconds: 200 s and 300 s
    assert (result["value_text"], result["versus"]) == ("3.3 min", "the team's 5.0 min")


def test_reports_as_html_and_pdf(team_store: Engine, team_context: Context,
                                tmp_path: Path) -> None:
    html = tmp_path / "a2.html"
    write_report(team_store, "agent", "A2", html, context=team_context)
    text = html.read_text()
    assert "Coaching report: Agent A2 (A2)" in text
    assert "busy not effective" in text and "handled 80 contacts" in text
    assert "Slow and unhelpful (A2" in text
    assert text.count("data:image/png;base64,") == 2  # attainment and trend charts
    pdf = tmp_path / "t1.pdf"
    write_report(team_store, "team", "T1", pdf, context=team_context)
    content = pdf.read_bytes()
    assert content.startswith(b"%PDF-") and len(content) > 20_000
