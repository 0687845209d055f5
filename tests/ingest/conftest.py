"""The fault matrix's fixtures (defined with its tools in tests/ingest/faults.py)."""

from tests.ingest.faults import backend, centre, clean, new_store

__all__ = ["backend", "centre", "clean", "new_store"]
