"""`servicepulse drivers | sentiment | anomalies`: text insights on the command line.

Dates are local dates in the organisation's time zone, `--to` exclusive, as for `kpi`.
Bad input exits with code 2 and names the option and what it accepts.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from servicepulse.cli.context import parse_date, state

console = Console()


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class TopicMethod(StrEnum):
    nmf = "nmf"
    embeddings = "embeddings"


FromOption = Annotated[str | None, typer.Option("--from", help="First local day, YYYY-MM-DD.")]
ToOption = Annotated[str | None, typer.Option("--to", help="Day after the last, YYYY-MM-DD "
                                                          "(exclusive).")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table or json.")]


def register(app: typer.Typer) -> None:
    from servicepulse.cli.bench import bench_app

    app.command("drivers")(drivers)
    app.command("sentiment")(sentiment)
    app.command("anomalies")(anomalies)
    bench_app.command("insights")(bench_insights)


def bench_insights(
    texts: Annotated[int, typer.Option(min=100, help="Texts scored and imported.")] = 5000,
    runs: Annotated[int, typer.Option(min=1, help="Runs; the median is reported.")] = 3,
    topic_sizes: Annotated[str, typer.Option(help="Text counts for topic discovery.")
                           ] = "2000,10000,20000",
    embedding_sizes: Annotated[str, typer.Option(
        help="Text counts for topics by sentence embeddings (empty: skip).")] = "1000,4000",
) -> None:
    """Sentiment scoring rate, the import hook's cost, topic discovery time (both methods)."""
    from servicepulse.insights.bench import run_insights_bench

    def sizes(value: str, option: str) -> tuple[int, ...]:
        try:
            return tuple(int(size) for size in value.split(",") if size.strip())
        except ValueError:
            raise typer.BadParameter(f"{value!r}: give whole numbers, comma-separated",
                                     param_hint=option) from None

    typer.echo(run_insights_bench(texts, runs, sizes(topic_sizes, "--topic-sizes"),
                                  sizes(embedding_sizes, "--embedding-sizes")))




def _dates(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if first and last and last <= first:
        raise typer.BadParameter(f"{end} must be after --from {start} (--to is exclusive)",
                                 param_hint="--to")
    return first, last


def _names(value: str | None, option: str, allowed: list[str] | tuple[str, ...]) -> list[str]:
    names = [name.strip() for name in (value or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise typer.BadParameter(f"unknown {', '.join(unknown)}: use {', '.join(allowed)}",
                                 param_hint=option)
    return names


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# --- drivers ------------------------------------------------------------------------------


def drivers(
    ctx: typer.Context,
    from_: FromOption = None,
    to: ToOption = None,
    topics: Annotated[int | None, typer.Option(
        "--topics", min=1, max=50, help="Number of topics (default: chosen by stability).")
    ] = None,
    max_topics: Annotated[int, typer.Option(
        "--max-topics", min=2, max=50, help="Most topics tried when choosing.")] = 12,
    method: Annotated[TopicMethod, typer.Option(
        "--method", help="nmf: TF-IDF + NMF; embeddings: sentence embeddings (packaged "
                         "all-MiniLM-L6-v2) + k-means.")] = TopicMethod.nmf,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Contact drivers: topics of subjects and first customer messages, with their KPIs."""
    from servicepulse.insights.drivers import DriversQuery, DriversRunner
    from servicepulse.insights.embeddings import EmbeddingModelMissing

    first, last = _dates(from_, to)
    query = DriversQuery.model_validate({"from": first, "to": last, "topics": topics,
                                         "max_topics": max_topics, "method": method.value})
    try:
        result = DriversRunner(state(ctx).engine()).run(query)
    except EmbeddingModelMissing as error:
        typer.echo(f"drivers --method embeddings: {error}", err=True)
        raise typer.Exit(1) from error
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.as_json(), indent=2))
        return
    if not result.topics:
        console.print(f"no inbound contacts with a subject or customer message "
                      f"({result.contacts} contacts looked at)")
        return
    table = Table(title=f"Contact drivers ({result.contacts} contacts, "
                        f"{result.unassigned} without a topic)")
    for column in ("topic", "contacts", "share %", "FCR %", "AHT s", "CSAT %", "repeat %",
                   "sentiment"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for topic in result.topics:
        kpis = topic.kpis
        table.add_row(topic.topic, str(topic.contacts), _number(topic.share, 1),
                      _number(kpis["fcr"].get("value"), 1), _number(kpis["aht"].get("value"), 0),
                      _number(kpis["csat"].get("value"), 1),
                      _number(kpis["repeat_contact_rate"].get("value"), 1),
                      _number(kpis["sentiment"].get("value"), 3))
    console.print(table)


# --- sentiment ----------------------------------------------------------------------------


def sentiment(
    ctx: typer.Context,
    from_: FromOption = None,
    to: ToOption = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Group by DIM[,DIM...]: agent, team, role, channel, queue, category, "
                     "language, segment.")] = None,
    rescore: Annotated[bool, typer.Option(
        "--rescore", help="Score every text again (after an upgrade of the scorer).")] = False,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Score new customer texts (incremental), then show the sentiment KPI and coverage."""
    from servicepulse.insights.sentiment import coverage, score_texts
    from servicepulse.insights.sentiment_kpi import ensure_installed
    from servicepulse.kpi.engine import run_kpi_query
    from servicepulse.kpi.query import KpiQuery
    from servicepulse.kpi.settings import kpi_settings
    from servicepulse.kpi.sources import DIMENSIONS, local_midnight

    ensure_installed()
    first, last = _dates(from_, to)
    dimensions = _names(by, "--by", DIMENSIONS)
    engine = state(ctx).engine()
    with engine.begin() as connection:
        scoring = score_texts(connection, rescore=rescore)
    document = run_kpi_query(engine, KpiQuery.model_validate(
        {"by": dimensions, "from": first, "to": last, "kpis": ["sentiment"]}))
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(kpi_settings(None).timezone)
    with engine.connect() as connection:
        rows = coverage(connection, local_midnight(first, zone) if first else None,
                        local_midnight(last, zone) if last else None)
    if output is OutputFormat.json:
        typer.echo(json.dumps({
            "from": document["from"], "to": document["to"], "by": dimensions,
            "scored_now": scoring.scored, "rows": document["rows"],
            "coverage": [{"source": row.source_kind, "language": row.language,
                          "label": row.label, "texts": row.texts} for row in rows],
        }, indent=2))
        return
    console.print(f"scored {scoring.texts} new or changed texts; "
                  f"{document['from']} to {document['to']} (exclusive)")
    table = Table(title="Sentiment (mean VADER compound, -1..1)")
    for name in dimensions:
        table.add_column(name)
    for column in ("mean", "n", "positive %", "neutral %", "negative %", "unscored"):
        table.add_column(column, justify="right")
    for row in document["rows"]:
        result = row["kpis"]["sentiment"]
        table.add_row(*[str(row["group"].get(name) or "—") for name in dimensions],
                      _number(result.get("value"), 3), str(result.get("n", 0)),
                      _number(result.get("positive"), 1), _number(result.get("neutral"), 1),
                      _number(result.get("negative"), 1), str(result.get("unscored", 0)))
    console.print(table)
    languages = Table(title="Coverage: texts by source and language")
    for column in ("source", "language", "label", "texts"):
        languages.add_column(column, justify="right" if column == "texts" else "left")
    for item in rows:
        languages.add_row(item.source_kind, item.language or "—", item.label, str(item.texts))
    console.print(languages)


# --- anomalies ----------------------------------------------------------------------------

DEFAULT_ANOMALY_KPIS = "contacts,frt_within_target,aht,fcr,csat,abandon_rate,sentiment"


def _last_data_day(engine: Any) -> date | None:
    from sqlalchemy import func, select

    from servicepulse.kpi.settings import kpi_settings
    from servicepulse.store import tables

    with engine.connect() as connection:
        latest = connection.execute(select(func.max(tables.interactions.c.created_at))).scalar()
    if latest is None:
        return None
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(float(latest), ZoneInfo(kpi_settings(None).timezone)).date()


def anomalies(
    ctx: typer.Context,
    kpi: Annotated[str, typer.Option("--kpi", help="KPI names, comma-separated.")
                   ] = DEFAULT_ANOMALY_KPIS,
    from_: FromOption = None,
    to: ToOption = None,
    by: Annotated[str | None, typer.Option("--by", help="Group by DIM[,DIM...].")] = None,
    threshold: Annotated[float, typer.Option(
        "--threshold", min=0.5, help="Robust z-score that flags a day (3.5 by default).")
    ] = 3.5,
    weeks: Annotated[int, typer.Option(
        "--weeks", min=1, max=52, help="Weeks of same-weekday history in the baseline.")] = 8,
    min_n: Annotated[int, typer.Option(
        "--min-n", min=0, help="Skip days whose KPI rests on fewer items.")] = 0,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Days whose KPI is far from the same weekday's median in the weeks before (MAD)."""
    from servicepulse.config import default_window_days
    from servicepulse.insights.anomalies import AnomalySettings, find_kpi_anomalies
    from servicepulse.insights.sentiment_kpi import ensure_installed
    from servicepulse.kpi.definitions import KPIS
    from servicepulse.kpi.sources import DIMENSIONS

    ensure_installed()
    names = _names(kpi, "--kpi", list(KPIS))
    if not names:
        raise typer.BadParameter("name at least one KPI", param_hint="--kpi")
    dimensions = _names(by, "--by", DIMENSIONS)
    first, last = _dates(from_, to)
    engine = state(ctx).engine()
    if last is None:
        latest = _last_data_day(engine)
        last = (latest + timedelta(days=1)) if latest else date.today()
    if first is None:
        first = last - timedelta(days=default_window_days())  # one default window
    if last <= first:
        raise typer.BadParameter(f"--to {last} must be after --from {first}", param_hint="--to")
    found = find_kpi_anomalies(engine, names, first, last, by=dimensions,
                               anomaly_settings=AnomalySettings(threshold=threshold,
                                                                weeks=weeks, min_n=min_n))
    if output is OutputFormat.json:
        typer.echo(json.dumps({
            "from": first.isoformat(), "to": last.isoformat(), "kpis": names,
            "by": dimensions, "threshold": threshold, "weeks": weeks,
            "anomalies": [item.model_dump(mode="json") for item in found],
        }, indent=2))
        return
    if not found:
        console.print(f"no anomalies from {first} to {last} (exclusive) in {', '.join(names)}")
        return
    table = Table(title=f"KPI anomalies {first} to {last} (exclusive)")
    for column in ("day", "kpi", *dimensions, "value", "baseline", "deviation", "robust z",
                   "worse"):
        table.add_column(column)
    for item in found:
        table.add_row(item.day.isoformat(), item.kpi or "",
                      *[item.group.get(name) or "—" for name in dimensions],
                      _number(item.value), _number(item.baseline), _number(item.deviation),
                      _number(item.robust_z, 1),
                      "—" if item.worse is None else ("yes" if item.worse else "no"))
    console.print(table)
