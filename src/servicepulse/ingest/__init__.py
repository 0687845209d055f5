"""Ingest: readers per source format turn files into raw rows; the importer validates them,
upserts them idempotently, projects events onto interactions and quarantines bad rows."""
