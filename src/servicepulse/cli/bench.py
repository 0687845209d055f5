"""`servicepulse bench AREA`: each area of the product adds its benchmark here."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Measure performance; figures go into BENCHMARKS.md.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
