"""Scaling: throughput at each worker count of an otherwise identical case, with speedup, efficiency and the
bottleneck verdict at each step — so a user sees where scaling stops and whether the CPUs or the device
stopped it. Throughput: terasort's `sorted_bytes_per_s` (input over map + reduce), a job's input bytes / wall, else bytes read + written per second."""
from __future__ import annotations

import json
import statistics


def throughput(metrics: dict):
    if metrics.get("sorted_bytes_per_s"):
        return metrics["sorted_bytes_per_s"]
    if metrics.get("input_bytes") and metrics.get("wall_s"):
        return metrics["input_bytes"] / metrics["wall_s"]
    parts = [metrics.get("read_bytes_per_s"), metrics.get("write_bytes_per_s")]
    parts = [p for p in parts if p is not None]
    return sum(parts) if parts else None


def scaling(doc: dict) -> list:
    """One row per (workload, tier, temp tier, params, label) x worker count, when 2+ counts were measured."""
    groups: dict = {}
    for c in doc.get("cases", []):
        if c.get("error") or c.get("workers") is None:
            continue
        params = {k: v for k, v in (c.get("params") or {}).items() if k != "numjobs"}
        label = (c.get("label") or "").split("-")[0] if (c.get("label") or "").startswith("scale-") else c.get("label")
        key = (c["workload"], c["tier"], c.get("temp_tier"), c.get("engine"), json.dumps(params, sort_keys=True),
               bool(c.get("cache")), label)
        groups.setdefault(key, {}).setdefault(c["workers"], []).append(c)
    rows = []
    for (workload, tier, temp, engine, _, _, _), by_workers in groups.items():
        if len(by_workers) < 2:
            continue
        base_workers = min(by_workers)
        values = {w: [t for t in (throughput(c["metrics"]) for c in cases) if t is not None]
                  for w, cases in by_workers.items()}
        if not values[base_workers]:
            continue
        base = statistics.median(values[base_workers])
        for w in sorted(by_workers):
            if not values[w]:
                continue
            tp = statistics.median(values[w])
            speedup = tp / base
            verdicts = sorted({c.get("bottleneck") or "unknown" for c in by_workers[w]})
            rows.append({"workload": workload, "tier": tier, "temp_tier": temp, "engine": engine, "workers": w,
                         "throughput": tp, "throughput_unit": "bytes_per_s", "speedup": speedup,
                         "efficiency": speedup / (w / base_workers), "bottleneck": "/".join(verdicts),
                         "repeats": len(values[w])})
    return rows
