"""What every reader yields: one raw row with where it came from.

Readers (canonical JSON Lines and CSV here, connectors in `servicepulse.ingest.connectors`)
never validate and never raise for bad input: a row they cannot read becomes a SourceRow with
`error` set, which the importer quarantines with its source and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servicepulse.records.validate import RecordError


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: str  # file path, "api", or "<connector>:<path>"
    line: int | None  # 1-based line (JSON Lines) or row number counting the header (CSV)
    # raw canonical record (field names of docs/records.md); None with no `error` means `raw` is
    # a JSON line the importer parses itself (in its worker processes when parallel)
    data: dict[str, Any] | None
    raw: str  # the text as read, kept in the quarantine so a fix can be retried
    error: RecordError | None = None  # set when the row could not even be read
    default_kind: str | None = None  # kind implied by the file (per-kind CSV) when no "type"

    def __reduce__(self) -> tuple[type[SourceRow], tuple[Any, ...]]:
        # to a worker process as a plain tuple: the default pickling of a slots dataclass
        # costs several times more than validating the row there saves
        return (SourceRow, (self.source, self.line, self.data, self.raw, self.error,
                            self.default_kind))
