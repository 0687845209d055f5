"""The discrete-event queue at the simulator's core, on small cases traced by hand."""

from __future__ import annotations

from servicepulse.simulate.engine import AgentDay, Contact, run_queue


def call(
    created: int, talk: float, wrap: float, patience: float = 1e9, hold: float = 0.0
) -> Contact:
    c = Contact()
    c.created, c.talk_b, c.hold_b, c.wrap_b, c.patience = created, talk, hold, wrap, patience
    return c


def email(created: int, handle: float, gap: int = 10) -> Contact:
    c = Contact()
    c.created, c.handle_b, c.gap, c.patience = created, handle, gap, 1e9
    return c


def test_first_come_first_served_by_the_agent_free_earliest_with_abandons() -> None:
    a = AgentDay(0, 1.0, 0, 10_000, [])
    b = AgentDay(1, 1.0, 0, 10_000, [])
    calls = [
        call(0, 100, 20),  # both free at 0: agent 0 (first in the heap), busy until 120
        call(10, 200, 10),  # agent 1 at 10, busy until 220
        call(20, 50, 10, patience=150),  # waits for agent 0 (free at 120): answered at 120
        call(30, 50, 10, patience=100),  # next free is agent 0 at 180: 150 s > 100 s patience
        call(40, 30, 10),  # agent 0 at 180 (it left no trace: the abandon took no one)
    ]
    run_queue(calls, [a, b], [], sync=True)
    assert [(c.agent, c.start) for c in calls] == [(0, 0), (1, 10), (0, 120), (-1, 130), (0, 180)]
    # Jobs: (start, end of talk+hold, end of wrap).
    assert a.jobs == [(0, 100, 120), (120, 170, 180), (180, 210, 220)]
    assert b.jobs == [(10, 210, 220)]


def test_priority_agent_takes_every_call_that_arrives_while_free() -> None:
    priority = AgentDay(7, 1.0, 0, 10_000, [])
    other = AgentDay(8, 1.0, 0, 10_000, [])
    calls = [call(0, 60, 10), call(30, 60, 10), call(100, 60, 10)]
    run_queue(calls, [other], [priority], sync=True)
    # 0: both idle -> priority (until 70); 30: priority busy -> other; 100: priority free again.
    assert [(c.agent, c.start) for c in calls] == [(7, 0), (8, 30), (7, 100)]


def test_a_call_may_push_a_break_back_but_never_runs_past_the_shift_end() -> None:
    agent = AgentDay(0, 1.0, 0, 1_000, [(100, 200, "break")])
    # Arrives at 90, 50 s of work: runs into the break, which then starts at 140 (ends 240).
    first = call(90, 40, 10)
    # Arrives at 150: the agent is on the (delayed) break until 240.
    second = call(150, 40, 10)
    # Arrives at 980 with 50 s of work: would end after the shift, so nobody takes it.
    late = call(980, 40, 10, patience=100)
    run_queue([first, second, late], [agent], [], sync=True)
    assert (first.agent, first.start) == (0, 90)
    assert (second.agent, second.start) == (0, 240)
    assert (late.agent, late.start) == (-1, 1080)
    block = agent.aux[0]
    assert (block.start, block.end, block.state) == (140, 240, "break")
    assert agent.windows == [[0, 140], [240, 1_000]]


def test_backlog_is_served_oldest_first_and_what_is_left_waits_for_tomorrow() -> None:
    agent = AgentDay(3, 2.0, 1_000, 2_000, [])  # speed 2: every item takes twice as long
    items = [email(0, 100), email(50, 100), email(1_500, 200), email(1_600, 100)]
    left = run_queue(items, [agent], [], sync=False)
    # 1000: item 1 (200 s) + 10 s gap -> 1210: item 2 -> 1420; item 3 arrives 1500, takes
    # 400 s -> 1900 + 10 -> 1910: item 4 (200 s) would end at 2110, after the shift.
    assert [(c.agent, c.start, c.handle) for c in items[:3]] == [
        (3, 1_000, 200),
        (3, 1_210, 200),
        (3, 1_500, 400),
    ]
    assert left == [items[3]]
    assert agent.jobs == [(1_000, 1_200, 1_200), (1_210, 1_410, 1_410), (1_500, 1_900, 1_900)]
