"""What a simulation run is asked for: size, length, seed, start date, and the few knobs that
shape it. Everything else is derived deterministically from the seed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from servicepulse.errors import InvalidRequest

# A fixed default start (a Monday) so the same seed gives the same file on any day; the
# window holds the UK August bank holiday and US Labor Day.
DEFAULT_START = date(2026, 8, 24)


@dataclass(frozen=True)
class SimulationConfig:
    """A run: `agents` people over `days` days from `start`, reproducible by `seed`."""

    agents: int = 40
    days: int = 30
    seed: int = 1
    start: date = DEFAULT_START
    # Target occupancy the arrival volume is sized to (per staffed interval).
    target_occupancy: float = 0.82
    # Spanish-queue volume as a multiple of its only agent's capacity (> 1: overloaded).
    spanish_overload: float = 1.2
    currency: str = "USD"
    # Care teams in New York and Manila (then London, Chicago), so someone is at work at any
    # hour of a weekday; the default, New York and London, leaves the small hours (UTC) empty.
    around_the_clock: bool = False

    def __post_init__(self) -> None:
        # InvalidRequest (a ValueError): a size the centre cannot be is the caller's to fix
        if self.agents < 12:
            raise InvalidRequest(
                f"agents: {self.agents} is too few; the simulated centre needs "
                "at least 12 (a care team with its lead plus the specialist roles)"
            )
        if self.days < 1:
            raise InvalidRequest(f"days: {self.days} must be at least 1")
        if not 0.1 <= self.target_occupancy <= 0.98:
            raise InvalidRequest("target_occupancy: must be between 0.1 and 0.98")
