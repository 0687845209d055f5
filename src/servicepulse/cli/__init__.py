"""The `servicepulse` command line (Typer)."""
