"""`python -m servicepulse` is the `servicepulse` command."""

from servicepulse.cli.main import run

run()
