"""Steady state, the SNIA Solid State Storage Performance Test Specification (PTS) way (docs/steady-state.md).

The rule (PTS Enterprise v2.0.2, "Steady State" definition): over a measurement window of the last
WINDOW_ROUNDS rounds of the workload, the tracked figure y (here IOPS; with a fixed block size, bandwidth moves
with it) is in steady state when
    - its data excursion, max(y) - min(y), is at most MAX_RANGE (20%) of the window's average, and
    - its slope excursion, the change of the least-squares line fitted to (round, y) across the window
      (|slope| x (WINDOW_ROUNDS - 1)), is at most MAX_SLOPE_EXCURSION (10%) of the average.
The test stops at the first window that meets both, or after MAX_ROUNDS rounds (25): then the device did not
reach steady state, which is a result to state (with the last window's figures), not a failure.
"""
from __future__ import annotations

from typing import Optional, Sequence

__all__ = ["WINDOW_ROUNDS", "MAX_RANGE", "MAX_SLOPE_EXCURSION", "MAX_ROUNDS", "ROUND_S", "judge"]

WINDOW_ROUNDS = 5
MAX_RANGE = 0.20
MAX_SLOPE_EXCURSION = 0.10
MAX_ROUNDS = 25
ROUND_S = 60.0      # PTS rounds are one minute per test point


def judge(values: Sequence[float], window: int = WINDOW_ROUNDS) -> dict:
    """The verdict on rounds' tracked figures, oldest first: {"steady", "window" ([first, last] round index
    or None), "average", "range", "range_limit", "slope_per_round", "slope_excursion", "slope_limit",
    "range_ok", "slope_ok", "reason"}. Fewer rounds than a window: not steady, figures None."""
    values = [float(v) for v in values]
    if len(values) < window:
        return {"steady": False, "window": None, "average": None, "range": None, "range_limit": None,
                "slope_per_round": None, "slope_excursion": None, "slope_limit": None, "range_ok": None,
                "slope_ok": None, "reason": f"{len(values)} round(s): a window needs {window}"}
    y = values[-window:]
    first = len(values) - window
    average = sum(y) / window
    spread = max(y) - min(y)
    slope = _slope(y)
    excursion = abs(slope) * (window - 1)
    range_limit, slope_limit = MAX_RANGE * average, MAX_SLOPE_EXCURSION * average
    range_ok, slope_ok = average > 0 and spread <= range_limit, average > 0 and excursion <= slope_limit
    reasons = []
    if not range_ok:
        reasons.append(f"range {_pct(spread, average)} of the average (limit {MAX_RANGE:.0%})")
    if not slope_ok:
        reasons.append(f"slope excursion {_pct(excursion, average)} of the average (limit {MAX_SLOPE_EXCURSION:.0%})")
    return {"steady": range_ok and slope_ok, "window": [first, first + window - 1], "average": average,
            "range": spread, "range_limit": range_limit, "slope_per_round": slope, "slope_excursion": excursion,
            "slope_limit": slope_limit, "range_ok": range_ok, "slope_ok": slope_ok,
            "reason": "; ".join(reasons) or (f"range {_pct(spread, average)} and slope excursion "
                                             f"{_pct(excursion, average)} of the average are within the limits")}


def _slope(y: list) -> float:
    """Least-squares slope of y over x = 0, 1, ... (per round)."""
    n = len(y)
    mean_x, mean_y = (n - 1) / 2, sum(y) / n
    sxx = sum((x - mean_x) ** 2 for x in range(n))
    return sum((x - mean_x) * (v - mean_y) for x, v in enumerate(y)) / sxx


def _pct(part: float, whole: float) -> Optional[str]:
    return f"{part / whole:.1%}" if whole else "undefined (average 0)"
