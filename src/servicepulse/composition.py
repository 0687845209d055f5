"""The composition root: the one place that wires the areas together.

Lower layers hold registries and know nothing above them (`servicepulse.ingest.hooks` keeps
the lists of import hooks); this module names what goes into them, explicitly and in order.
The app factory (`servicepulse.web.app.create_app`) and the command line's start call
`compose()`; the tests call it from tests/conftest.py.

It sits above the feature areas (it imports kpi, insights and scorecards) and below the two
starts that call it (web, cli), so it may import any domain area but never web, bench or cli.

Plugin KPIs: none. Every KPI, `sentiment` included, is defined in `servicepulse.kpi.definitions`
(sentiment reads only the store's `text_sentiment` table). A KPI that needs an area above the
engine would be registered here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from servicepulse.ingest import hooks

if TYPE_CHECKING:
    from servicepulse.config import Settings


def compose(settings: Callable[[], Settings] | None = None) -> None:
    """Wire the areas together. Idempotent, and cheap: the areas' modules load when the first
    import runs its hooks, not here (a command that imports nothing does not pay for them).
    `settings`: how the import hooks get the settings the program loaded (once, at its start);
    without it they read the documented defaults."""
    hooks.install(register_hooks)
    if settings is not None:
        hooks.configure(settings)


def register_hooks() -> None:
    """Register the import hooks, in the order they must run."""
    from servicepulse.insights import sentiment
    from servicepulse.kpi import business_hours, rollup, schedule
    from servicepulse.scorecards import alerts

    # after every batch, in its transaction: business-hours durations first (the rollup marks
    # and the alert checks read them), then derived shift activities, the stale rollup days,
    # the texts to score, the alert rules the batch touched
    hooks.register(business_hours.refresh_after_import)
    hooks.register(schedule.derive_shift_activities)
    hooks.register(rollup.mark_dirty)
    hooks.register(sentiment.mark_texts)
    hooks.register(alerts.queue_touched_rules)
    # after the whole import (slow: the background worker runs them in two steps)
    hooks.register_after_import(rollup.refresh_after_import, rollup.prepare_refresh_after_import)
    hooks.register_after_import(sentiment.score_after_batch, sentiment.prepare_scoring)
