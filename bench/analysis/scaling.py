"""Scaling: throughput at each worker count of an otherwise identical case, with speedup, efficiency and the
bottleneck verdict at each step — so a user sees where scaling stops and whether the CPUs or the device
stopped it. Throughput: terasort's `sorted_bytes_per_s` (input over map + reduce), a job's input bytes / wall, else bytes read + written per second."""
from __future__ import annotations

import json

from bench.analysis.stats import median
from bench.core.case import CASE_KEY_FIELDS, case_key, case_key_dict

SCALING_FIELDS = tuple(f for f in CASE_KEY_FIELDS if f != "workers")


def throughput(metrics: dict):
    if metrics.get("sorted_bytes_per_s"):
        return metrics["sorted_bytes_per_s"]
    if metrics.get("input_bytes") and metrics.get("wall_s"):
        return metrics["input_bytes"] / metrics["wall_s"]
    parts = [metrics.get("read_bytes_per_s"), metrics.get("write_bytes_per_s")]
    parts = [p for p in parts if p is not None]
    return sum(parts) if parts else None


def scaling_key(case: dict) -> tuple:
    """The one case identity (bench.core.case.case_key) without its worker count: the cases one scaling series
    compares. What restates the worker count goes with it: a pattern's `numjobs` param equal to `workers` (the
    plan sets it so) and a step label's `-<workers>` suffix (the scenario's scale-1, scale-2, ...)."""
    ident = case_key_dict(case_key(case))
    workers = ident.pop("workers")
    if ident["params"].get("numjobs") == workers:
        del ident["params"]["numjobs"]
    if isinstance(ident["label"], str) and ident["label"].endswith(f"-{workers}"):
        ident["label"] = ident["label"][:-len(f"-{workers}")]
    ident["params"] = json.dumps(ident["params"], sort_keys=True, default=str)
    return tuple(ident[f] for f in SCALING_FIELDS)


def scaling_key_dict(key: tuple) -> dict:
    """A scaling key back as a mapping (params decoded)."""
    d = dict(zip(SCALING_FIELDS, key))
    d["params"] = json.loads(d["params"])
    return d


def scaling(doc: dict) -> list:
    """One row per scaling series (scaling_key) x worker count, when 2+ worker counts were measured."""
    groups: dict = {}
    for c in doc.get("cases", []):
        if c.get("error") or c.get("workers") is None:
            continue
        groups.setdefault(scaling_key(c), {}).setdefault(c["workers"], []).append(c)
    rows = []
    for key, by_workers in groups.items():
        ident = scaling_key_dict(key)
        if len(by_workers) < 2:
            continue
        base_workers = min(by_workers)
        values = {w: [t for t in (throughput(c["metrics"]) for c in cases) if t is not None]
                  for w, cases in by_workers.items()}
        if not values[base_workers]:
            continue
        base = median(values[base_workers])
        for w in sorted(by_workers):
            if not values[w]:
                continue
            tp = median(values[w])
            speedup = tp / base
            verdicts = sorted({c.get("bottleneck") or "unknown" for c in by_workers[w]})
            rows.append({**ident, "workers": w,
                         "throughput": tp, "throughput_unit": "bytes_per_s", "speedup": speedup,
                         "efficiency": speedup / (w / base_workers), "bottleneck": "/".join(verdicts),
                         "repeats": len(values[w])})
    return rows
