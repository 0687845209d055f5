"""Benchmarks (`servicepulse bench AREA`): medians of repeated runs, written into BENCHMARKS.md."""
