"""The records `servicepulse bench verify` builds its store from."""

from __future__ import annotations

from servicepulse.bench.verify import TEXT_EVERY, bench_records
from servicepulse.records.validate import parse_record


def test_bench_records_have_calendars_and_customer_messages() -> None:
    records = list(bench_records(8))
    assert records[0]["type"] == "calendar"
    teams = [record for record in records if record["type"] == "team"]
    assert teams and all(team["calendar_id"] == "cal-bench" for team in teams)
    interactions = [record["id"] for record in records if record["type"] == "interaction"]
    messages = [record for record in records if record["type"] == "event"]
    assert len(interactions) == 8 and TEXT_EVERY == 4
    # the 4th and the 8th interaction, each with a text of its own
    assert [message["interaction_id"] for message in messages] == [interactions[3],
                                                                   interactions[7]]
    assert len({message["body"] for message in messages}) == 2
    for record in records:
        parse_record(record)  # every record is valid
