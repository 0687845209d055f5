"""Transitional (issue 21): the `sentiment` KPI is now defined with every other KPI, in
`servicepulse.kpi.definitions` (its `texts` source in `servicepulse.kpi.sources`): it reads
only the store's `text_sentiment` table, so the engine needs nothing from this area and there
is nothing to install.

`ensure_installed` remains, doing nothing, for the callers that others are editing now
(`cli/insights.py`, `scorecards/scorecard.py`); delete this module with their last call.
"""

from __future__ import annotations


def ensure_installed() -> None:
    """Nothing to do: the engine defines `sentiment` itself."""
