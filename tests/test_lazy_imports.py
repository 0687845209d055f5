"""The team leads' modules import scipy only where a figure needs it (issue 16).

scipy.stats costs a process about half a second to import, and scipy.special about 0.15 s
(it drags numpy.f2py and charset_normalizer along). The KPI engine and the scorecards import
them inside the functions that compute a quantile or a p-value, so importing those modules,
and a command that needs no such figure (`servicepulse health`), pays for neither. A
module-level `from scipy import ...` in any of them, or in what they import, fails the first
test. Checked by `sys.modules` in a fresh interpreter, never by a clock.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from servicepulse.scorecards import flags

# scipy's own array-API layer imports numpy.f2py, which imports charset_normalizer: neither
# comes in but through scipy, so they are checked too
LAZY = ("scipy", "numpy.f2py", "charset_normalizer")

PROBE = """
import json, sys
{code}
lazy = {lazy!r}
print(json.dumps(sorted(name for name in sys.modules
                        if any(name == top or name.startswith(top + ".") for top in lazy))))
"""


def loaded_lazy(code: str) -> list[str]:
    """The modules of LAZY (and their submodules) that `code` loads in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(code=code, lazy=LAZY)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_the_probe_sees_a_module_level_scipy_import() -> None:
    # the check can fail: what a module-level `from scipy import stats` loads is reported
    loaded = loaded_lazy("from scipy import stats")
    assert {"scipy", "scipy.stats", "scipy.special"} <= set(loaded)


@pytest.mark.parametrize("modules", [
    "servicepulse.scorecards.scorecard, servicepulse.kpi.engine",
    "servicepulse.scorecards.flags",
    "servicepulse.kpi.statistics",
    "servicepulse.kpi.kinds",
    "servicepulse.kpi.change",
    "servicepulse.scorecards.health",
])
def test_importing_the_team_leads_modules_loads_no_scipy(modules: str) -> None:
    assert loaded_lazy(f"import {modules}") == []


def test_a_t_interval_loads_scipy_special_not_scipy_stats() -> None:
    # the function that needs the t quantile loads what it computes with, and no more
    loaded = loaded_lazy("from servicepulse.scorecards import flags\n"
                         "flags.daily_interval([90.0, 88.0, 92.0])")
    assert "scipy.special" in loaded
    assert "scipy.stats" not in loaded


def test_the_daily_interval_uses_the_t_quantile() -> None:
    # five days 60, 62, 70, 64, 66: mean 64.4, sample std √14.8, t(0.975; 4) = 2.776445105...
    # (the tabled quantile, to 14 digits)
    low, high = flags.daily_interval([60, 62, 70, 64, 66])
    half = 2.7764451051978 * math.sqrt(14.8) / math.sqrt(5)
    assert low == pytest.approx(64.4 - half, rel=1e-13)
    assert high == pytest.approx(64.4 + half, rel=1e-13)
    assert (round(low, 2), round(high, 2)) == (59.62, 69.18)


def test_the_quantile_is_the_one_scipy_stats_gives() -> None:
    # stdtrit is the ufunc scipy.stats.t.ppf evaluates: the same float for every sample size
    from scipy import special, stats

    for degrees in range(1, 400):
        assert float(special.stdtrit(degrees, 0.975)) == float(stats.t.ppf(0.975, degrees))
