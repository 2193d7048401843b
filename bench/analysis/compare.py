"""Compare two runs (a regression gate) or several machines (cost-normalised figures).

The gate (`compare_runs`): cases are matched by the one case identity, bench.core.case.case_key (workload, tier,
temp tier, engine, params, workers, cache, scenario step label, container memory); repeats of a case are its
samples, so every scenario step is its own case. For each metric measured on both sides it reports median(NEW) / median(BASE), a seeded percentile
bootstrap CI of that ratio (bench.analysis.stats) and a one-sided Mann-Whitney U p-value in the direction of the
change (each threshold names its direction in advance), and decides:

    regressed     the whole CI lies beyond the threshold in the bad direction, and p <= alpha
    improved      the whole CI lies beyond the threshold in the good direction, and p <= alpha
    unchanged     the whole CI lies within [1 - t, 1 + t]
    inconclusive  anything else: the CI straddles a threshold; fewer than 3 repeats a side ("n<3"); or the CI
                  clears the threshold but p > alpha (3 against 3 reach p = 0.05 only when every NEW value lies
                  beyond every BASE value; 4 against 4 reach 0.0143, 5 against 5 0.00397)

`strict`: a gating metric that is inconclusive fails the gate (listed as such), and so does every gating metric of
a case measured while the machine was contended (bench.execution.contention) on either side.

Direction: higher is better for iops, *_iops, *_bytes_per_s, iops_per_gb; lower is better for lat_*_us, wall_s,
*_wall_s, cpu_s. Exact counts (bytes_read, bytes_written, ops_read, ops_written) are "equal" or "changed".
Anything else (cpu_util, device_util, ...) is informational: "unchanged", "changed" or "inconclusive".

Thresholds: defaults iops/throughput -5%, latency +10%, wall/cpu time +5%, exact 0%, informational 10%.
`--fail METRIC:[+-]N%` (METRIC may be a glob such as `lat_*_us`) sets a threshold; when any --fail is given only
the metrics it names gate the exit code, otherwise every directional metric gates at its default. A case that
failed (every repeat has an error) in NEW but not in BASE fails the gate too.

pytest-benchmark JSON files (keys "benchmarks" and "machine_info") are read directly: `load_pytest_benchmark`.
"""
from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bench.analysis import stats
from bench.core.case import case_key as _case_key
from bench.core.case import case_key_dict
from bench.core.errors import UserError
from bench.core.metric_registry import default_threshold, direction
from bench.core.userfile import RUN_DOCUMENT, load_user_json

__all__ = ["Threshold", "parse_fail", "load_any", "load_pytest_benchmark",
           "incompatibilities", "compare_runs", "compare_metric", "group_cases", "case_label",
           "case_key", "case_identity"]

ALPHA = 0.05
CONFIDENCE = 0.95
RESAMPLES = 2000
MIN_REPEATS = 3
_P_EPS = 1e-12    # 3 against 3 gives exactly 1/20; never let float rounding push it past alpha
GATING_VERDICTS = frozenset({"regressed", "changed", "failed"})
MATCHED_BY = "workload, tier, temp tier, engine, parameters, workers, cache, step label and container memory"


@dataclass(frozen=True)
class Threshold:
    """A --fail expression: `pattern` (metric name or glob), tolerated change `fraction` (>= 0), `sign` given."""
    pattern: str
    fraction: float
    sign: str
    expr: str

    def matches(self, metric: str) -> bool:
        return fnmatch.fnmatchcase(metric, self.pattern)


_FAIL_RE = re.compile(r"^\s*([A-Za-z0-9_*?\[\]]+)\s*:\s*([+-]?)\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_fail(expr: str) -> Threshold:
    """`iops:-5%`, `lat_p99_us:+10%`, `lat_*_us:+10%`, `bytes_written:0%` -> Threshold; UserError if malformed."""
    m = _FAIL_RE.match(expr or "")
    if not m:
        raise UserError(f"--fail {expr!r}: expected METRIC:[+-]N% (e.g. iops:-5%, lat_p99_us:+10%)")
    pattern, sign, number = m.groups()
    fraction = float(number) / 100.0
    if fraction >= 1.0 and sign == "-":
        raise UserError(f"--fail {expr!r}: a drop of {number}% or more is not a threshold a ratio can cross")
    d = direction(pattern) if not any(c in pattern for c in "*?[") else None
    if d == 1 and sign == "+":
        raise UserError(f"--fail {expr!r}: {pattern} is higher-is-better, so its threshold is a drop (e.g. {pattern}:-5%)")
    if d == -1 and sign == "-":
        raise UserError(f"--fail {expr!r}: {pattern} is lower-is-better, so its threshold is a rise (e.g. {pattern}:+10%)")
    return Threshold(pattern, fraction, sign, expr.strip())


# -- loading ------------------------------------------------------------------------------------------------

def load_pytest_benchmark(path) -> dict:
    """A pytest-benchmark JSON file as a run-document-like dict (schema_version 1).

    Each benchmark becomes one case (workload = fullname, engine "pytest-benchmark", tier None). When the file
    holds the rounds (`stats.data`: always with --benchmark-json, with --benchmark-save only when
    --benchmark-save-data is given) they are the repeats: one case entry per round, metric wall_s in seconds per
    call. Without them there is one entry with wall_s = median and `summary` {rounds, min, median, q1, q3, iqr,
    mean, stddev}: compare then has no raw data to bootstrap and decides from the IQRs.
    """
    path = Path(path)
    data = load_user_json(path, what="pytest-benchmark file", limit=RUN_DOCUMENT)
    if not is_pytest_benchmark(data):
        raise UserError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' and 'machine_info')")
    info = data.get("machine_info") or {}
    cpu = info.get("cpu") or {}
    cases = []
    for bench in data.get("benchmarks") or []:
        st = bench.get("stats") or {}
        name = bench.get("fullname") or bench.get("name")
        base = {"workload": name, "tier": None, "engine": "pytest-benchmark",
                "params": dict(bench.get("params") or {}), "error": None, "bottleneck": "unknown", "phases": [],
                "group": bench.get("group"), "extra_info": bench.get("extra_info") or {}}
        raw = [float(v) for v in (st.get("data") or [])]
        if raw:
            for i, value in enumerate(raw):
                cases.append(dict(base, id=f"{name}#{i}", repeat=i, metrics={"wall_s": value}))
        elif st.get("median") is not None:
            summary = {k: st.get(k) for k in ("rounds", "min", "median", "q1", "q3", "iqr", "mean", "stddev")}
            cases.append(dict(base, id=name, repeat=0, metrics={"wall_s": float(st["median"])}, summary=summary))
    return {
        "schema_version": 1, "run_id": path.stem, "status": "complete",
        "started_at": data.get("datetime"), "finished_at": data.get("datetime"),
        "harness_version": f"pytest-benchmark {data.get('version', '?')}",
        "source": {"format": "pytest-benchmark", "file": path.name, "commit": data.get("commit_info")},
        "machine": {"hostname": info.get("node"), "cpu_model": cpu.get("brand_raw") or info.get("processor"),
                    "cpus": cpu.get("count"), "python": info.get("python_version"), "memory_bytes": None,
                    "kernel": info.get("release"), "product_name": None, "fio_version": None,
                    "pyarrow": None, "polars": None},
        "tiers": [], "cases": cases,
    }


def is_pytest_benchmark(data) -> bool:
    return isinstance(data, dict) and "benchmarks" in data and "machine_info" in data


def load_any(ref: str, store) -> dict:
    """A run from the store (id, prefix, `latest`, run folder, run.json) or a pytest-benchmark JSON file."""
    path = Path(ref)
    if path.is_file() and path.name != "run.json":
        data = load_user_json(path, what="run file", limit=RUN_DOCUMENT)
        if is_pytest_benchmark(data):
            return load_pytest_benchmark(path)
        if isinstance(data, dict) and "schema_version" in data and "cases" in data:
            from bench.store.runs import check_schema
            return check_schema(data, ref)
        raise UserError(f"{ref}: neither a run document nor a pytest-benchmark JSON file")
    return store.load(ref)


# -- matching -----------------------------------------------------------------------------------------------

def case_key(case: dict) -> tuple:
    """The one case identity, bench.core.case.case_key (workload, tier, temp tier, engine, params, workers, cache,
    step label, container memory, fio server host): repeats share it, and two runs' cases match on it."""
    return _case_key(case)


def case_label(key: tuple) -> str:
    """A case key as users read it, naming only what is set: `terasort step=d data=hdd temp=optane workers=1
    records=...`, `rand-read-4k tier=nvme engine=fio bs=4096,iodepth=32`. A job names its tiers data= and
    temp=; its engine ("job") goes unsaid; numjobs is left out where it is the worker count."""
    d = case_key_dict(key)
    job = d["engine"] == "job" or d["temp_tier"] is not None
    parts = [str(d["workload"])]
    if d["label"]:
        parts.append(f"step={d['label']}")
    if d["tier"]:
        parts.append(f"{'data' if job else 'tier'}={d['tier']}")
    if d["temp_tier"]:
        parts.append(f"temp={d['temp_tier']}")
    if d["engine"] and d["engine"] != "job":
        parts.append(f"engine={d['engine']}")
    if d["workers"] is not None:
        parts.append(f"workers={d['workers']}")
    if d["cache"]:
        parts.append("cache")
    if d["memory_mb"]:
        parts.append(f"container={d['memory_mb']}MB")
    if d.get("host"):
        parts.append(f"host={d['host']}")
    params = {k: v for k, v in d["params"].items() if not (k == "numjobs" and v == d["workers"])}
    if params:
        parts.append(",".join(f"{k}={v}" for k, v in sorted(params.items())))
    return " ".join(parts)


def case_identity(key: tuple) -> dict:
    """The identity fields of a case key (CASE_KEY_FIELDS, params decoded) and its label, for JSON output."""
    return dict(case_key_dict(key), case=case_label(key))


def group_cases(doc: dict) -> dict:
    """{case_key: [case, ...]} in document order; repeats of one case share a key."""
    groups: dict = {}
    for case in doc.get("cases") or []:
        groups.setdefault(case_key(case), []).append(case)
    return groups


def metric_values(cases: list, metric: str) -> list:
    out = []
    for c in cases:
        if c.get("error"):
            continue
        v = (c.get("metrics") or {}).get(metric)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


def median_metric(cases: list, metric: str):
    """The median of a metric over the cases that measured it (failed cases left out); None when none did."""
    return stats.median(metric_values(cases, metric))


def incompatibilities(base: dict, new: dict, keys=None, fields=None) -> list:
    """Reasons two runs cannot be gated against each other: a different hardware class of machine or of the
    tiers the matched cases used (bench.analysis.machine_class: CPU model, cores, memory, each tier's class,
    device model, emulation parameters and nominal capacity by default; `fields` as --same-class-as names them).
    Hostnames, loop device numbers and temporary paths never block a gate unless `fields` names them."""
    from bench.analysis.machine_class import CLASS_FIELDS, class_differences

    reasons = []
    for doc in (base, new):
        if doc.get("imported") and (doc.get("machine") or {}).get("hostname") in (None, "unknown"):
            # fio's local output names no machine: an import is never the same machine as anything
            reasons.append(f"run {doc.get('run_id')} is imported from fio output that does not say which machine "
                           f"measured it")
    if reasons:
        return reasons
    tb = {t.get("name") for t in base.get("tiers") or []}
    tn = {t.get("name") for t in new.get("tiers") or []}
    used = ({d[f] for d in map(case_key_dict, keys) for f in ("tier", "temp_tier")} if keys is not None
            else tb | tn)
    return class_differences(base, new, used, fields or CLASS_FIELDS)


# -- one metric ---------------------------------------------------------------------------------------------

def _summary_of(cases: list) -> Optional[dict]:
    if len(cases) == 1 and cases[0].get("summary"):
        return cases[0]["summary"]
    return None


def compare_metric(metric: str, base_values: list, new_values: list, threshold: float,
                   base_summary: Optional[dict] = None, new_summary: Optional[dict] = None, seed: int = 0) -> dict:
    """Ratio, CI, p-value and verdict for one metric of one matched case (see the module docstring)."""
    d = direction(metric)
    out = {"metric": metric, "direction": {1: "higher", -1: "lower", 0: "exact", None: "info"}[d],
           "n_base": len(base_values), "n_new": len(new_values),
           "median_base": stats.median(base_values),
           "median_new": stats.median(new_values),
           "ratio": None, "ci_low": None, "ci_high": None, "p_value": None, "p_alternative": None,
           "threshold_percent": round(-threshold * 100 if d == 1 else threshold * 100, 6),
           "verdict": "inconclusive", "reason": ""}
    if not base_values or not new_values:
        out["reason"] = "measured on one side only"
        return out
    if out["median_base"]:
        out["ratio"] = out["median_new"] / out["median_base"]
    if d == 0:
        same = set(base_values) == set(new_values)
        ratio = out["ratio"] if out["ratio"] is not None else (1.0 if same else math.inf)
        out["verdict"] = "equal" if same else ("changed" if abs(ratio - 1.0) > threshold else "equal")
        out["reason"] = "" if same else "exact counts differ between the runs"
        return out
    if base_summary is not None or new_summary is not None:
        return _judge_summaries(out, d, threshold, base_summary, new_summary)
    ci = stats.bootstrap_ratio_ci(base_values, new_values, RESAMPLES, CONFIDENCE, seed)
    out["ci_low"], out["ci_high"] = ci.low, ci.high
    if out["ratio"] is None:
        out["reason"] = "base median is 0"
        return out
    # One-sided, in the direction of the change: a regression (or improvement) is a claim about one direction,
    # which each threshold fixes in advance; 3 against 3 completely separated reaches p = 0.05.
    out["p_alternative"] = "less" if out["ratio"] < 1.0 else "greater"
    out["p_value"] = stats.mann_whitney_p(base_values, new_values, out["p_alternative"])
    if len(base_values) < MIN_REPEATS or len(new_values) < MIN_REPEATS:
        out["verdict"], out["reason"] = "inconclusive", f"n<{MIN_REPEATS}"
        return out
    lo, hi = ci.low, ci.high
    low_bound, high_bound = 1.0 - threshold, 1.0 + threshold
    if low_bound <= lo and hi <= high_bound:
        out["verdict"] = "unchanged"
        return out
    beyond_high, beyond_low = lo > high_bound, hi < low_bound
    if not (beyond_high or beyond_low):
        out["reason"] = "CI straddles the threshold"
        return out
    if d is None:
        out["verdict"] = "changed"
        return out
    if out["p_value"] is None or out["p_value"] > ALPHA + _P_EPS:
        floor = stats.min_attainable_p(len(base_values), len(new_values), one_sided=True)
        out["reason"] = (f"too few repeats for p<={ALPHA} (smallest possible p {floor:.3g})" if floor > ALPHA + _P_EPS
                         else f"p={out['p_value']:.3g} > {ALPHA}")
        return out
    good = beyond_high if d == 1 else beyond_low
    out["verdict"] = "improved" if good else "regressed"
    return out


def _judge_summaries(out: dict, d: Optional[int], threshold: float, bs: Optional[dict], ns: Optional[dict]) -> dict:
    """Without raw rounds: a verdict only when the interquartile ranges do not overlap and the ratio clears the
    threshold; otherwise inconclusive (nothing to bootstrap)."""
    out["reason"] = "no raw data (summaries only)"
    if not bs or not ns or out["ratio"] is None or None in (bs.get("q1"), bs.get("q3"), ns.get("q1"), ns.get("q3")):
        return out
    separated = ns["q1"] > bs["q3"] or ns["q3"] < bs["q1"]
    ratio = out["ratio"]
    beyond = ratio > 1.0 + threshold or ratio < 1.0 - threshold
    if not (separated and beyond) or d is None:
        out["reason"] += ": IQRs overlap or the gap is within the threshold"
        return out
    good = (ratio > 1.0) == (d == 1)
    out["verdict"] = "improved" if good else "regressed"
    out["reason"] += ": IQRs do not overlap"
    return out


# -- two runs -----------------------------------------------------------------------------------------------

def _threshold_for(metric: str, fails: list) -> tuple:
    """(fraction, gating, source) for a metric: the last matching --fail wins."""
    for t in reversed(fails):
        if t.matches(metric):
            return t.fraction, True, t.expr
    return default_threshold(metric), not fails and direction(metric) in (1, -1), "default"


def compare_runs(base: dict, new: dict, fails: Optional[list] = None, across_machines: bool = False,
                 strict: bool = False, same_class: Optional[tuple] = None) -> dict:
    """The gate's result as one JSON-ready dict; `exit_code` 0 pass, 1 regression (or, with `strict`, an
    inconclusive or contended gating metric). `same_class`: the hardware-class fields that must match
    (bench.analysis.machine_class; default its CLASS_FIELDS). UserError on bad input."""
    fails = list(fails or [])
    gb, gn = group_cases(base), group_cases(new)
    common = [k for k in gb if k in gn]
    if not common:
        raise UserError(f"runs {base.get('run_id')} and {new.get('run_id')} have no case in common "
                        f"(matched by {MATCHED_BY})")
    reasons = incompatibilities(base, new, common, same_class)
    if reasons and not across_machines:
        raise UserError("not the same hardware class, so not comparable as a gate: " + "; ".join(reasons)
                        + " (--same-class-as FIELD,... declares what must match; --across-machines compares machines)")
    results, regressions = [], []
    for t in fails:
        if not any(t.matches(m) for k in common for c in gb[k] + gn[k] for m in (c.get("metrics") or {})):
            raise UserError(f"--fail {t.expr}: no case in either run measured a metric matching {t.pattern!r}")
    for idx, key in enumerate(common):
        label = case_label(key)
        cb, cn = gb[key], gn[key]
        entry = {**case_identity(key), "repeats_base": len(cb), "repeats_new": len(cn),
                 "errors_base": sum(1 for c in cb if c.get("error")),
                 "errors_new": sum(1 for c in cn if c.get("error")),
                 "contended_base": sum(1 for c in cb if _contended(c)),
                 "contended_new": sum(1 for c in cn if _contended(c)), "metrics": []}
        contended = entry["contended_base"] + entry["contended_new"] > 0
        all_failed = entry["errors_new"] == len(cn) or entry["errors_base"] == len(cb)
        if entry["errors_new"] == len(cn) and entry["errors_base"] < len(cb):
            entry["status"] = "failed"
            regressions.append({"case": label, "metric": None, "verdict": "failed",
                                "reason": str(cn[0].get("error"))})
        names = sorted({m for c in cb + cn for m, v in (c.get("metrics") or {}).items() if v is not None})
        for metric in names:
            fraction, gating, source = _threshold_for(metric, fails)
            vb, vn = metric_values(cb, metric), metric_values(cn, metric)
            if gating and fails and bool(vb) != bool(vn) and not all_failed:
                side = "BASE" if not vb else "NEW"
                raise UserError(f"--fail {source}: metric {metric} of case {label} is missing in {side}")
            r = compare_metric(metric, vb, vn, fraction, _summary_of(cb), _summary_of(cn),
                               seed=idx * 7919 + sum(map(ord, metric)))
            r["gating"], r["threshold_source"] = gating, source
            if strict and gating and contended and r["verdict"] not in GATING_VERDICTS | {"equal"}:
                note = "contended: measured while the machine was busy with other work"
                r["reason"] = f"{r['reason']}; {note}" if r["verdict"] == "inconclusive" and r["reason"] else note
                r["verdict"] = "inconclusive"
            r["fails_gate"] = gating and (r["verdict"] in GATING_VERDICTS
                                          or (strict and r["verdict"] == "inconclusive"))
            if r["fails_gate"]:
                regressions.append({"case": label, "metric": metric, "verdict": r["verdict"], "ratio": r["ratio"],
                                    "ci_low": r["ci_low"], "ci_high": r["ci_high"], "p_value": r["p_value"],
                                    "threshold_percent": r["threshold_percent"], "reason": r["reason"]})
            entry["metrics"].append(r)
        results.append(entry)
    counts: dict = {}
    for e in results:
        for r in e["metrics"]:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return {
        "mode": "gate", "base": _run_ref(base), "new": _run_ref(new),
        "strict": strict, "same_class": list(same_class or ()) or None,
        "alpha": ALPHA, "confidence": CONFIDENCE, "resamples": RESAMPLES, "min_repeats": MIN_REPEATS,
        "thresholds": [{"pattern": t.pattern, "percent": t.fraction * 100, "expr": t.expr} for t in fails],
        "gating": "metrics named by --fail" if fails else "every directional metric at its default threshold",
        "incompatibilities": reasons,
        "cases": results,
        "only_in_base": [case_label(k) for k in gb if k not in gn],
        "only_in_new": [case_label(k) for k in gn if k not in gb],
        "counts": counts, "regressions": regressions,
        "passed": not regressions, "exit_code": 1 if regressions else 0,
    }


def _contended(case: dict) -> bool:
    return bool((case.get("contention") or {}).get("contended"))


def _run_ref(doc: dict) -> dict:
    m = doc.get("machine") or {}
    return {"run_id": doc.get("run_id"), "started_at": doc.get("started_at"), "status": doc.get("status"),
            "source": (doc.get("source") or {}).get("format", "store"),
            "scenario": (doc.get("scenario") or {}).get("name"),
            "hostname": m.get("hostname"), "cpu_model": m.get("cpu_model"),
            "tags": doc.get("tags") or {}, "revision": doc.get("revision")}
