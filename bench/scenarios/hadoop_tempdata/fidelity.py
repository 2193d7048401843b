"""Replay fidelity: how well tierbench's replay of MapReduce's temp-data I/O (workloads/terasort.py) predicts the
same sort on Apache Spark (bench/engines/spark), on the same tiers and records — steps a (temp on hdd), c (nvme)
and d (optane) of the hadoop-tempdata scenario, run on both engines.

Figures, per engine (medians over repeats; ratios paired within a repeat as the findings pair them):
  runtime c/a, d/a        the sort's runtime (`sort_s`) with temp data moved, over temp data on hdd
  temp tier's share       of the bytes the data and temp tiers' devices moved during the case (steps c, d: the
                          monitor's samples, read + write, integrated over the case)
  CPU share               of the usable cores in the sort phases (map + reduce; bench/analysis/verdict.py)
  CPU s per GB            CPU seconds of the sort phases per GB (10^9 bytes) of input
  temp bytes per input    bytes written to the temp tier per input byte (the replay's runs, Spark's shuffle)
Each figure where the engines differ by more than DIFFERS (relative) or SHARE_POINTS (a share) is stated in words
with the measured reasons that apply to it."""
from __future__ import annotations

from typing import Optional

from bench.analysis.stats import median
from bench.scenarios.hadoop_tempdata.findings import cpu_fractions, engine_view, ratio, step_cases

STEPS = ("a", "c", "d")
DIFFERS = 0.10           # a runtime ratio or per-GB figure differs when the engines are more than 10% apart
SHARE_POINTS = 0.10      # a share differs when the engines are more than 10 points apart
CPU_HEAVIER = 2.0        # Spark's CPU per GB at least this many times the replay's: said as a reason
CACHE_ABSORBED = 0.5     # under this share of Spark's shuffle bytes reached the temp device: said as a reason


def _device(doc: dict, tier: Optional[str]) -> Optional[str]:
    t = next((t for t in doc.get("tiers", []) if t.get("name") == tier), None)
    return (t.get("device") or "").rsplit("/", 1)[-1] or None if t else None


def _device_bytes(case: dict, device: Optional[str]) -> Optional[float]:
    """Bytes read + written by `device` over the case, from the monitor's per-interval rates."""
    mon = case.get("monitor") or {}
    series, step = mon.get("series") or {}, mon.get("interval_s")
    rates = [series.get(f"{device}_{d}_bytes_per_s") for d in ("read", "write")]
    if not device or not step or any(r is None for r in rates) or not rates[0]:
        return None
    return sum(sum(r) for r in rates) * step


def temp_share(doc: dict, label: str) -> Optional[float]:
    """The temp tier's share of the two tiers' device bytes over a step's cases (median); None when the tiers
    share a device or were not sampled."""
    shares = []
    for c in step_cases(doc, label):
        temp, data = _device(doc, c.get("temp_tier")), _device(doc, c.get("tier"))
        if not temp or not data or temp == data:
            continue
        t, d = _device_bytes(c, temp), _device_bytes(c, data)
        if t is not None and d is not None and t + d > 0:
            shares.append(t / (t + d))
    return median(shares) if shares else None


def _per_case(doc: dict, fn) -> Optional[float]:
    values = [v for label in STEPS for c in step_cases(doc, label) if (v := fn(c)) is not None]
    return median(values) if values else None


def _cpu_per_gb(c: dict) -> Optional[float]:
    sort = [p for p in c.get("phases", []) if p.get("name") in ("map", "reduce") and p.get("cpu_s") is not None]
    gb = (c["metrics"].get("input_bytes") or 0) / 1e9
    return sum(p["cpu_s"] for p in sort) / gb if sort and gb else None


def _temp_per_input(c: dict) -> Optional[float]:
    m = c["metrics"]
    written = m.get("shuffle_write_bytes") if c.get("engine") == "spark" else m.get("temp_bytes")
    return written / m["input_bytes"] if written and m.get("input_bytes") else None


def _reached_device(c: dict) -> Optional[float]:
    m = c["metrics"]
    if c.get("temp_tier") == c.get("tier") or not m.get("shuffle_write_bytes") \
            or m.get("temp_device_write_bytes") is None:
        return None
    return m["temp_device_write_bytes"] / m["shuffle_write_bytes"]


def _input_reads(c: dict) -> Optional[float]:
    """How many times a case read its input in the sort phases (sample + map: data-tier bytes / input bytes)."""
    read = sum((p.get("io") or {}).get("data", {}).get("bytes_read", 0) for p in c.get("phases", [])
               if p.get("name") in ("sample", "map"))
    return read / c["metrics"]["input_bytes"] if read and c["metrics"].get("input_bytes") else None


def figures(doc: dict, engine: str) -> dict:
    view = engine_view(doc, engine)
    out = {"sort_s": {label: median(v) if (v := [c["metrics"]["sort_s"] for c in step_cases(view, label)
                                                 if c["metrics"].get("sort_s")]) else None for label in STEPS}}
    for label in ("c", "d"):
        r = ratio(view, label, "a")
        out[f"runtime_{label}_over_a"] = r["ratio"] if r else None
        out[f"temp_share_{label}"] = temp_share(view, label)
    for label in STEPS:
        f = cpu_fractions(view, label)
        out[f"cpu_share_{label}"] = median(list(f.values())) if f else None
    out["cpu_s_per_gb"] = _per_case(view, _cpu_per_gb)
    out["temp_bytes_per_input"] = _per_case(view, _temp_per_input)
    if engine == "spark":
        out["shuffle_share_reaching_device"] = _per_case(view, _reached_device)
        out["input_reads"] = _per_case(view, _input_reads)
    return out


ROWS = (("runtime_c_over_a", "runtime c/a (temp on nvme / on hdd)", "ratio"),
        ("runtime_d_over_a", "runtime d/a (temp on optane / on hdd)", "ratio"),
        ("temp_share_c", "temp tier's share of device bytes, c", "share"),
        ("temp_share_d", "temp tier's share of device bytes, d", "share"),
        ("cpu_share_a", "CPU share of the sort, a", "share"),
        ("cpu_share_c", "CPU share of the sort, c", "share"),
        ("cpu_share_d", "CPU share of the sort, d", "share"),
        ("cpu_s_per_gb", "CPU seconds per GB sorted (map + reduce)", "ratio"),
        ("temp_bytes_per_input", "temp bytes written per input byte", "ratio"))


def _differs(kind: str, a: float, b: float) -> bool:
    if kind == "share":
        return abs(a - b) > SHARE_POINTS
    return a > 0 and abs(b / a - 1) > DIFFERS


def _reasons(key: str, replay: dict, spark: dict, container_mb: Optional[int]) -> list:
    why = []
    cpu_r, cpu_s = replay.get("cpu_s_per_gb"), spark.get("cpu_s_per_gb")
    heavier = cpu_r and cpu_s and cpu_s >= CPU_HEAVIER * cpu_r
    reached = spark.get("shuffle_share_reaching_device")
    if key.startswith(("runtime", "cpu_share", "cpu_s_per_gb")) and heavier:
        why.append(f"Spark spends {cpu_s:.3g} CPU-s per GB in map + reduce, the replay {cpu_r:.3g} "
                   f"({cpu_s / cpu_r:.1f}x): JVM rows, UnsafeRow serialization and per-task scheduling against the "
                   f"Cython sort, so more of Spark's runtime is CPU and the temp tier's speed moves it less")
    if key.startswith(("runtime", "temp_share")) and reached is not None and reached < CACHE_ABSORBED:
        why.append(f"only {reached:.1%} of Spark's shuffle bytes reached the temp tier's device during the sort: "
                   f"Spark does not fsync shuffle files and reads them back from the page cache, while the replay "
                   f"fsyncs its runs and drops them from the cache (cold I/O, as on a node whose temp data far "
                   f"exceeds memory)")
    reads = spark.get("input_reads")
    if key.startswith("temp_share") and reads is not None and reads >= 1.5:
        why.append(f"Spark read its input {reads:.1f} times in the sort (its RangePartitioner samples by reading "
                   f"every split; TeraSort samples 10 splits), which adds data-tier bytes")
    if key == "temp_bytes_per_input":
        why.append("Spark's shuffle rows are UnsafeRows: 124 bytes per 100-byte record (null bits, offset and "
                   "length, padding, a length prefix); the replay's runs hold the bare records")
    if key.startswith("runtime") and container_mb:
        why.append(f"the replay's steps ran in a {container_mb} MB container (page cache included), Spark's without "
                   f"one (its JVMs need more)")
    return why


def fidelity(doc: dict) -> dict:
    """{"figures": {engine: {...}}, "rows": [{key, figure, replay, spark, differs, reasons}], "summary": [lines]}."""
    replay, spark = figures(doc, "replay"), figures(doc, "spark")
    container = (doc.get("scenario") or {}).get("container_mb") or next(
        (c.get("memory_mb") for c in doc.get("cases", []) if c.get("engine") == "job" and c.get("memory_mb")), None)
    rows, summary, notes = [], [], []
    for key, text, kind in ROWS:
        a, b = replay.get(key), spark.get(key)
        differs = None if a is None or b is None else _differs(kind, a, b)
        reasons = _reasons(key, replay, spark, container) if differs else []
        rows.append({"key": key, "figure": text, "kind": kind, "replay": a, "spark": b, "differs": differs,
                     "reasons": reasons})
        if differs:
            fmt = (lambda v: f"{v:.0%}") if kind == "share" else (lambda v: f"{v:.3g}")
            refs = []
            for r in reasons:
                if r not in notes:
                    notes.append(r)
                refs.append(notes.index(r) + 1)
            summary.append(f"differs: {text}: replay {fmt(a)}, Spark {fmt(b)}"
                           + (f" (why: {', '.join(f'[{n}]' for n in refs)})" if refs else " (no measured reason)"))
    summary += [f"[{n}] {r}" for n, r in enumerate(notes, 1)]
    agree = [r["figure"] for r in rows if r["differs"] is False]
    if agree:
        summary.append("agree within the margins (10% relative, 10 points for shares): " + ", ".join(agree))
    missing = [r["figure"] for r in rows if r["differs"] is None]
    if missing:
        summary.append("not measured on both engines: " + ", ".join(missing))
    return {"figures": {"replay": replay, "spark": spark}, "rows": rows, "summary": summary,
            "margins": {"relative": DIFFERS, "share_points": SHARE_POINTS}}
