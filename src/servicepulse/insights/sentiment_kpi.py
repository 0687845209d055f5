"""The `sentiment` KPI for the KPI engine: its source (`texts`) and its definition.

The engine's `servicepulse.kpi.definitions` calls `install()` in one marked block; it adds the
`texts` source to `servicepulse.kpi.sources.SOURCES` and replaces the `sentiment` placeholder.

- Rows: one per customer text in `text_sentiment` (see `servicepulse.insights.sentiment`),
  attributed at the text's time (`at`), so a text counts in the period it was written. The
  texts of a deleted or spam interaction are left out, as that interaction is no contact
  (docs/kpis.md, "Deleted and spam contacts"); a text whose interaction is unknown (a social
  mention, an interaction not imported) counts.
- value: the mean VADER compound score (-1..1) of the scored texts, with a t interval; `n` is
  the number of scored texts. Unscored texts (languages VADER does not read) are not in `n`;
  their count is reported as `unscored`.
- positive / neutral / negative: percentages of `n` (labels by VADER's ±0.05 thresholds).
- Dimensions: channel is the text's (the interaction's; social mentions `social`), agent the
  text's (the source's agent, else its interaction's), team the interaction's team else the
  agent's, role the agent's; queue, category and segment come from the interaction; language
  is the interaction's language, else the language detected in the text.

Kpi imports happen inside functions: `servicepulse.kpi.definitions` imports this module
while it is still being defined.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from servicepulse.kpi.definitions import KpiDefinition
    from servicepulse.kpi.sources import Frame

SOURCE_NAME = "texts"


TEXT_COLUMNS = {"source_kind": "string", "source_id": "string", "interaction_id": "string",
                "channel": "string", "agent_id": "string", "at": "float64",
                "language": "string", "score": "float64", "label": "string"}


def _texts_table(frame: Frame) -> ir.Table:
    """The store's `text_sentiment`; a backend without it (a Parquet export that left the
    table out) gets an empty table and a warning, so the other KPIs still compute."""
    import ibis
    from ibis.common.exceptions import TableNotFound

    try:
        return frame.table("text_sentiment")
    except TableNotFound:
        pass
    warnings.warn("this KPI backend has no text_sentiment table: sentiment has no data here "
                  "(export it with the record tables to compute sentiment on this engine)",
                  stacklevel=2)
    return ibis.memtable({name: [] for name in TEXT_COLUMNS}, schema=TEXT_COLUMNS)


def texts_source(frame: Frame) -> ir.Table:
    """Scored and unscored customer texts in the periods, with the engine's dimensions;
    none of a deleted or spam interaction."""
    from servicepulse.kpi.sources import NONE, is_contact

    def text(value: Any) -> Any:
        return value.cast("string").fill_null(NONE)

    texts = _texts_table(frame)
    texts = texts.filter(frame.in_periods(texts.at))
    interactions = frame.table("interactions").select(
        i_id="id", i_team="team_id", i_queue="queue", i_category="category",
        i_language="language", i_customer="customer_id", i_status="status")
    agents = frame.table("agents").select(a_id="id", a_team="team_id", a_role="role")
    customers = frame.table("customers").select(c_id="id", c_segment="segment")
    joined = texts.left_join(interactions, texts.interaction_id == interactions.i_id)
    joined = joined.filter(joined.i_id.isnull() | is_contact(joined.i_status))
    joined = joined.left_join(agents, joined.agent_id == agents.a_id)
    joined = joined.left_join(customers, joined.i_customer == customers.c_id)
    return joined.mutate(
        agent=text(joined.agent_id),
        team=text(joined.i_team.fill_null(joined.a_team)),
        role=text(joined.a_role),
        channel=text(joined.channel),
        queue=text(joined.i_queue),
        category=text(joined.i_category),
        language=text(joined.i_language.fill_null(joined.language)),
        segment=text(joined.c_segment),
        scored=joined.score.notnull(),
        period=frame.period_key(joined.at),
    )


def sentiment_definition() -> KpiDefinition:
    from ibis import _

    from servicepulse.kpi.definitions import KpiDefinition
    from servicepulse.kpi.kinds import Mean, Proportion, Total

    scored = _.scored
    return KpiDefinition(
        "sentiment", "Sentiment", "score", "higher",
        Mean(SOURCE_NAME, population=scored, value=_.score),
        "Mean VADER compound score (-1..1) of customer texts (customer messages, survey "
        "comments, social mentions) in the period; n = scored texts. positive / neutral / "
        "negative are percentages of n; texts in languages VADER does not read are counted "
        "in `unscored`, never as neutral. Social mentions count under the channel social.",
        extras={
            "positive": Proportion(SOURCE_NAME, population=scored, success=_.label == "positive"),
            "neutral": Proportion(SOURCE_NAME, population=scored, success=_.label == "neutral"),
            "negative": Proportion(SOURCE_NAME, population=scored, success=_.label == "negative"),
            "unscored": Total(SOURCE_NAME, population=~scored),
        },
    )


def install() -> None:
    """Register the `texts` source and the `sentiment` KPI with the engine (idempotent)."""
    from servicepulse.kpi.definitions import register
    from servicepulse.kpi.sources import INTERACTION_DIMENSIONS, SOURCES, Source

    SOURCES[SOURCE_NAME] = Source(
        SOURCE_NAME, texts_source, INTERACTION_DIMENSIONS,
        ("event", "survey", "social_mention", "interaction", "agent", "customer"))
    register(sentiment_definition())


def ensure_installed() -> None:
    """Install unless the engine's definitions already did (callers that run `sentiment`)."""
    from servicepulse.kpi.definitions import KPIS
    from servicepulse.kpi.sources import SOURCES

    current = KPIS.get("sentiment")
    if SOURCE_NAME not in SOURCES or current is None or current.placeholder:
        install()
