"""Customer health on tests/fixtures/scorecards/accounts.jsonl, worked by hand.

Window: 90 days (asked) up to 2026-03-05 (exclusive), so from 2025-12-05; the window before
starts 2025-09-06. The fixture's first interaction is on 2026-03-01: the window before holds
no contact history, so there is no contact trend (`history` false, no "up from 0").
K1: CSAT 1 of 4 answers top-two = 25% → −30 × (80 − 25) / 80 = −20.625; latest NPS 3 (an
    earlier 9) → −15; IK1-3 escalated and open → −10; IK1-2 and IK1-3 came within 7 days of
    the previous call → 2 repeats −10; one return −10; bought in the window before, not in
    this one → −10. 100 − 75.625 = 24.375 → 24.4.
K2: CSAT 100%, NPS 10, bought in the window: 100, no reasons.
K3: churned on 2026-02-01: left out. K4: nothing in the window: not scored.

With one more interaction of K4 on 2025-09-01 (before the earlier window's start), the data
covers the window before whole: K1's 3 contacts against 0 before are a surge (−10: 14.4), and
K4 (nothing in the window) is still not scored.
"""

from __future__ import annotations

from datetime import date

import orjson
from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.scorecards.health import customer_health
from tests.scorecards.builders import FIXTURES, load

K1_REASONS = [
    "CSAT 25% on 4 answers (target 80%) −21",
    "latest NPS answer 3 (detractor) −15",
    "1 open escalation(s) −10",
    "2 repeat contact(s) −10",
    "1 return(s) or exchange(s) −10",
    "bought or renewed before, not in this window −10",
]


def _load_fixture(store: Engine) -> None:
    lines = (FIXTURES / "accounts.jsonl").read_bytes().splitlines()
    load(store, [orjson.loads(line) for line in lines if line.strip()])


def test_health_scores_and_reasons(store: Engine) -> None:
    _load_fixture(store)
    document = customer_health(store, end=date(2026, 3, 5), settings=Settings(),
                               window_days=90)
    assert (document["from"], document["to"]) == ("2025-12-05", "2026-03-05")
    assert document["history"] is False
    assert "no contacts before 2026-03-01" in document["history_note"]
    accounts = {account["customer"]: account for account in document["accounts"]}
    assert list(accounts) == ["K1", "K2"]  # lowest score first
    k1 = accounts["K1"]
    assert (k1["score"], k1["at_risk"]) == (24.4, True)
    # plain Python values: `health --format json` wrote numpy's booleans as "True"
    assert k1["at_risk"] is True and type(k1["score"]) is float
    assert k1["reasons"] == K1_REASONS
    assert all("up from" not in reason for a in accounts.values() for reason in a["reasons"])
    assert (k1["contacts"], k1["contacts_before"]) == (3, None)
    assert (k1["revenue"], k1["open_escalations"], k1["csat_answers"]) == (-120.0, 1, 4)
    assert (accounts["K2"]["score"], accounts["K2"]["reasons"]) == (100.0, [])
    assert (document["at_risk"], document["churned_left_out"]) == (1, 1)
    one = customer_health(store, end=date(2026, 3, 5), customers=["K2"], settings=Settings(),
                          window_days=90)
    assert [a["customer"] for a in one["accounts"]] == ["K2"]


def test_health_compares_contacts_when_the_window_before_is_covered(store: Engine) -> None:
    _load_fixture(store)
    load(store, [{"type": "interaction", "id": "IK4-old", "channel": "email",
                  "created_at": "2025-09-01T09:00:00Z", "customer_id": "K4"}])
    document = customer_health(store, end=date(2026, 3, 5), settings=Settings(),
                               window_days=90)
    assert (document["history"], document["history_note"]) == (True, None)
    accounts = {account["customer"]: account for account in document["accounts"]}
    assert list(accounts) == ["K1", "K2"]
    k1 = accounts["K1"]
    assert (k1["contacts"], k1["contacts_before"], k1["score"]) == (3, 0, 14.4)
    assert k1["reasons"] == [*K1_REASONS[:4], "contacts up from 0 to 3 −10", *K1_REASONS[4:]]


def test_health_default_window_is_the_setting_and_ends_before_the_last_day(
        store: Engine) -> None:
    """The last interaction is on 2026-03-03 (IK1-3): the default window ends there
    (exclusive: that day is covered only up to its last record) and is default_window_days
    long (7 here): 2026-02-24 to 2026-03-03."""
    _load_fixture(store)
    document = customer_health(store, settings=Settings(default_window_days=7))
    assert (document["from"], document["to"], document["window_days"]) == (
        "2026-02-24", "2026-03-03", 7)


def test_health_command_says_why_there_is_no_contact_trend(store: Engine) -> None:
    from typer.testing import CliRunner

    from servicepulse.cli.main import app

    _load_fixture(store)
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, [
        "--db", store.url.render_as_string(hide_password=False), "health", "--to",
        "2026-03-05"])
    assert result.exit_code == 0, result.output
    assert "(exclusive)" in result.output
    assert "No contact trend: the data holds no contacts before 2026-03-01" in result.output


def test_health_judges_csat_by_the_configured_target(store: Engine) -> None:
    """[targets] csat = 50: K1's 25% falls 25 points short of 50, a relative shortfall of
    1/2, so 30 × 1/2 = 15 in place of 30 × 55/80 = 20.625; the others stay (55 in all):
    100 − 15 − 55 = 30.0."""
    _load_fixture(store)
    document = customer_health(store, end=date(2026, 3, 5),
                               settings=Settings(targets={"csat": 50}), window_days=90)
    k1 = next(a for a in document["accounts"] if a["customer"] == "K1")
    assert k1["score"] == 30.0
    assert k1["reasons"] == ["CSAT 25% on 4 answers (target 50%) −15", *K1_REASONS[1:]]
