"""`servicepulse bench AREA`: each area of the product adds its benchmark here."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Measure performance; figures go into BENCHMARKS.md.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


@bench_app.command("connectors")
def bench_connectors(
    size: int = typer.Option(50_000, help="Source rows per format."),
    runs: int = typer.Option(3, min=1),
) -> None:
    """Rows per second each connector converts, against parsing the same file alone."""
    from servicepulse.bench.connectors import run_connectors_bench

    typer.echo(run_connectors_bench(size, runs))


@bench_app.command("qa")
def bench_qa(
    sizes: str = typer.Option("1000000", help="Interactions (a tenth of them reviewed), "
                                              "comma separated."),
    runs: int = typer.Option(5, min=1, help="Rounds (each query once a round); medians "
                                           "are reported."),
    sqlite: bool = typer.Option(True, help="Also load and query a SQLite store."),
    postgres_url: str = typer.Option(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="Server to create a scratch database on; '' to skip PostgreSQL."),
) -> None:
    """`kpi --by agent` with and without the internal quality score (IQS must add < 20%)."""
    from servicepulse.bench.qa import run_qa_bench

    typer.echo(run_qa_bench([int(size) for size in sizes.split(",") if size.strip()], runs,
                            sqlite, postgres_url or None))


@bench_app.command("import")
def bench_import(
    agents: int = typer.Option(500, help="Simulated agents (500 x 60 days: 1.04M interactions)."),
    days: int = typer.Option(60, help="Simulated days."),
    runs: int = typer.Option(3, min=1, help="Runs per store; the median is reported."),
    workers: int = typer.Option(1, min=0, help="Validation worker processes."),
    postgres_url: str = typer.Option(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="Server to create scratch databases on; '' to skip PostgreSQL."),
) -> None:
    """Records per second into SQLite and PostgreSQL for simulated data."""
    from servicepulse.bench.ingest import run_import_bench

    typer.echo(run_import_bench(agents, days, runs, postgres_url or None, workers))


@bench_app.command("views")
def bench_views(
    ctx: typer.Context,
    runs: int = typer.Option(3, min=1, help="Cold runs of each command per engine; medians."),
    write: bool = typer.Option(False, help="Also write the table into BENCHMARKS.md."),
    baseline: str = typer.Option("", help="A checkout of an earlier commit (its src is run "
                                          "as one more set-up), e.g. a git worktree."),
    skip: str = typer.Option("", help="Commands to leave out, comma separated (drivers,...)."),
    setups: str = typer.Option("", help="Set-ups to time, comma separated (kept, fresh, "
                                        "store); all when empty."),
) -> None:
    """The team lead's commands as cold processes on the --db store (the demo's by default),
    on the analytical path and on the store's own engine."""
    from servicepulse.bench.views import run_views_bench
    from servicepulse.cli.context import state

    url = state(ctx).engine().url.render_as_string(hide_password=False)
    from pathlib import Path

    markdown = run_views_bench(url, runs, baseline=Path(baseline) if baseline else None,
                               skip=tuple(name.strip() for name in skip.split(",") if name),
                               only=tuple(name.strip() for name in setups.split(",") if name))
    if write:
        from servicepulse.bench.report import write_section

        kind = state(ctx).engine().url.get_backend_name()
        write_section(f"views-{kind}", f"## Team-lead views on {kind}, cold "
                      "(`servicepulse bench views`)\n\n" + markdown)
    typer.echo(markdown)

