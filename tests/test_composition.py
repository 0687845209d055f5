"""The composition root (servicepulse.composition): it registers the import hooks explicitly,
in the order they must run, once however often it is called, and loads no area until an
import needs the hooks (the command line calls it at its start)."""

from __future__ import annotations

import subprocess
import sys

from servicepulse.composition import compose
from servicepulse.ingest import hooks


def _names(functions: list[hooks.AfterBatch]) -> list[str]:
    return [f"{function.__module__}.{function.__qualname__}" for function in functions]


def test_the_hooks_in_their_order_once() -> None:
    compose()
    compose()  # idempotent: the app factory and the tests' fixture may both call it
    after_batch = _names(hooks.load_hooks())
    # business-hours durations first: the rollup marks and the alert checks read them
    assert after_batch == [
        "servicepulse.kpi.business_hours.refresh_after_import",
        "servicepulse.kpi.schedule.derive_shift_activities",
        "servicepulse.kpi.rollup.mark_dirty",
        "servicepulse.insights.sentiment.mark_texts",
        "servicepulse.scorecards.alerts.queue_touched_rules",
    ]
    assert _names(hooks.AFTER_IMPORT) == [
        "servicepulse.kpi.rollup.refresh_after_import",
        "servicepulse.insights.sentiment.score_after_batch",
    ]
    assert {f"{hook.__qualname__}": prepare.__qualname__
            for hook, prepare in hooks.PREPARED_AFTER_IMPORT.items()} == {
        "refresh_after_import": "prepare_refresh_after_import",
        "score_after_batch": "prepare_scoring"}
    compose()
    assert _names(hooks.load_hooks()) == after_batch


def test_composing_loads_no_area_until_an_import_runs() -> None:
    probe = (
        "import sys\n"
        "from servicepulse.composition import compose\n"
        "compose()\n"
        "areas = ('servicepulse.kpi', 'servicepulse.insights', 'servicepulse.scorecards',"
        " 'sqlalchemy')\n"
        "print(sorted({m for m in sys.modules if m.startswith(areas)}))\n"
        "from servicepulse.ingest import hooks\n"
        "hooks.load_hooks()\n"
        "print('servicepulse.kpi.rollup' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.splitlines() == ["[]", "True"]


def test_an_import_without_composing_is_refused() -> None:
    probe = (
        "from servicepulse.ingest import hooks\n"
        "try:\n"
        "    hooks.load_hooks()\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout == ("no import hooks installed: the program's start must call "
                           "compose() of servicepulse/composition.py\n")
