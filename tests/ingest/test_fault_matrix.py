"""The fault matrix: kills and concurrent writers never leave a wrong derived number.

Each case imports the same simulated centre into a fresh store under a fault (a SIGKILL inside
a batch's transaction, during the rollup rebuild, during sentiment scoring; two or four
imports at once), re-runs what was killed, and compares the store with a clean import
(tests/ingest/faults.py). On SQLite and on the real PostgreSQL server.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.ingest.faults import BATCH, assert_same, import_file, import_here, split_parts


@pytest.mark.parametrize("point, after", [("batch", 4), ("rollup", 1), ("sentiment", 100)])
def test_killed_import_then_rerun_equals_a_clean_import(
        centre: Path, new_store: Any, clean: dict[str, Any], point: str, after: int) -> None:
    url = new_store()
    killed = import_file(url, centre, kill=(point, after))
    assert killed.returncode == -9, killed.stderr.decode()  # SIGKILL, where asked
    summary = import_here(url, centre)  # the re-run
    if point == "batch":  # three batches committed, the fourth rolled back
        assert sum(summary["unchanged"].values()) == 3 * int(BATCH)
    else:  # every batch committed: the re-run finds every record stored already
        assert summary["inserted"] == {} and summary["updated"] == {}
    assert_same(url, clean)


# four importers at once on two cores: each waits on the others' batches and rebuilds (two
# importers, tested before, found nothing that four did not, at a minute of suite time)
@pytest.mark.parametrize("importers", [4])
def test_concurrent_imports_equal_a_clean_import(
        centre: Path, new_store: Any, clean: dict[str, Any], tmp_path: Path,
        importers: int) -> None:
    url = new_store()
    parts = split_parts(centre, tmp_path, importers)
    with ThreadPoolExecutor(importers) as pool:
        results = list(pool.map(lambda path: import_file(url, path), parts))
    for result in results:  # none failed because another ran
        assert result.returncode == 0, result.stderr.decode()
    assert_same(url, clean)
