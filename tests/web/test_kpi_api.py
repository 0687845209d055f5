"""The KPI API against hand-computed numbers of the fixture centre, drill-downs listing exactly
the interactions behind each number, and injection attempts in filters."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from servicepulse.store.tables import interactions
from tests.web.conftest import WEEK, Tokens

# Hand computation over tests/fixtures/web/centre.jsonl, week 2026-11-02 .. 2026-11-09:
# - contacts: i01..i10 = 10.
# - frt (inbound, phone/chat: answered − created, else first response − created):
#   i01 10 s, i02 40, i05 20, i08 5, i06 3600, i07 7200, i10 600 -> n 7, median 40 s.
# - abandon_rate (inbound phone/chat offered, the 3 s abandon i04 is a short abandon and counts
#   in neither): i01 i02 i03 i05 i08 -> 1 abandoned (i03) of 5 = 20%.
# - service_level: answered within 20 s (phone) / 30 s (chat): i01, i05, i08 = 3; over answered
#   (i01 i02 i05 i08) + abandoned after the short threshold (i03) = 5 -> 60%.
# - csat: answers 5, 4, 2, 5, 3 -> top two (4-5) 3 of 5 = 60%.
EXPECTED = {"contacts": (10, 10), "frt": (40, 7), "abandon_rate": (20, 5),
            "service_level": (60, 5), "csat": (60, 5)}
DRILLED = {
    "contacts": {"i01", "i02", "i03", "i04", "i05", "i06", "i07", "i08", "i09", "i10"},
    "frt": {"i01", "i02", "i05", "i06", "i07", "i08", "i10"},
    "abandon_rate": {"i01", "i02", "i03", "i05", "i08"},
    "service_level": {"i01", "i02", "i03", "i05", "i08"},
    "csat": {"i01", "i02", "i05", "i06", "i08"},
}


def _ids(client: TestClient, tokens: Tokens, **params: str) -> set[str]:
    response = client.get("/api/v1/interactions", params={**WEEK, **params},
                          headers=tokens.header("manager"))
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["rows"])
    return {row["id"] for row in page["rows"]}


def test_kpis_and_their_drill_downs(engine_client: TestClient, tokens: Tokens) -> None:
    document = engine_client.get(
        "/api/v1/kpi", params={**WEEK, "kpi": ",".join(EXPECTED)},
        headers=tokens.header("manager")).json()
    assert document["from"] == WEEK["from"] and document["to"] == WEEK["to"]
    kpis = document["rows"][0]["kpis"]
    for name, (value, n) in EXPECTED.items():
        assert (round(kpis[name]["value"], 6), kpis[name]["n"]) == (value, n), name
        drilled = _ids(engine_client, tokens, kpi=name)
        assert drilled == DRILLED[name], name
        # service level's n counts answered + abandoned-after-short; everything else lists
        # exactly the n interactions behind the number (csat: the answers' interactions)
        assert len(drilled) == n, name


def test_drill_down_keeps_filters(client: TestClient, tokens: Tokens) -> None:
    assert _ids(client, tokens, kpi="csat", agent="a1") == {"i01", "i02"}
    assert _ids(client, tokens, kpi="frt", channel="email,social") == {"i06", "i07", "i10"}
    assert _ids(client, tokens, kpi="contacts", team="team-b") == {"i07", "i08", "i10"}
    assert _ids(client, tokens, kpi="contacts", segment="business") == {"i01", "i04", "i07"}
    # time to resolution counts at resolved_at: only i01 and i02 resolved on 2 November
    assert _ids(client, tokens, kpi="ttr", **{"from": "2026-11-02", "to": "2026-11-03"}) == {
        "i01", "i02"}
    # backlog: open (not resolved, not abandoned) at the end of the week
    assert _ids(client, tokens, kpi="backlog") == {"i07", "i09"}
    unknown = client.get("/api/v1/interactions", params={"kpi": "occupancy"},
                         headers=tokens.header("manager"))
    assert unknown.status_code == 422
    assert "no interaction drill-down" in unknown.json()["detail"]


def test_overview_tiles_show_the_kpi_api_numbers(engine_client: TestClient,
                                                 tokens: Tokens) -> None:
    overview = engine_client.get("/api/v1/overview", params=WEEK,
                                 headers=tokens.header("manager")).json()
    tiles = {tile["cell"]["name"]: tile for tile in overview["tiles"]}
    assert tiles["contacts"]["cell"]["value"] == 10
    assert tiles["csat"]["cell"]["value"] == 60
    assert tiles["csat"]["cell"]["status"] == "missed"  # target 80%
    assert tiles["csat"]["cell"]["text"] == "60.0%"
    assert tiles["abandon_rate"]["cell"]["status"] == "missed"  # 20% > 5%
    # the previous week has no data: no change to show
    assert tiles["contacts"]["previous"]["value"] in (0, None)
    # one sparkline point a day over the 7 days
    assert overview["spark_labels"][0] == "2026-11-02" and len(overview["spark_labels"]) == 7
    assert tiles["contacts"]["sparkline"][:2] == [3, 2]  # i01-i03 on the 2nd, i04-i05 the 3rd


def test_injection_attempts_in_filters_are_harmless(client: TestClient, tokens: Tokens,
                                                    centre: tuple[Engine, Tokens]) -> None:
    attempts = ["a1' OR '1'='1", "a1\" OR 1=1 --", "x'); DROP TABLE interactions; --",
                "%", "_", "zz,b1' UNION SELECT * FROM web_users --"]
    for value in attempts:
        for dimension in ("agent", "team", "channel", "queue", "segment", "role"):
            response = client.get("/api/v1/interactions", params={dimension: value},
                                  headers=tokens.header("manager"))
            assert response.status_code == 200, (dimension, value)
            assert response.json()["total"] == 0, (dimension, value)
        response = client.get("/api/v1/customers", params={"q": value},
                              headers=tokens.header("manager"))
        assert response.status_code == 200
        assert response.json()["total"] == 0, value  # LIKE wildcards are escaped too
        kpi = client.get("/api/v1/kpi", params={"agent": value},
                         headers=tokens.header("manager"))
        assert kpi.status_code == 200
    # an agent cannot widen their scope with a crafted filter
    sneaky = client.get("/api/v1/kpi", params={"agent": "a1' OR '1'='1"},
                        headers=tokens.header("agent"))
    assert sneaky.status_code == 403
    bad_by = client.get("/api/v1/kpi", params={"by": "agent; DROP TABLE agents"},
                        headers=tokens.header("manager"))
    assert bad_by.status_code == 422
    with centre[0].connect() as connection:
        assert connection.execute(select(func.count()).select_from(interactions)).scalar() == 10
    assert client.get("/api/v1/customers", params={"q": "dana"},
                      headers=tokens.header("manager")).json()["total"] == 1


def test_windows_out_of_range_are_422(client: TestClient, tokens: Tokens) -> None:
    manager = tokens.header("manager")
    # schemathesis found this one: the previous period of a window at year 1 overflowed
    early = client.get("/api/v1/overview", params={"from": "0001-01-02", "to": "0001-01-09"},
                       headers=manager)
    assert early.status_code == 422 and "between 1970" in early.json()["detail"]
    long = client.get("/api/v1/channels", params={"from": "2000-01-01", "to": "2026-01-01"},
                      headers=manager)
    assert long.status_code == 422 and "ten years" in long.json()["detail"]
    backwards = client.get("/api/v1/overview", params={"from": "2026-11-09", "to": "2026-11-02"},
                           headers=manager)
    assert backwards.status_code == 422 and "exclusive" in backwards.json()["detail"]
    assert client.get("/api/v1/kpi", params={"from": "9999-12-30"},
                      headers=manager).status_code == 422
