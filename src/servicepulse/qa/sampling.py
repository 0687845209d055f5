"""Which conversations to review: a sample per agent per week, stratified by channel.

Reviewing every conversation is impossible and reviewing the ones that happen to be opened is
biased, so each agent gets `per_agent` conversations of the week drawn at random, spread over
the channels they worked in proportion to their volume there. When `per_agent` is at least
the number of channels, every channel the agent worked gets at least one (a rare channel is
where quality problems hide); with fewer, the busiest channels get one each. An agent with
fewer conversations than `per_agent` has all of them reviewed.

The draw is deterministic: a channel's sample depends only on the seed, the week, the agent,
the channel and the candidate ids, so the same question gives the same sample, and one new
conversation elsewhere does not reshuffle anybody else's.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from servicepulse.errors import InvalidRequest


@dataclass(frozen=True)
class Candidate:
    """A conversation that may be sampled."""

    interaction_id: str
    agent_id: str
    channel: str


def channel_quotas(volumes: dict[str, int], per_agent: int) -> dict[str, int]:
    """How many of `per_agent` conversations each channel gets, from its volume.

    At least one per channel when there are enough to go round, the rest in proportion to
    each channel's volume beyond that one (largest remainder; ties by channel name). Never
    more than a channel has; everything when the agent has `per_agent` or fewer."""
    channels = sorted(c for c, n in volumes.items() if n > 0)
    total = sum(volumes[c] for c in channels)
    if total <= per_agent:
        return {c: volumes[c] for c in channels}
    if per_agent < len(channels):
        busiest = sorted(channels, key=lambda c: (-volumes[c], c))[:per_agent]
        return {c: 1 for c in sorted(busiest)}
    quotas = {c: 1 for c in channels}
    rest = per_agent - len(channels)
    beyond = {c: volumes[c] - 1 for c in channels}
    pool = sum(beyond.values())  # >= rest, as total > per_agent
    shares = {c: rest * beyond[c] / pool for c in channels} if pool else {}
    for c, share in shares.items():
        quotas[c] += math.floor(share)
    left = per_agent - sum(quotas.values())
    by_remainder = sorted(shares, key=lambda c: (-(shares[c] - math.floor(shares[c])), c))
    for c in by_remainder[:left]:
        quotas[c] += 1
    return quotas


def sample_week(candidates: Iterable[Candidate], per_agent: int, seed: int,
                week: date) -> list[Candidate]:
    """The sample of one week's candidates: per agent, `channel_quotas` drawn at random per
    channel. Sorted by agent, channel and id."""
    if per_agent < 1:
        raise InvalidRequest(f"per agent: {per_agent} is not a number of conversations; use 1 or "
                             "more")
    grouped: dict[str, dict[str, list[Candidate]]] = defaultdict(lambda: defaultdict(list))
    for candidate in candidates:
        grouped[candidate.agent_id][candidate.channel].append(candidate)
    chosen: list[Candidate] = []
    for agent in sorted(grouped):
        by_channel = grouped[agent]
        quotas = channel_quotas({c: len(found) for c, found in by_channel.items()}, per_agent)
        for channel in sorted(quotas):
            pool: Sequence[Candidate] = sorted(by_channel[channel],
                                               key=lambda c: c.interaction_id)
            # a string seed is hashed (SHA-512) by random: the same in every process
            draw = random.Random(f"{seed}:{week.isoformat()}:{agent}:{channel}")
            chosen += sorted(draw.sample(pool, quotas[channel]),
                             key=lambda c: c.interaction_id)
    return chosen
