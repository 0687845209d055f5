"""`servicepulse drivers | sentiment | anomalies`: text insights on the command line.

Dates are local dates in the organisation's time zone, `--to` exclusive, as for `kpi`.
Without them `drivers` and `sentiment` look at the window the pages open on (the last
`default_window_days` whole days with data, `_window`), so the command and the page show the
same topics for the same data. Bad input exits with code 2 and names the option and what it
accepts.
"""

from __future__ import annotations

import json
import time
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from servicepulse.cli.as_of import as_of_line
from servicepulse.cli.context import default_window, parse_date, state

# insights.drivers.DEFAULT_MAX_TOPICS, written out: importing drivers (the store, numpy) would
# cost every command its start-up; tests/cli/test_startup.py checks that the two agree
DEFAULT_MAX_TOPICS = 25


def console() -> Console:
    """A console per output: it reads the terminal's width (COLUMNS) when it prints, not when
    the module was first imported."""
    return Console()


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class TopicMethod(StrEnum):
    words = "words"
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
    ctx: typer.Context,
    texts: Annotated[int, typer.Option(min=100, help="Texts scored and imported.")] = 5000,
    runs: Annotated[int, typer.Option(min=1, help="Runs; the median is reported.")] = 3,
    topic_sizes: Annotated[str, typer.Option(help="Text counts for topic discovery.")
                           ] = "2000,10000,20000",
    embedding_sizes: Annotated[str, typer.Option(
        help="Text counts for topics by sentence embeddings (empty: skip).")] = "1000,4000",
    quality: Annotated[bool, typer.Option(
        "--quality", help="Measure how right instead of how fast: topics against the "
                          "simulator's reasons (adjusted Rand index), sentiment against its "
                          "tones (accuracy, macro-F1), beside VADER alone.")] = False,
    quality_embedding_texts: Annotated[int, typer.Option(
        min=0, help="With --quality: labelled texts for topics by sentence embeddings "
                    "(0: skip).")] = 600,
    drivers: Annotated[bool, typer.Option(
        "--drivers", help="Time `servicepulse drivers` on the --db store (make it with "
                          "`servicepulse demo --no-serve`) in new processes, against `kpi` "
                          "of the same KPIs, and its steps.")] = False,
    baseline: Annotated[Path | None, typer.Option(
        help="With --drivers: a checkout of an earlier commit whose `drivers` is timed too "
             "(its topic model kept), the ratio's reference.")] = None,
) -> None:
    """Sentiment scoring rate, the import hook's cost, topic discovery time (both methods);
    with --quality, topics and sentiment against labels."""
    from servicepulse.bench.insights import run_insights_bench, run_insights_quality

    if quality:
        typer.echo(run_insights_quality(quality_embedding_texts))
        return
    if drivers:
        from servicepulse.bench.insights import run_drivers_bench
        from servicepulse.bench.report import write_section

        engine = state(ctx).engine()  # opened (migrated) here: a bad --db is said now
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        markdown = run_drivers_bench(url, runs, baseline)
        write_section("insights-drivers", markdown)
        typer.echo(markdown)
        return

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
        "--topics", min=1, max=50,
        help="Number of topics (default: as many as the contact reasons, groups of texts "
             "merged while alike).")
    ] = None,
    max_topics: Annotated[int, typer.Option(
        "--max-topics", min=2, max=50, help="Most topics when the number is chosen.")
    ] = DEFAULT_MAX_TOPICS,
    method: Annotated[TopicMethod, typer.Option(
        "--method", help="words: lemmatised words and phrases (default, as the page); "
                         "embeddings: sentence embeddings.")] = TopicMethod.words,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Contact drivers: topics of subjects and first customer messages, with their KPIs."""
    from servicepulse.insights.drivers import DriversQuery, DriversRunner
    from servicepulse.insights.embeddings import EmbeddingModelMissing

    engine = state(ctx).engine()
    settings = state(ctx).kpi_settings()
    first, last = _dates(from_, to)
    query = DriversQuery.model_validate({"from": first, "to": last, "topics": topics,
                                         "max_topics": max_topics, "method": method.value})
    started = time.time()  # the figures are as of the computation's start
    try:
        # the default window (it asks the store for its first and last days) only when no
        # result is kept
        result = DriversRunner(engine, settings).run(
            query, window=lambda: default_window(engine, first, last, settings))
    except EmbeddingModelMissing as error:
        typer.echo(f"drivers --method embeddings: {error}", err=True)
        raise typer.Exit(1) from error
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.as_json(), indent=2))
        return
    print_drivers(result, result.from_, result.to, method.value, console())
    typer.echo(as_of_line(started, settings.timezone))


def _driver_cell(kpis: dict[str, Any], name: str) -> str:
    from servicepulse.kpi.display import MISSING, format_kpi

    value = kpis[name].get("value")
    if name == "sentiment":  # -1..1, signed as on the page
        text = MISSING if value is None else f"{value:+.2f}"
    else:
        text = format_kpi(name, value)
    return text + ("*" if kpis[name].get("low_sample") else "")


def print_drivers(result: Any, first: date | None, last: date | None, method: str,
                  out: Console) -> None:
    """The drivers as the page shows them: the same topics, columns and units."""
    from servicepulse.insights.topics import METHOD_NAMES

    method = METHOD_NAMES.get(method, method)
    out.print(f"Contact drivers {first} to {last} (exclusive): {result.contacts:,} inbound "
              f"contacts with a subject or customer message"
              + (f", {result.unassigned:,} without a topic" if result.unassigned else "")
              + f"; topics from {method}", overflow="fold")
    if not result.topics:
        out.print("No contacts with text in this window.")
        return
    # a rule under the header only, as `kpi`'s: at 80 columns the labels keep 20 of them
    rows = [[topic.topic, f"{topic.contacts:,}", f"{topic.share:.1f}%",
             *(_driver_cell(topic.kpis, name) for name in
               ("fcr", "aht", "csat", "repeat_contact_rate", "sentiment"))]
            for topic in result.topics]
    # a rule under the header only, as `kpi`'s; the numbers never wrap (a long header wraps
    # over its words) and the topic labels take the rest of the width
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), pad_edge=False,
                  header_style="bold")
    table.add_column("Topic", overflow="fold")
    headers = ("Contacts", "Share", "FCR", "AHT", "CSAT", "Repeat contacts", "Sentiment")
    widths = [max([len(row[index]) for row in rows] + [len(w) for w in header.split()])
              for index, header in enumerate(headers, start=1)]
    whole = [max(width, len(header)) for width, header in zip(widths, headers, strict=True)]
    # headers on one line if the topics still keep 24 columns, else wrapped over their words
    if sum(w + 2 for w in whole) + 24 <= out.width:
        widths = whole
    for header, width in zip(headers, widths, strict=True):
        table.add_column(header, justify="right", min_width=width, max_width=width)
    for row in rows:
        table.add_row(*row)
    out.print(table)
    out.print("* = low sample. A topic's label is the words most of its contacts use and "
              "few others do; --format json lists more of them and example texts.",
              overflow="fold")


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
    from servicepulse.kpi.engine import run_kpi_query
    from servicepulse.kpi.query import KpiQuery
    from servicepulse.kpi.results import KpiFigure
    from servicepulse.kpi.sources import DIMENSIONS, local_midnight

    dimensions = _names(by, "--by", DIMENSIONS)
    engine = state(ctx).engine()
    settings = state(ctx).kpi_settings()
    first, last = default_window(engine, *_dates(from_, to), settings)
    with engine.begin() as connection:
        scoring = score_texts(connection, rescore=rescore)
    result = run_kpi_query(engine, KpiQuery.model_validate(
        {"by": dimensions, "from": first, "to": last, "kpis": ["sentiment"]}), settings)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.timezone)
    with engine.connect() as connection:
        rows = coverage(connection, local_midnight(first, zone), local_midnight(last, zone))
    if output is OutputFormat.json:
        typer.echo(json.dumps({
            "from": result.from_.isoformat(), "to": result.to.isoformat(), "by": dimensions,
            "scored_now": scoring.scored, "rows": [row.to_json() for row in result.rows],
            "coverage": [{"source": row.source_kind, "language": row.language,
                          "label": row.label, "texts": row.texts} for row in rows],
        }, indent=2))
        return
    console().print(f"scored {scoring.texts} new or changed texts; "
                  f"{result.from_} to {result.to} (exclusive)")
    table = Table(title="Sentiment (mean VADER compound, -1..1)")
    for name in dimensions:
        table.add_column(name)
    for column in ("mean", "n", "positive %", "neutral %", "negative %", "unscored"):
        table.add_column(column, justify="right")
    for row in result.rows:
        figure = row.figure("sentiment") or KpiFigure(None, 0)
        table.add_row(*[str(row.group.get(name) or "—") for name in dimensions],
                      _number(figure.value, 3), str(figure.n),
                      _number(figure.extra("positive"), 1),
                      _number(figure.extra("neutral"), 1),
                      _number(figure.extra("negative"), 1), str(figure.extra("unscored", 0)))
    console().print(table)
    languages = Table(title="Coverage: texts by source and language")
    for column in ("source", "language", "label", "texts"):
        languages.add_column(column, justify="right" if column == "texts" else "left")
    for item in rows:
        languages.add_row(item.source_kind, item.language or "—", item.label, str(item.texts))
    console().print(languages)


# --- anomalies ----------------------------------------------------------------------------



def anomalies(
    ctx: typer.Context,
    kpi: Annotated[str | None, typer.Option(
        "--kpi", help="KPI names, comma-separated; default the anomalies page's: contacts, "
                      "frt_within_target, aht, fcr, csat, abandon_rate, sentiment.")] = None,
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
    from servicepulse.insights.anomalies import AnomalySettings, find_kpi_anomalies
    from servicepulse.kpi.definitions import KPIS
    from servicepulse.kpi.sources import DIMENSIONS

    if kpi is None:  # the page's list, one default for both
        from servicepulse.insights.anomalies import ANOMALY_KPIS

        kpi = ",".join(ANOMALY_KPIS)
    names = _names(kpi, "--kpi", list(KPIS))
    if not names:
        raise typer.BadParameter("name at least one KPI", param_hint="--kpi")
    dimensions = _names(by, "--by", DIMENSIONS)
    engine = state(ctx).engine()
    settings = state(ctx).kpi_settings()
    # the anomalies page's window
    first, last = default_window(engine, *_dates(from_, to), settings)
    found = find_kpi_anomalies(engine, names, first, last, by=dimensions,
                               anomaly_settings=AnomalySettings(threshold=threshold,
                                                                weeks=weeks, min_n=min_n),
                               settings=settings)
    if output is OutputFormat.json:
        typer.echo(json.dumps({
            "from": first.isoformat(), "to": last.isoformat(), "kpis": names,
            "by": dimensions, "threshold": threshold, "weeks": weeks,
            "anomalies": [item.model_dump(mode="json") for item in found],
        }, indent=2))
        return
    if not found:
        console().print(f"no anomalies from {first} to {last} (exclusive) in {', '.join(names)}")
        return
    from servicepulse.kpi.definitions import KPIS as DEFINITIONS
    from servicepulse.kpi.display import format_kpi, format_kpi_change

    console().print(f"KPI anomalies {first} to {last} (exclusive): days far from the same "
                  f"weekday's median of the {weeks} weeks before", overflow="fold")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), pad_edge=False,
                  header_style="bold")
    table.add_column("day", no_wrap=True)
    table.add_column("KPI", overflow="fold")
    for name in dimensions:
        table.add_column(name, overflow="fold")
    for column in ("value", "baseline", "expected", "change", "robust z", "worse"):
        table.add_column(column, justify="right", no_wrap=True)
    for item in found:
        name = item.kpi or ""
        label = DEFINITIONS[name].label if name in DEFINITIONS else name
        table.add_row(item.day.isoformat(), label,
                      *[item.group.get(dimension) or "—" for dimension in dimensions],
                      format_kpi(name, item.value), format_kpi(name, item.baseline),
                      f"{format_kpi(name, item.expected_low)} to "
                      f"{format_kpi(name, item.expected_high)}",
                      format_kpi_change(name, item.deviation), _number(item.robust_z, 1),
                      "—" if item.worse is None else ("yes" if item.worse else "no"))
    console().print(table)
