"""Quality reviews in the web service: forms, reviews (the import's checks, scope), sampling
into queues, calibration, and the review page, on the small centre of tests/web/conftest.py.

The centre's week: Ann a1 (team-a) i01, i02, i09; Bob a2 (team-a) i05, i06; Cat b1 (team-b)
i07, i08, i10. Users: admin, manager, lead (team-a), ann (agent a1), rita (reviewer, own
team team-b)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from servicepulse.store.tables import quarantine
from servicepulse.web.users import create_token
from tests.web.conftest import Tokens, login

# IQS by hand for tone 3/4, accuracy 4 on 1-5, resolution 1/1: percents 75, 75, 100 and
# weights 1, 3, 2: (75 + 225 + 200) / 6 = 83.33
FORM: dict[str, object] = {"id": "care", "name": "Customer care", "categories": [
    {"name": "tone", "weight": 1, "scale_max": 4},
    {"name": "accuracy", "weight": 3, "scale_min": 1, "scale_max": 5, "critical": True,
     "description": "The answer is right"},
    {"name": "resolution", "weight": 2, "scale_max": 1}]}
GOOD: dict[str, float] = {"tone": 3, "accuracy": 4, "resolution": 1}


def _form(client: TestClient, tokens: Tokens, form: dict[str, object] = FORM) -> None:
    response = client.post("/api/v1/qa/forms", json=form, headers=tokens.header("manager"))
    assert response.status_code == 201, response.text


def _review(client: TestClient, tokens: Tokens, who: str, interaction: str,
            scores: dict[str, float], **extra: object) -> dict[str, object]:
    response = client.post("/api/v1/qa/reviews", headers=tokens.header(who), json={
        "interaction_id": interaction, "form_id": extra.pop("form_id", "care"),
        "scores": scores, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_forms_are_made_by_managers_and_read_by_everyone(client: TestClient,
                                                         tokens: Tokens) -> None:
    for who in ("lead", "reviewer"):
        response = client.post("/api/v1/qa/forms", json=FORM, headers=tokens.header(who))
        assert response.status_code == 403, who
    _form(client, tokens)
    forms = client.get("/api/v1/qa/forms", headers=tokens.header("agent")).json()
    assert [f["id"] for f in forms] == ["care"]
    assert forms[0]["categories"][1] == {"name": "accuracy", "weight": 3.0, "scale_max": 5.0,
                                         "scale_min": 1.0, "critical": True,
                                         "description": "The answer is right"}
    bad = client.post("/api/v1/qa/forms", headers=tokens.header("manager"), json={
        **FORM, "categories": [{"name": "tone", "weight": 1, "scale_max": 0}]})
    assert bad.status_code == 422
    assert "scale_max" in bad.text


def test_a_review_gets_its_iqs_and_the_imports_checks(client: TestClient, tokens: Tokens,
                                                       centre: tuple[Engine, Tokens]) -> None:
    _form(client, tokens)
    review = _review(client, tokens, "reviewer", "i07", GOOD, comment="Clear answer")
    assert review["iqs"] == pytest.approx(500 / 6)
    assert review["reviewer_id"] == "rita" and review["agent_id"] == "b1"
    # a critical category at its minimum: 0 whatever the rest
    assert _review(client, tokens, "reviewer", "i08", {**GOOD, "accuracy": 1})["iqs"] == 0
    cases = [({**GOOD, "tone": 5}, "care", "scores.tone", "outside the category's scale 0–4"),
             ({"tone": 3, "accuracy": 4}, "care", "scores.resolution", "missing"),
             ({**GOOD, "speed": 1}, "care", "scores.speed", "has no category 'speed'"),
             (GOOD, "nope", "form_id", "unknown qa_form 'nope'")]
    for scores, form, where, problem in cases:
        response = client.post("/api/v1/qa/reviews", headers=tokens.header("reviewer"),
                               json={"interaction_id": "i07", "form_id": form,
                                     "scores": scores})
        assert response.status_code == 422, (where, response.text)
        [detail] = response.json()["detail"]
        assert detail["where"] == where and problem in detail["problem"], detail
    # every score that does not fit is named at once, as the review page names them
    several = client.post("/api/v1/qa/reviews", headers=tokens.header("reviewer"),
                          json={"interaction_id": "i07", "form_id": "care",
                                "scores": {"tone": 9, "accuracy": 0, "speed": 1}})
    assert several.status_code == 422
    assert several.json()["detail"] == [
        {"where": "scores.speed", "problem": "form 'care' has no category 'speed'; its "
                                             "categories are tone, accuracy, resolution"},
        {"where": "scores.tone", "problem": "9 is outside the category's scale 0–4"},
        {"where": "scores.accuracy", "problem": "0 is outside the category's scale 1–5"},
        {"where": "scores.resolution", "problem": "missing: form 'care' scores every "
                                                  "category (tone, accuracy, resolution)"}]
    missing = client.post("/api/v1/qa/reviews", headers=tokens.header("reviewer"),
                          json={"interaction_id": "i99", "form_id": "care", "scores": GOOD})
    assert missing.status_code == 404
    # refused before anything was written: nothing in the quarantine
    with centre[0].connect() as connection:
        assert connection.execute(select(func.count()).select_from(quarantine)).scalar() == 0


def test_who_may_review_what(client: TestClient, tokens: Tokens,
                             centre: tuple[Engine, Tokens]) -> None:
    _form(client, tokens)
    body = {"interaction_id": "i07", "form_id": "care", "scores": GOOD}
    # the lead leads team-a: Cat's i07 (team-b) is not theirs, Bob's i05 is
    lead_token = create_token(centre[0], "lead", "admin")
    lead = {"Authorization": f"Bearer {lead_token}"}
    assert client.post("/api/v1/qa/reviews", json=body, headers=lead).status_code == 403
    assert client.post("/api/v1/qa/reviews", json={**body, "interaction_id": "i05"},
                       headers=lead).status_code == 201
    # agents do not review, even with a token that may write
    ann = {"Authorization": f"Bearer {create_token(centre[0], 'ann', 'admin')}"}
    response = client.post("/api/v1/qa/reviews", json={**body, "interaction_id": "i01"},
                           headers=ann)
    assert response.status_code == 403
    assert client.post("/api/v1/qa/assignments", json={}, headers=ann).status_code == 403


def test_reviews_are_read_within_scope(client: TestClient, tokens: Tokens) -> None:
    _form(client, tokens)
    for interaction in ("i01", "i05", "i07"):
        _review(client, tokens, "reviewer", interaction, GOOD)
    _review(client, tokens, "manager", "i01", GOOD, calibration=True)

    def seen(who: str, **params: str) -> list[str]:
        response = client.get("/api/v1/qa/reviews", params=params, headers=tokens.header(who))
        assert response.status_code == 200, response.text
        return sorted(f"{r['interaction_id']}{'*' if r['calibration'] else ''}"
                      for r in response.json())

    assert seen("manager") == ["i01", "i01*", "i05", "i07"]
    assert seen("reviewer") == ["i01", "i01*", "i05", "i07"]
    assert seen("lead") == ["i01", "i01*", "i05"]  # team-a's
    assert seen("agent") == ["i01"]  # Ann's own, never the calibration ones
    assert seen("manager", agent="b1") == ["i07"]
    forbidden = client.get("/api/v1/qa/reviews", params={"agent": "a2"},
                           headers=tokens.header("agent"))
    assert forbidden.status_code == 403


def test_reviews_name_the_agent(client: TestClient, tokens: Tokens) -> None:
    """The reviews list shows who was reviewed by name (the id beside it), in the API and on
    the page."""
    _form(client, tokens)
    _review(client, tokens, "reviewer", "i05", GOOD)
    listed = client.get("/api/v1/qa/reviews", headers=tokens.header("manager")).json()
    assert [(r["agent_id"], r["agent_name"]) for r in listed] == [("a2", "Bob Brown")]
    login(client, "manager")
    page = client.get("/qa/reviews")
    assert page.status_code == 200
    assert 'Bob Brown <span class="id-note">a2</span>' in page.text


def test_sampling_into_queues(client: TestClient, tokens: Tokens,
                              centre: tuple[Engine, Tokens]) -> None:
    week = {"week": "2026-11-04", "per_agent": 2, "seed": 3}
    own = client.post("/api/v1/qa/assignments", headers=tokens.header("reviewer"),
                      json={**week, "exclude_own_team": True})
    assert own.status_code == 201, own.text
    # rita's own team is team-b: Ann (3 conversations, 2 drawn) and Bob (2, both)
    assert [(a["agent_id"], a["candidates"], a["assigned"]) for a in own.json()["agents"]] == [
        ("a1", 3, 2), ("a2", 2, 2)]
    queue = client.get("/api/v1/qa/assignments", headers=tokens.header("reviewer")).json()
    assert len(queue) == 4 and all(a["reviewer"] == "rita" for a in queue)
    # a reviewer samples only for themselves; a manager for anyone
    other = client.post("/api/v1/qa/assignments", headers=tokens.header("reviewer"),
                        json={**week, "reviewer": "lead"})
    assert other.status_code == 403
    lead_token = create_token(centre[0], "lead", "admin")
    lead = {"Authorization": f"Bearer {lead_token}"}
    # the lead samples within team-a: only Ann's third conversation is left
    mine = client.post("/api/v1/qa/assignments", headers=lead, json={**week, "per_agent": 5})
    assert [a["interaction_id"] for a in mine.json()["assignments"]] == sorted(
        {"i01", "i02", "i09"} - {a["interaction_id"] for a in queue})
    cat = client.post("/api/v1/qa/assignments", headers=tokens.header("manager"),
                      json={**week, "reviewer": "rita"})
    assert sorted(a["interaction_id"] for a in cat.json()["assignments"]) == ["i07", "i10"] \
        or len(cat.json()["assignments"]) == 2  # two of Cat's three, by the seed
    assert client.get("/api/v1/qa/assignments", params={"reviewer": "rita"},
                      headers=lead).status_code == 403
    assert len(client.get("/api/v1/qa/assignments", params={"reviewer": "rita"},
                          headers=tokens.header("manager")).json()) == 6
    # reviewing a conversation closes its assignment
    _form(client, tokens)
    _review(client, tokens, "reviewer", queue[0]["interaction_id"], GOOD)
    left = client.get("/api/v1/qa/assignments", headers=tokens.header("reviewer")).json()
    assert len(left) == 5
    done = client.get("/api/v1/qa/assignments", params={"all": "true"},
                      headers=tokens.header("reviewer")).json()
    assert [a["interaction_id"] for a in done if a["reviewed"]] == [queue[0]["interaction_id"]]


def test_calibration_alpha_by_hand(client: TestClient, tokens: Tokens) -> None:
    _form(client, tokens, {"id": "tone", "name": "Tone only",
                           "categories": [{"name": "tone", "weight": 1, "scale_max": 4}]})
    # rita: i01 4 (IQS 100), i05 2 (50); manager: i01 3 (75), i05 2 (50). Values 100, 75,
    # 50, 50: D_o = 2 * 25² / 4 = 312.5; 4 * 20625 - 275² = 6875, so D_e = 2 * 6875 / 12 =
    # 1145.83 and alpha = 1 - 312.5 / 1145.83 = 8/11
    for who, interaction, tone in (("reviewer", "i01", 4), ("reviewer", "i05", 2),
                                   ("manager", "i01", 3), ("manager", "i05", 2)):
        _review(client, tokens, who, interaction, {"tone": tone}, form_id="tone",
                calibration=True)
    _review(client, tokens, "manager", "i07", {"tone": 0}, form_id="tone")  # not calibration
    report = client.get("/api/v1/qa/calibration", headers=tokens.header("reviewer")).json()
    assert report["alpha"] == pytest.approx(8 / 11)
    assert report["categories"] == [{"category": "tone", "alpha": pytest.approx(8 / 11),
                                     "pairable": 4, "note": None}]
    first = report["interactions"][0]
    assert (first["interaction_id"], first["consensus"], first["spread"]) == ("i01", 87.5, 25)
    assert {r["reviewer_id"]: r["mean_deviation"] for r in report["reviewers"]} == {
        "manager": -6.25, "rita": 6.25}
    later = client.get("/api/v1/qa/calibration", params={"from": "2030-01-01"},
                       headers=tokens.header("reviewer")).json()
    assert later["reviews"] == 0 and later["alpha"] is None and later["from"] == "2030-01-01"
    page = client.get("/qa/calibration", headers={**tokens.header("reviewer"),
                                                  "Accept": "text/html"})
    assert page.status_code == 200 and "0.727" in page.text


def test_review_page_shows_errors_beside_the_field(client: TestClient,
                                                   tokens: Tokens) -> None:
    _form(client, tokens)
    login(client, "rita")
    page = client.get("/qa/review/i07")
    assert page.status_code == 200
    assert 'name="score_accuracy" min="1" max="5"' in page.text
    assert '<legend>accuracy<span class="badge critical">critical</span></legend>' in page.text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": csrf, "form_id": "care", "score_tone": "9", "score_accuracy": "4",
            "score_resolution": ""}
    refused = client.post("/qa/review/i07", data=form, follow_redirects=False)
    assert refused.status_code == 422
    assert 'id="err-tone">9 is outside the category' in refused.text
    assert 'id="err-resolution">missing' in refused.text
    assert 'value="9"' in refused.text  # the form comes back as it was sent
    saved = client.post("/qa/review/i07", data={**form, "score_tone": "3",
                                                "score_resolution": "1",
                                                "comment": "Kind and right"},
                        follow_redirects=False)
    assert saved.status_code == 303
    shown = client.get(saved.headers["location"])
    assert "IQS 83.3" in shown.text and "Kind and right" in shown.text
    # the interactions list links every conversation to its review page
    assert 'href="/qa/review/i07"' in client.get("/interactions?from=2026-11-02&to=2026-11-09"
                                                 ).text


def test_agents_read_their_own_reviews(client: TestClient, tokens: Tokens) -> None:
    _form(client, tokens)
    _review(client, tokens, "reviewer", "i01", GOOD, comment="Well done")
    _review(client, tokens, "manager", "i01", GOOD, calibration=True, comment="grading")
    login(client, "ann")
    page = client.get("/qa/review/i01")
    assert page.status_code == 200
    assert "Save review" not in page.text and "Well done" in page.text
    assert "grading" not in page.text  # calibration grades the graders
    listing = client.get("/qa/reviews")
    assert "My quality reviews" in listing.text and "Well done" in listing.text
    assert "mean IQS <b>83.3</b>" in listing.text
    assert client.get("/qa/review/i05", headers={"Accept": "text/html"}).status_code == 403
    assert client.get("/qa/queue", headers={"Accept": "text/html"}).status_code == 403


def test_queue_page_samples(client: TestClient, tokens: Tokens) -> None:
    login(client, "rita")
    page = client.get("/qa/queue")
    assert "nothing to review" in page.text and "Leave out my team (team-b)" in page.text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/qa/queue", data={"csrf_token": csrf, "week": "2026-11-02",
                                              "per_agent": "1", "seed": "4",
                                              "exclude_own_team": "on"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/qa/queue?assigned=2"
    shown = client.get("/qa/queue")
    assert shown.text.count('<tr data-id="') == 2
    bad = client.post("/qa/queue", data={"csrf_token": csrf, "per_agent": "0"})
    assert bad.status_code == 422 and "per_agent" in bad.text
