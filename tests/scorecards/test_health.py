"""Customer health on tests/fixtures/scorecards/accounts.jsonl, worked by hand.

Window: 90 days up to 2026-03-05 (exclusive), so from 2025-12-05; the window before starts
2025-09-06.
K1: CSAT 1 of 4 answers top-two = 25% → −30 × (80 − 25) / 80 = −20.625; latest NPS 3 (an
    earlier 9) → −15; IK1-3 escalated and open → −10; IK1-2 and IK1-3 came within 7 days of
    the previous call → 2 repeats −10; 3 contacts against 0 before → −10; one return −10;
    bought in the window before, not in this one → −10. 100 − 85.625 = 14.375 → 14.4.
K2: CSAT 100%, NPS 10, bought in the window: 100, no reasons.
K3: churned on 2026-02-01: left out. K4: nothing in the window: not scored.
"""

from __future__ import annotations

from datetime import date

import orjson
from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.scorecards.health import customer_health
from tests.scorecards.builders import FIXTURES, load


def test_health_scores_and_reasons(store: Engine) -> None:
    lines = (FIXTURES / "accounts.jsonl").read_bytes().splitlines()
    load(store, [orjson.loads(line) for line in lines if line.strip()])
    document = customer_health(store, end=date(2026, 3, 5), settings=Settings())
    assert (document["from"], document["to"]) == ("2025-12-05", "2026-03-05")
    accounts = {account["customer"]: account for account in document["accounts"]}
    assert list(accounts) == ["K1", "K2"]  # lowest score first
    k1 = accounts["K1"]
    assert (k1["score"], k1["at_risk"]) == (14.4, True)
    assert k1["reasons"] == [
        "CSAT 25% on 4 answers (target 80%) −21",
        "latest NPS answer 3 (detractor) −15",
        "1 open escalation(s) −10",
        "2 repeat contact(s) −10",
        "contacts up from 0 to 3 −10",
        "1 return(s) or exchange(s) −10",
        "bought or renewed before, not in this window −10",
    ]
    assert (k1["revenue"], k1["open_escalations"], k1["csat_answers"]) == (-120.0, 1, 4)
    assert (accounts["K2"]["score"], accounts["K2"]["reasons"]) == (100.0, [])
    assert (document["at_risk"], document["churned_left_out"]) == (1, 1)
    one = customer_health(store, end=date(2026, 3, 5), customers=["K2"], settings=Settings())
    assert [a["customer"] for a in one["accounts"]] == ["K2"]
