"""The interactions list's filters, order, state counts and scope, on the small web centre
(tests/fixtures/web/centre.jsonl) plus three records, on SQLite and on PostgreSQL.

Added to the fixture: i11, an email routed to team-a that nobody answered yet; i12, a phone
call nobody answered yet, in no team; and a customer message on i05 ("The zip on my jacket
broke", for the text search). Every expected list below is worked out by hand from the
fixture's lines:

| id  | channel | created (UTC) | agent (team) | state     | why                           |
|-----|---------|---------------|--------------|-----------|-------------------------------|
| i01 | phone   | 11-02 09:00   | a1 (team-a)  | resolved  | answered 10 s, resolved       |
| i02 | phone   | 11-02 10:00   | a1 (team-a)  | resolved  | answered 40 s, resolved       |
| i03 | phone   | 11-02 11:00   | –            | abandoned | abandoned, never answered     |
| i04 | phone   | 11-03 09:00   | –            | abandoned | abandoned after 3 s           |
| i05 | chat    | 11-03 12:00   | a2 (team-a)  | resolved  | answered 20 s, resolved       |
| i06 | email   | 11-04 08:00   | a2 (team-a)  | resolved  | replied after 1 h, resolved   |
| i07 | email   | 11-04 09:00   | b1 (team-b)  | open      | replied after 2 h, unresolved |
| i08 | chat    | 11-05 14:00   | b1 (team-b)  | resolved  | answered 5 s, resolved        |
| i09 | email ↗ | 11-05 15:00   | a1 (team-a)  | open      | outbound ("Your refund")      |
| i10 | social  | 11-06 10:00   | b1 (team-b)  | resolved  | replied after 10 min          |
| i11 | email   | 11-07 08:00   | – (team-a)   | waiting   | nothing happened yet          |
| i12 | phone   | 11-07 09:00   | –            | waiting   | nothing happened yet          |
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.ingest.sources import SourceRow
from servicepulse.web.app import create_app
from servicepulse.web.users import create_token, create_user
from tests.web.conftest import CENTRE, PASSWORD, WEEK, fake_kpi
from tests.web.module_stores import BACKENDS, module_store

EXTRA: list[dict[str, Any]] = [
    {"type": "interaction", "id": "i11", "channel": "email", "created_at": "2026-11-07T08:00:00Z",
     "customer_id": "c2", "team_id": "team-a", "subject": "Where is my order?"},
    {"type": "interaction", "id": "i12", "channel": "phone", "created_at": "2026-11-07T09:00:00Z",
     "customer_id": "c1", "queue": "phone-general"},
    {"type": "event", "id": "e05-1", "interaction_id": "i05", "at": "2026-11-03T12:00:30Z",
     "kind": "customer_message", "actor": "customer", "body": "The zip on my jacket broke"},
]
# The default order: newest first, the contacts still waiting (i11, i12) after the others.
DEFAULT_ORDER = ["i10", "i09", "i08", "i07", "i06", "i05", "i04", "i03", "i02", "i01",
                 "i12", "i11"]
ALL_STATES = {"waiting": 2, "open": 2, "resolved": 6, "abandoned": 2}


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The store and its app, built once per backend: the tests only read."""
    with module_store(request.param, tmp_path_factory) as engine:
        tokens = _load(engine)
        app = create_app(engine, kpi=fake_kpi, serve_stale=False, prewarm=False)
        with TestClient(app) as client:
            yield client, tokens


def _load(engine: Engine) -> dict[str, str]:
    summary = import_rows(engine, read_paths([CENTRE]))
    assert summary.quarantined == 0, summary.rejected
    extra = import_rows(engine, [SourceRow("test", n, record, str(record))
                                 for n, record in enumerate(EXTRA)])
    assert extra.quarantined == 0, extra.rejected
    create_user(engine, "manager", PASSWORD, "manager")
    create_user(engine, "lead", PASSWORD, "team_lead", team_ids=["team-a"])
    create_user(engine, "ann", PASSWORD, "agent", agent_id="a1")
    return {name: create_token(engine, name, "read") for name in ("manager", "lead", "ann")}


def _get(served: tuple[TestClient, dict[str, str]], who: str, path: str = "/api/v1/interactions",
         **params: str) -> Any:
    client, tokens = served
    return client.get(path, params=params, headers={"Authorization": f"Bearer {tokens[who]}"})


def _ids(served: tuple[TestClient, dict[str, str]], who: str = "manager",
         **params: str) -> list[str]:
    response = _get(served, who, **params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["rows"]), page["total"]
    return [row["id"] for row in page["rows"]]


def test_the_default_order_puts_waiting_contacts_after_the_others(
        served: tuple[TestClient, dict[str, str]]) -> None:
    page = _get(served, "manager").json()
    assert [row["id"] for row in page["rows"]] == DEFAULT_ORDER
    assert page["sort"] == "waiting_last"
    assert page["states"] == ALL_STATES and page["total"] == 12
    assert _ids(served, sort="newest") == ["i12", "i11", *DEFAULT_ORDER[:-2]]
    assert _ids(served, sort="oldest") == [*reversed(DEFAULT_ORDER[:-2]), "i11", "i12"]
    # the waiting ones alone: the longest wait first
    waiting = _get(served, "manager", state="waiting").json()
    assert [row["id"] for row in waiting["rows"]] == ["i11", "i12"]
    assert waiting["sort"] == "oldest"


def test_pages_of_every_size_join_into_the_whole_list(
        served: tuple[TestClient, dict[str, str]]) -> None:
    """The default order reads the others and the waiting contacts apart: a page may end in
    the first part, start in the second, or hold both."""
    whole = {(): DEFAULT_ORDER, (("state", "open,waiting"),): ["i09", "i07", "i12", "i11"],
             (("sort", "oldest"),): [*reversed(DEFAULT_ORDER[:-2]), "i11", "i12"]}
    for extra, expected in whole.items():
        for size in range(1, 14):
            joined: list[str] = []
            for number in range(1, -(-len(expected) // size) + 2):  # one page past the end
                page = _get(served, "manager", **dict(extra), page_size=str(size),
                            page=str(number)).json()
                assert page["total"] == len(expected)
                joined += [row["id"] for row in page["rows"]]
            assert joined == expected, (extra, size)


def test_each_filter_keeps_exactly_its_rows(served: tuple[TestClient, dict[str, str]]) -> None:
    expected: list[tuple[dict[str, str], list[str]]] = [
        ({"agent": "a1"}, ["i09", "i02", "i01"]),
        ({"agent": "a1,b1"}, ["i10", "i09", "i08", "i07", "i02", "i01"]),
        # a team's contacts: its agents' and those routed to it (i11)
        ({"team": "team-a"}, ["i09", "i06", "i05", "i02", "i01", "i11"]),
        ({"channel": "phone"}, ["i04", "i03", "i02", "i01", "i12"]),
        ({"channel": "email,social"}, ["i10", "i09", "i07", "i06", "i11"]),
        ({"state": "open"}, ["i09", "i07"]),
        ({"state": "abandoned"}, ["i04", "i03"]),
        ({"state": "resolved"}, ["i10", "i08", "i06", "i05", "i02", "i01"]),
        ({"state": "open,waiting"}, ["i09", "i07", "i12", "i11"]),
        # dates: created on 4 November; from alone: from that day on; to alone: before it
        ({"from": "2026-11-04", "to": "2026-11-05"}, ["i07", "i06"]),
        ({"from": "2026-11-06"}, ["i10", "i12", "i11"]),
        ({"to": "2026-11-03"}, ["i03", "i02", "i01"]),
        # text: subject, id or a message, in any case; LIKE wildcards are plain characters
        ({"q": "REFUND"}, ["i09"]),
        ({"q": "where is"}, ["i11"]),
        ({"q": "zip on my"}, ["i05"]),
        ({"q": "i1"}, ["i10", "i12", "i11"]),
        ({"q": "%"}, []),
        ({"q": "_"}, []),
        ({"q": "' OR '1'='1"}, []),
        # combined
        ({"team": "team-a", "state": "resolved", "channel": "phone"}, ["i02", "i01"]),
        ({"customer": "c1", "state": "waiting,abandoned"}, ["i04", "i12"]),
    ]
    for params, ids in expected:
        assert _ids(served, **params) == ids, params


def test_state_counts_follow_every_filter_but_the_state(
        served: tuple[TestClient, dict[str, str]]) -> None:
    page = _get(served, "manager", channel="phone", state="waiting").json()
    assert page["states"] == {"waiting": 1, "open": 0, "resolved": 2, "abandoned": 2}
    assert page["total"] == 1 and [row["id"] for row in page["rows"]] == ["i12"]
    assert [row["state"] for row in _get(served, "manager").json()["rows"]] == [
        "resolved", "open", "resolved", "open", "resolved", "resolved", "abandoned",
        "abandoned", "resolved", "resolved", "waiting", "waiting"]


def test_phone_rows_show_the_first_response_the_figure_counts(
        served: tuple[TestClient, dict[str, str]]) -> None:
    """FRT counts a phone or chat contact at its answer (they record no separate first
    response): the drill-down row shows that wait, not a blank."""
    rows = _get(served, "manager", kpi="frt", **WEEK).json()["rows"]
    assert {row["id"]: row["first_response_s"] for row in rows} == {
        "i10": 600.0, "i08": 5.0, "i07": 7200.0, "i06": 3600.0, "i05": 20.0, "i02": 40.0,
        "i01": 10.0}
    phone = _get(served, "manager", kpi="frt", channel="phone", **WEEK).json()["rows"]
    assert [(row["id"], row["first_response_s"]) for row in phone] == [("i02", 40.0),
                                                                       ("i01", 10.0)]


def test_an_agent_and_a_lead_see_only_their_own(
        served: tuple[TestClient, dict[str, str]]) -> None:
    assert _ids(served, "lead") == ["i09", "i06", "i05", "i02", "i01", "i11"]
    assert _get(served, "lead").json()["states"] == {
        "waiting": 1, "open": 1, "resolved": 4, "abandoned": 0}
    assert _ids(served, "lead", agent="a2") == ["i06", "i05"]
    assert _ids(served, "lead", q="i0") == ["i09", "i06", "i05", "i02", "i01"]
    assert _ids(served, "lead", state="waiting") == ["i11"]
    assert _ids(served, "ann") == ["i09", "i02", "i01"]
    assert _ids(served, "ann", team="team-a") == ["i09", "i02", "i01"]  # their own team
    assert _ids(served, "ann", state="waiting") == []
    assert _ids(served, "ann", customer="c1") == ["i01"]
    # a filter outside the scope is refused, never answered with an empty list
    for who, params in (("lead", {"agent": "b1"}), ("lead", {"team": "team-b"}),
                        ("ann", {"agent": "a2"}), ("ann", {"team": "team-b"})):
        for path in ("/api/v1/interactions", "/interactions"):
            response = _get(served, who, path, **params)
            assert response.status_code == 403, (who, params, path)


def test_wrong_values_say_what_to_use(served: tuple[TestClient, dict[str, str]]) -> None:
    state = _get(served, "manager", state="closed")
    assert state.status_code == 422
    assert state.json()["detail"] == ("state='closed' is not a state; use one or more of "
                                      "waiting, open, resolved, abandoned")
    sort = _get(served, "manager", sort="random")
    assert sort.status_code == 422
    assert sort.json()["detail"] == ("sort='random' is not an order; use one of "
                                     "waiting_last, newest, oldest")
    page = _get(served, "manager", "/interactions", state="closed")
    assert page.status_code == 422 and "is not a state" in page.text
    assert "Traceback" not in page.text


def test_the_csv_holds_the_same_rows(served: tuple[TestClient, dict[str, str]]) -> None:
    text = _get(served, "manager", state="resolved", channel="phone", format="csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["id"], row["state"], row["first_response_s"]) for row in rows] == [
        ("i02", "resolved", "40.0"), ("i01", "resolved", "10.0")]


def test_the_page_shows_the_filters_counts_and_rows(
        served: tuple[TestClient, dict[str, str]]) -> None:
    page = _get(served, "lead", "/interactions", state="resolved").text
    assert re.findall(r'<tr data-id="(i\d+)"', page) == ["i06", "i05", "i02", "i01"]
    assert '<b id="total">4</b> interactions · showing 1–4' in page
    # i06's id, a link to its conversation and reviews; its creation, in the organisation's
    # time zone (UTC here)
    assert re.search(r'<tr data-id="i06"[^>]*><td><a href="/qa/review/i06"[^>]*>i06</a></td>'
                     r'<td class="nowrap">2026-11-04 08:00<', page)
    # the state counts, each a link; the agents offered: the lead's team only
    assert re.findall(r'data-state="(\w+)">\w+ <b>(\d+)</b>', page) == [
        ("waiting", "1"), ("open", "1"), ("resolved", "4"), ("abandoned", "0")]
    agents = page.split('<select name="agent">')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\w*)"', agents) == ["", "a1", "a2"]
    assert '<option value="resolved" selected>' in page
    # an agent has no agent or team choice to make
    own = _get(served, "ann", "/interactions").text
    assert '<select name="agent">' not in own and '<select name="team">' not in own
    assert re.findall(r'<tr data-id="(i\d+)"', own) == ["i09", "i02", "i01"]
    # each id links to the conversation's page, which the agent may open: theirs
    assert re.findall(r'<a href="/qa/review/(i\d+)"', own) == ["i09", "i02", "i01"]
    assert _get(served, "ann", "/qa/review/i01").status_code == 200
