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
  temp bytes at the device  of the temp bytes the engine wrote, the share the temp tier's device wrote during
                          the case (steps c, d: the monitor's samples), how much of the temp data reached the device
Each figure where the engines differ by more than DIFFERS (relative) or SHARE_POINTS (a share) is stated in words
with the measured reasons that apply to it.

A third column, `recorded`: Spark's own temp I/O, recorded at file level from its workers (step spark-rec,
bench/engines/spark/temp_trace.py) and replayed by fio on each temp tier (steps rec-a, rec-c, rec-d): the runtime
ratios and the temp figures of Spark's I/O without Spark's CPU. Its figures that are not the I/O's (CPU, the data
tier's share) are not measured. How much of Spark's temp I/O the trace holds (a file-level tracer cannot see reads
through mmap) is stated beside it, from the trace against Spark's shuffle metrics."""
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


def _device_bytes(case: dict, device: Optional[str], directions=("read", "write")) -> Optional[float]:
    """Bytes moved by `device` over the case in `directions`, from the monitor's per-interval rates."""
    mon = case.get("monitor") or {}
    series, step = mon.get("series") or {}, mon.get("interval_s")
    rates = [series.get(f"{device}_{d}_bytes_per_s") for d in directions]
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


def _temp_written(c: dict) -> Optional[float]:
    """Temp bytes the engine wrote: the replay's runs, Spark's shuffle and spills, the recorded trace's writes."""
    m = c["metrics"]
    if c.get("kind") == "replay":
        return sum(p.get("bytes_written") or 0 for p in c.get("phases", [])) or None
    if c.get("engine") == "spark":
        return (m.get("shuffle_write_bytes") or 0) + (m.get("spill_disk_bytes") or 0) or None
    return m.get("temp_bytes")


def _at_device(doc: dict):
    """The share of a case's temp bytes written that its temp tier's device wrote during the case (monitor)."""
    def share(c: dict) -> Optional[float]:
        temp = _device(doc, c.get("temp_tier") or c.get("tier"))
        if c.get("kind") != "replay" and temp == _device(doc, c.get("tier")):
            return None       # temp and data on one device: its writes are not the temp data's alone
        written, device = _temp_written(c), _device_bytes(c, temp, ("write",))
        return device / written if written and device is not None else None
    return share


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


RECORDED = {"a": "rec-a", "c": "rec-c", "d": "rec-d"}     # the recorded replay's steps (scenario.RECORDED_STEPS)


def recorded_figures(doc: dict) -> dict:
    """The recorded Spark I/O replayed: runtime ratios (the replay cases' wall time), the temp figures, and the
    recording's coverage of Spark's temp I/O (`trace`: its totals against the recording step's shuffle metrics)."""
    view = dict(doc, cases=[dict(c, label=k) for c in doc.get("cases", []) for k, v in RECORDED.items()
                            if c.get("label") == v])
    out = {"sort_s": {label: median(v) if (v := [c["metrics"]["wall_s"] for c in step_cases(view, label)
                                                 if c["metrics"].get("wall_s")]) else None for label in STEPS}}
    for label in ("c", "d"):
        r = ratio(view, label, "a", "wall_s")
        out[f"runtime_{label}_over_a"] = r["ratio"] if r else None
    rec = next((c for c in doc.get("cases", []) if c.get("label") == "spark-rec" and not c.get("error")), None)
    trace = ((rec or {}).get("spark") or {}).get("trace")
    written = _per_case(view, _temp_written)
    if rec and written and rec["metrics"].get("input_bytes"):
        out["temp_bytes_per_input"] = written / rec["metrics"]["input_bytes"]
    out["temp_at_device"] = _share_at_device(view)
    if trace:
        m = rec["metrics"]
        out["trace"] = {"bytes_read": trace["totals"]["bytes_read"], "bytes_written": trace["totals"]["bytes_written"],
                        "spark_shuffle_read_bytes": m.get("shuffle_read_bytes"),
                        "spark_shuffle_write_bytes": m.get("shuffle_write_bytes"),
                        "spark_spill_disk_bytes": m.get("spill_disk_bytes"), **trace["coverage"]}
    return out


def _share_at_device(view: dict) -> Optional[float]:
    share = _at_device(view)
    values = [v for label in ("c", "d") for c in step_cases(view, label) if (v := share(c)) is not None]
    return median(values) if values else None


def figures(doc: dict, engine: str) -> dict:
    if engine == "recorded":
        return recorded_figures(doc)
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
    out["temp_at_device"] = _share_at_device(view)
    if engine == "spark":
        out["container_mb"] = median(v) if (v := [c["memory_mb"] for label in STEPS for c in step_cases(view, label)
                                                   if c.get("memory_mb")]) else None
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
        ("temp_bytes_per_input", "temp bytes written per input byte", "ratio"),
        ("temp_at_device", "temp bytes the temp device wrote / temp bytes written, c and d", "share"))


def _differs(kind: str, a: float, b: float) -> bool:
    if kind == "share":
        return abs(a - b) > SHARE_POINTS
    return a > 0 and abs(b / a - 1) > DIFFERS


def _reasons(key: str, replay: dict, spark: dict, container_mb: Optional[int], recorded: dict) -> list:
    why = []
    doubled = ((recorded.get("trace") or {}).get("write") or 0)
    if key == "temp_at_device" and doubled > 1 + DIFFERS:
        why.append(f"Spark's workers wrote {doubled:.2f}x its shuffle + spill bytes at file level (the trace of step "
                   f"spark-rec), and its share here is against Spark's metric, which counts the shuffle once")
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
    if key.startswith("runtime") and container_mb and not spark.get("container_mb"):
        why.append(f"the replay's steps ran in a {container_mb} MB container (page cache included), Spark's without "
                   f"one")
    return why


def fidelity(doc: dict) -> dict:
    """{"figures": {engine: {...}}, "rows": [{key, figure, replay, spark, differs, reasons}], "summary": [lines]}."""
    replay, spark, recorded = figures(doc, "replay"), figures(doc, "spark"), figures(doc, "recorded")
    container = (doc.get("scenario") or {}).get("container_mb") or next(
        (c.get("memory_mb") for c in doc.get("cases", []) if c.get("engine") == "job" and c.get("memory_mb")), None)
    rows, summary, notes = [], [], []
    for key, text, kind in ROWS:
        a, b = replay.get(key), spark.get(key)
        differs = None if a is None or b is None else _differs(kind, a, b)
        reasons = _reasons(key, replay, spark, container, recorded) if differs else []
        c = recorded.get(key)
        rows.append({"key": key, "figure": text, "kind": kind, "replay": a, "spark": b, "differs": differs,
                     "reasons": reasons, "recorded": c,
                     "recorded_differs": None if c is None or b is None else _differs(kind, b, c)})
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
    if container and spark.get("container_mb"):
        summary.append(f"containers: the replay's sorts and the recorded replays in {container} MB (page cache "
                       f"included), Spark's workers and executors in {spark['container_mb']:.0f} MB (their JVMs' "
                       f"memory and the same page cache room)")
    summary += recorded_lines(rows, recorded, doc)
    return {"figures": {"replay": replay, "spark": spark, "recorded": recorded}, "rows": rows, "summary": summary,
            "margins": {"relative": DIFFERS, "share_points": SHARE_POINTS}}


def recorded_lines(rows: list, recorded: dict, doc: dict) -> list:
    """What the recorded column shows, in words: the trace against Spark's own temp I/O (the gap a file-level
    tracer leaves, never hidden), the figures where Spark's recorded I/O replayed differs from Spark, and why
    the rest is not measured; or why there is no recorded column."""
    trace = recorded.get("trace")
    if not trace:
        rec = next((c for c in doc.get("cases", []) if c.get("label") == "spark-rec"), None)
        if rec is None:
            return []
        return [f"recorded: no trace of Spark's temp I/O ({rec.get('error') or 'the recording holds none'})"]
    out = []
    want = trace.get("spark_shuffle_read_bytes")
    if want:
        missing = trace.get("read_missing_bytes") or 0
        out.append(f"recorded: the trace of Spark's workers holds {trace['bytes_read']:,} bytes read of Spark's "
                   f"{want:,} shuffle-read bytes ({trace['read']:.1%})"
                   + (f": {missing:,} bytes read through mmap, which a file-level tracer cannot see, are not in "
                      f"the replay" if missing else ""))
    wrote = (trace.get("spark_shuffle_write_bytes") or 0) + (trace.get("spark_spill_disk_bytes") or 0)
    if wrote:
        out.append(f"recorded: {trace['bytes_written']:,} bytes written in the trace against Spark's {wrote:,} "
                   f"shuffle + spill bytes ({trace['write']:.2f}x: every write to the workers' local dirs, not "
                   f"only the shuffle files Spark counts)")
    unread = trace.get("unread_removed_bytes")
    if unread:
        out.append(f"recorded: {unread:,} bytes were written to files removed with no traced read: Spark read "
                   f"them back through mmap (a map task's per-partition files merged into its shuffle file), "
                   f"which a file-level tracer cannot see, or not at all; the replay writes them and does not "
                   f"read them")
    for r in rows:
        if r["recorded_differs"]:
            fmt = (lambda v: f"{v:.0%}") if r["kind"] == "share" else (lambda v: f"{v:.3g}")
            out.append(f"recorded differs from Spark: {r['figure']}: Spark {fmt(r['spark'])}, its recorded I/O "
                       f"replayed {fmt(r['recorded'])}")
    skipped = [r["figure"] for r in rows if r["recorded"] is None]
    if skipped:
        out.append("recorded: not measured (the replay holds Spark's temp I/O only, not its CPU or data-tier I/O): "
                   + ", ".join(skipped))
    return out
