"""A metric across the runs in the store: one series per case (the one case identity, bench.core.case.case_key:
workload, tier, temp tier, engine, params, workers, cache, scenario step label, container memory), one point per
run (the median over that run's repeats), in chronological order of `started_at`, with change points.

Change points come from bench.analysis.stats.change_points (binary segmentation on the per-run medians, a split kept
when the level shifts by more than 5 noise units, noise = MAD of successive differences, and by at least 2%).
Each change point says whether the shift is better or worse for the metric's direction (bench.core.metric_registry.direction).
"""
from __future__ import annotations

import math

from bench.analysis import stats
from bench.analysis.compare import case_identity, group_cases, metric_values
from bench.core.errors import UserError
from bench.core.metric_registry import direction

__all__ = ["metric_history"]


def metric_history(docs: list, metric: str, workload=None, tier=None, engine=None, label=None,
                   z_threshold: float = 5.0, min_relative: float = 0.02, min_size: int = 3) -> dict:
    """{"metric", "filters", "runs", "series": [{case, points, change_points}]} from run documents.

    `docs` may come in any order; they are sorted by started_at (then run_id). A run that did not measure the
    metric for a case adds no point to that case's series. UserError when no run measured it.
    """
    ordered = sorted(docs, key=lambda d: (str(d.get("started_at") or ""), str(d.get("run_id"))))
    series: dict = {}
    for doc in ordered:
        for key, cases in group_cases(doc).items():
            c = cases[0]
            if (workload and c.get("workload") != workload) or (tier and c.get("tier") != tier) \
                    or (engine and c.get("engine") != engine) or (label and c.get("label") != label):
                continue
            values = metric_values(cases, metric)
            if not values:
                continue
            series.setdefault(key, []).append({
                "run_id": doc.get("run_id"), "started_at": doc.get("started_at"),
                "hostname": (doc.get("machine") or {}).get("hostname"),
                "median": stats.median(values), "n": len(values),
                "min": min(values), "max": max(values)})
    if not series:
        where = ", ".join(f"{k}={v}" for k, v in (("workload", workload), ("tier", tier), ("engine", engine),
                                                    ("label", label)) if v)
        raise UserError(f"no run in the store measured {metric}" + (f" for {where}" if where else "")
                        + f" ({len(docs)} run(s) read)")
    d = direction(metric)
    out = []
    for key, points in series.items():
        cps = stats.change_points([p["median"] for p in points], z_threshold, min_relative, min_size)
        changes = []
        for cp in cps:
            entry = cp.to_dict()
            # a level of 0 before (no ratio) or no spread (no z): none to give, and JSON has no inf
            entry.update({k: None for k, v in entry.items() if isinstance(v, float) and not math.isfinite(v)})
            entry["run_id"] = points[cp.index]["run_id"]
            entry["started_at"] = points[cp.index]["started_at"]
            entry["effect"] = ("better" if (cp.after > cp.before) == (d == 1) else "worse") if d in (1, -1) else "shift"
            # A step that coincides with a change of machine is likely the machine, not the code.
            entry["host_changed"] = points[cp.index - 1]["hostname"] != points[cp.index]["hostname"]
            changes.append(entry)
        hosts = sorted({str(p["hostname"]) for p in points})
        out.append({**case_identity(key), "hosts": hosts, "points": points, "change_points": changes})
    out.sort(key=lambda s: s["case"])
    return {"metric": metric, "direction": {1: "higher is better", -1: "lower is better", 0: "exact"}.get(d, "info"),
            "filters": {"workload": workload, "tier": tier, "engine": engine, "label": label},
            "method": {"name": "binary segmentation on per-run medians", "z_threshold": z_threshold,
                       "min_relative": min_relative, "min_segment": min_size,
                       "noise": "1.4826 * MAD(successive differences) / sqrt(2)"},
            "runs": len(ordered), "series": out}
