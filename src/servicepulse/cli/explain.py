"""`servicepulse explain`: why a rate or mean KPI changed between two periods.

Contract (scripts depend on it):
`servicepulse [--db URL] explain --kpi K --from D --to D --against-from D --against-to D
--by DIM[,DIM...] [--filter DIM=VALUE[,VALUE...]] [--format table|json]`; `--to` and
`--against-to` exclusive. Without the `--against-*` days, the period of the same length just
before `--from`. JSON: `{"kpi", "value", "previous", "change", "contributions": [{"dimension",
"group", "mix", "rate", "total", ...}]}`, contributions sorted by the size of `total`; each
dimension's totals add up to `change` exactly (see servicepulse.kpi.change).
A KPI that is not a rate or a mean, or a dimension its records do not carry, exits with
code 2 and says which KPIs and dimensions can be asked.
"""

from __future__ import annotations

import sys
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from servicepulse.cli.context import parse_date, state

if TYPE_CHECKING:
    from servicepulse.kpi.change import Explanation


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _filters(values: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in values:
        name, sep, allowed = item.partition("=")
        if not sep or not allowed:
            raise typer.BadParameter(f"{item!r} is not DIM=VALUE[,VALUE...]",
                                     param_hint="--filter")
        filters.setdefault(name.strip(), []).extend(_split(allowed))
    return filters


def _required(value: date | None, option: str) -> date:
    if value is None:
        raise typer.BadParameter("give a day, YYYY-MM-DD", param_hint=option)
    return value


def render_table(explanation: Explanation, console: Console) -> None:
    """The change, then one row per group: its share and value in both periods, the mix,
    rate and total effect, and whether its own change is significant."""
    from servicepulse.kpi.change import format_effect, group_text
    from servicepulse.kpi.display import format_kpi, format_unit

    kpi = explanation.kpi
    (first, end), (before_first, before_end) = explanation.period, explanation.against
    console.print(
        f"{kpi}: {format_kpi(kpi, explanation.previous)} ({before_first} to {before_end}) → "
        f"{format_kpi(kpi, explanation.value)} ({first} to {end}; end days exclusive): "
        f"change {format_effect(kpi, explanation.change)}", style="bold", overflow="fold")
    # a table per dimension (its totals add up to the change), narrow enough for 80 columns
    for dimension in explanation.by:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      collapse_padding=True, title=f"By {dimension}", title_justify="left",
                      title_style="bold")
        table.add_column(dimension.capitalize(), overflow="fold", min_width=len(dimension))
        for header in ("Share\nthen", "Share\nnow", "Then", "Now", "Mix", "Rate", "Total",
                       "Signi-\nficant"):
            table.add_column(header, justify="right", no_wrap=True)
        for item in explanation.contributions:
            if item.dimension != dimension:
                continue
            table.add_row(
                group_text(item.dimension, item.group),
                format_unit("percent", item.previous_share), format_unit("percent", item.share),
                format_kpi(kpi, item.previous_value), format_kpi(kpi, item.value),
                format_effect(kpi, item.mix), format_effect(kpi, item.rate),
                format_effect(kpi, item.total),
                "–" if item.significant is None else "yes" if item.significant else "no")
        console.print(table)
    console.print("Mix: the group's share of the population moved; rate: the group's own value "
                  "moved. Each dimension's totals add up to the change. Significant: the "
                  "group's own change at 95% (– when a period has fewer than the minimum "
                  "sample).", overflow="fold")


def register(app: typer.Typer) -> None:
    @app.command("explain")
    def explain_command(
        ctx: typer.Context,
        kpi: Annotated[str, typer.Option(
            "--kpi", help="A rate or mean KPI: fcr, csat, aht, service_level, abandon_rate, "
                          "nps, ... (docs/kpis.md, 'Why did it change').")],
        by: Annotated[str, typer.Option(
            "--by", help="Split by DIM[,DIM...]: agent, team, role, channel, queue, category, "
                         "language, segment (each dimension split on its own).")],
        from_: Annotated[str, typer.Option(
            "--from", help="First day of the period explained (YYYY-MM-DD).")],
        to: Annotated[str, typer.Option(
            "--to", help="Day after its last (YYYY-MM-DD, exclusive).")],
        against_from: Annotated[str | None, typer.Option(
            "--against-from", help="First day of the period compared with (default: the "
                                   "period of the same length just before --from).")] = None,
        against_to: Annotated[str | None, typer.Option(
            "--against-to", help="Day after its last (exclusive; default --from).")] = None,
        filter_: Annotated[list[str] | None, typer.Option(
            "--filter", help="Keep only DIM=VALUE[,VALUE...] (repeatable).")] = None,
        output: Annotated[OutputFormat, typer.Option(
            "--format", help="table or json.")] = OutputFormat.table,
    ) -> None:
        """Why a KPI changed: the change split into each group's mix and rate effect."""
        from servicepulse.kpi.change import ExplainError, explain_change, store_runner

        first = _required(parse_date(from_, "--from"), "--from")
        end = _required(parse_date(to, "--to"), "--to")
        if end <= first:
            raise typer.BadParameter(f"{end} is not after --from {first}: --to is exclusive",
                                     param_hint="--to")
        before_end = parse_date(against_to, "--against-to") or first
        before_first = parse_date(against_from, "--against-from") or (before_end - (end - first))
        if before_end <= before_first:
            raise typer.BadParameter(f"{before_end} is not after --against-from {before_first}"
                                     ": --against-to is exclusive", param_hint="--against-to")
        settings = state(ctx).kpi_settings()
        try:
            explanation = explain_change(
                store_runner(state(ctx).engine(), settings), kpi, (first, end),
                (before_first, before_end), _split(by), _filters(filter_ or []),
                minimum_sample=settings.minimum_sample)
        except ExplainError as error:  # bad filters included (said by the query model)
            raise typer.BadParameter(str(error)) from None
        if output is OutputFormat.json:
            import orjson

            sys.stdout.write(orjson.dumps(explanation.as_dict(),
                                          option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            render_table(explanation, Console())
