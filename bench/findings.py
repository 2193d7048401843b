"""The findings of the hadoop-tempdata case, computed from a scenario run's measurements with stated
thresholds — never written in. Each finding: id, claim, figure (text), values (numbers), verdict
("confirmed", "not confirmed", "inconclusive") and reason.

Steps (case labels): iops-<tier> device baselines; a temp on hdd; b a + page cache; c temp on nvme;
d temp on optane; a-half / e: a / d with the hdd tier's bandwidth halved; scale-<n>: best layout, n workers.
Runtime is the sort job's: terasort's `sort_s` (map + reduce), as in Hadoop, where TeraGen and TeraValidate
are separate jobs. When both sides of a ratio have 2+ repeats, the ratio's range over repeats (paired within each
repeat where both steps ran in every repeat, else min/max .. max/min) must lie on one side of the threshold, else
the verdict is inconclusive ("repeats disagree").
"""
from __future__ import annotations

import statistics
from typing import Optional

from bench.verdict import CPU_BOUND, cpu_fraction

IOPS_PER_GB_GAP = 10.0        # F1: flash supplies at least 10x the HDD's IOPS per GB
CACHE_HELPS = 0.90            # F2: the page cache "helps" if it cuts runtime by 10% or more
TEMP_MOVE_HELPS = 0.80        # F3: moving temp data "significantly" cuts runtime: by 20% or more
FEWER_HDDS_LESS = 0.75        # F4: once temp data has moved, halving the drives adds at most 3/4 of the runtime
                              #     it added with temp data on them ("hurts less")
FEWER_HDDS_HARMLESS = 1.10    # F4, the case's strong form: it costs at most 10% ("without affecting runtime")
CPU_SHIFT_FACTOR = 2.0        # F5: the CPU share of the sort at least doubles ...
CPU_SHIFT_POINTS = 0.15       #     ... and rises by at least 15 points of the usable cores
CONTAINER_JOB_MB = 64         # the sort's own memory in a container (it runs in 64 MB); the rest is page cache
SCALING_SPEEDUP = 1.30        # F6: doubling workers gives at least 1.3x throughput


def _cases(doc: dict, label: str) -> list:
    return [c for c in doc.get("cases", []) if c.get("label") == label and not c.get("error")]


def _values(doc: dict, label: str, metric: str) -> list:
    return [c["metrics"][metric] for c in _cases(doc, label) if c["metrics"].get(metric) is not None]


def _median(values: list) -> Optional[float]:
    return statistics.median(values) if values else None


RUNTIME = "sort_s"
SORT_PHASES = ("map", "reduce")


def _by_repeat(doc: dict, label: str, metric: str) -> dict:
    return {c["repeat"]: c["metrics"][metric] for c in _cases(doc, label)
            if c.get("repeat") is not None and c["metrics"].get(metric) is not None}


def ratio(doc: dict, new: str, base: str, metric: str = RUNTIME) -> Optional[dict]:
    """Ratio new/base with its range over repeats (None when a side was not measured).

    The scenario interleaves repeats (repeat r runs every step before repeat r+1 starts), so when both steps
    ran in the same 2+ repeats the ratio is paired: the median and range of new/base within each repeat, which
    keeps drift between repeats out of it. Otherwise: median over median, and the range of any new over any
    base (min/max .. max/min)."""
    a, b = _values(doc, base, metric), _values(doc, new, metric)
    if not a or not b:
        return None
    pa_, pb = _by_repeat(doc, base, metric), _by_repeat(doc, new, metric)
    common = sorted(set(pa_) & set(pb))
    if len(common) >= 2 and len(common) == len(a) == len(b):
        paired = [pb[r] / pa_[r] for r in common]
        return {"ratio": _median(paired), "n": (len(b), len(a)), "range": (min(paired), max(paired)),
                "per_repeat": dict(zip(common, paired))}
    out = {"ratio": _median(b) / _median(a), "n": (len(b), len(a))}
    if len(a) >= 2 and len(b) >= 2:
        out["range"] = (min(b) / max(a), max(b) / min(a))
    return out


def _side(r: dict, threshold: float, below_means: str, above_means: str) -> tuple:
    low, high = r.get("range", (r["ratio"], r["ratio"]))
    if high < threshold:
        return below_means, ""
    if low >= threshold:
        return above_means, ""
    return "inconclusive", f"repeats disagree: ratio ranges {low:.2f}..{high:.2f} across the threshold {threshold}"


def _missing(fid: str, claim: str, what: str) -> dict:
    return {"id": fid, "claim": claim, "figure": "-", "values": {}, "verdict": "inconclusive",
            "reason": f"not measured: {what}"}


def f1_iops_per_gb(doc: dict) -> dict:
    claim = "HDD IOPS per GB is far below flash (it limits the architecture)"
    per_tier = {}
    for t in doc.get("tiers", []):
        v = _median(_values(doc, f"iops-{t['name']}", "iops_per_gb"))
        if v is not None:
            per_tier[t["name"]] = v
    figure = ", ".join(f"{k} {v:.3g}" for k, v in per_tier.items()) + " IOPS/GB (4K random read, QD32)"
    if "hdd" not in per_tier or not set(per_tier) - {"hdd"}:
        return _missing("iops_per_gb", claim, "rand-read-4k on the hdd tier and a flash tier")
    best_flash = min(v for k, v in per_tier.items() if k != "hdd")
    gap = best_flash / per_tier["hdd"] if per_tier["hdd"] > 0 else float("inf")
    verdict = "confirmed" if gap >= IOPS_PER_GB_GAP else "not confirmed"
    return {"id": "iops_per_gb", "claim": claim, "figure": figure + f"; flash/hdd >= {gap:.3g}x",
            "values": {**per_tier, "flash_over_hdd": gap}, "verdict": verdict,
            "reason": f"threshold: flash/hdd IOPS per GB >= {IOPS_PER_GB_GAP:g}x"}


def _ratio_finding(doc, fid, claim, new, base, threshold, below, above, what, metric=RUNTIME) -> dict:
    r = ratio(doc, new, base, metric)
    if r is None:
        return _missing(fid, claim, what)
    verdict, why = _side(r, threshold, below, above)
    change = (r["ratio"] - 1) * 100
    return {"id": fid, "claim": claim, "figure": f"runtime {change:+.1f}% ({new} vs {base}, n={r['n'][0]}/{r['n'][1]})",
            "values": r, "verdict": verdict, "reason": why or f"threshold: runtime ratio {threshold:g}"}


def cache_room(doc: dict, label: str) -> Optional[tuple]:
    """(temp bytes, page cache the job could use) of a step: its container's limit less the sort's own
    CONTAINER_JOB_MB, or without a container the machine's memory less the job's peak RSS."""
    cases = _cases(doc, label)
    if not cases:
        return None
    c = cases[0]
    temp = c["metrics"].get("temp_bytes")
    if c.get("memory_mb"):
        room = (c["memory_mb"] - CONTAINER_JOB_MB) * 1024 ** 2
    else:
        memory = doc.get("machine", {}).get("memory_bytes")
        room = memory - (c["metrics"].get("peak_rss_bytes") or 0) if memory else None
    if not temp or room is None:
        return None
    return temp, max(0, room)


def f2_cache(doc):
    claim = "Caching does not help write-once temp data"
    out = _ratio_finding(doc, "cache", claim, "b", "a", CACHE_HELPS, "not confirmed", "confirmed",
                         "terasort temp on hdd with and without --cache")
    room = cache_room(doc, "b")
    if room and room[0] <= room[1] and out["verdict"] != "inconclusive":
        out["values"]["temp_bytes"], out["values"]["cache_room_bytes"] = room
        out["verdict"] = "inconclusive"
        out["reason"] = (f"the temp data ({room[0] / 1e6:.0f} MB) fits in the page cache this job could use "
                         f"({room[1] / 1e6:.0f} MB); in the case it far exceeded memory: rerun with "
                         f"--container-mb to give the job a YARN-like memory limit")
    return out


def f3_temp_moves(doc):
    out = []
    for tier, label in (("nvme", "c"), ("optane", "d")):
        out.append(_ratio_finding(doc, f"temp_on_{tier}", f"Temp data on {tier} significantly cuts runtime",
                                  label, "a", TEMP_MOVE_HELPS, "confirmed", "not confirmed",
                                  f"terasort with temp on hdd and on {tier}"))
    return out


def _extra(r: dict) -> tuple:
    """(median, low, high) of the runtime a halving added, as a fraction: ratio - 1."""
    low, high = r.get("range", (r["ratio"], r["ratio"]))
    return r["ratio"] - 1, low - 1, high - 1


def f4_fewer_hdds(doc) -> dict:
    claim = "Once temp data has moved, fewer HDDs (half the drives) hurt less (the case: not at all)"
    after, before = ratio(doc, "e", "d"), ratio(doc, "a-half", "a")
    if after is None or before is None:
        return _missing("fewer_hdds", claim, "terasort temp on hdd and on optane, each with half the hdd drives")
    (a_mid, a_low, a_high), (b_mid, b_low, b_high) = _extra(after), _extra(before)
    harmless = a_high + 1 < FEWER_HDDS_HARMLESS
    figure = (f"half the drives: runtime {a_mid:+.1%} with temp on optane vs {b_mid:+.1%} with temp on hdd; "
              f"harmless (< {FEWER_HDDS_HARMLESS - 1:.0%}): {'yes' if harmless else 'no'}")
    rule = (f"rule: the runtime halving adds with temp on optane is at most {FEWER_HDDS_LESS:g}x what it adds "
            f"with temp on hdd")
    values = {"after": after, "before": before, "harmless": harmless}
    if b_low <= 0:
        return {"id": "fewer_hdds", "claim": claim, "figure": figure, "values": values, "verdict": "inconclusive",
                "reason": "halving the drives did not slow the sort even with temp data on them: the hdd tier "
                          "does not bound this job, so the test cannot speak to the case"}
    share, share_low, share_high = a_mid / b_mid, a_low / b_high, a_high / b_low
    same = set(after.get("per_repeat", {})) & set(before.get("per_repeat", {}))
    if len(same) >= 2:      # paired: the share within each repeat
        shares = [(after["per_repeat"][r] - 1) / (before["per_repeat"][r] - 1) for r in sorted(same)
                  if before["per_repeat"][r] > 1]
        if len(shares) == len(same):
            share, share_low, share_high = statistics.median(shares), min(shares), max(shares)
    if share_high <= FEWER_HDDS_LESS:
        verdict, why = "confirmed", rule
    elif share_low > FEWER_HDDS_LESS:
        verdict, why = "not confirmed", rule
    else:
        verdict, why = "inconclusive", (f"repeats disagree: the share ranges {share_low:.2f}..{share_high:.2f} "
                                        f"across {FEWER_HDDS_LESS:g}")
    if verdict == "confirmed" and not harmless:
        why += "; not harmless as in the case: the data tier's own I/O still bounds part of the sort here"
    values["share"] = share
    return {"id": "fewer_hdds", "claim": claim, "figure": figure, "values": values, "verdict": verdict,
            "reason": why}


def _cpu_frac(doc, label) -> Optional[float]:
    """CPU share of the sort phases (map + reduce) of a step's cases (median)."""
    fractions = []
    for c in _cases(doc, label):
        sort = [p for p in c.get("phases", []) if p.get("name") in SORT_PHASES and p.get("cpu_s") is not None]
        if sort:
            fractions.append(cpu_fraction(sum(p["cpu_s"] for p in sort), sum(p["wall_s"] for p in sort),
                                          c.get("workers") or 1))
    return _median([f for f in fractions if f is not None])


def f5_bottleneck(doc) -> dict:
    claim = "After moving temp data the bottleneck moves from I/O toward the CPU (the case: to the CPU)"
    before, after = _cpu_frac(doc, "a"), _cpu_frac(doc, "d")
    if before is None or after is None:
        return _missing("bottleneck", claim, "CPU seconds of terasort with temp on hdd and on optane")
    verdicts = {lbl: sorted({p.get("bottleneck") or "unknown" for c in _cases(doc, lbl) for p in c.get("phases", [])
                             if p.get("name") in SORT_PHASES}) for lbl in ("a", "d")}
    moved = after >= CPU_SHIFT_FACTOR * before and after - before >= CPU_SHIFT_POINTS
    cpu_bound = after >= CPU_BOUND
    return {"id": "bottleneck", "claim": claim,
            "figure": f"CPU busy {before:.0%} -> {after:.0%} of usable cores "
                      f"({'/'.join(verdicts['a'])} -> {'/'.join(verdicts['d'])}); "
                      f"CPU-bound (>= {CPU_BOUND:.0%}): {'yes' if cpu_bound else 'no'}",
            "values": {"cpu_frac_before": before, "cpu_frac_after": after, "verdicts": verdicts,
                       "cpu_bound": cpu_bound},
            "verdict": "confirmed" if moved else "not confirmed",
            "reason": f"rule: the sort's CPU share at least {CPU_SHIFT_FACTOR:g}x and {CPU_SHIFT_POINTS:.0%} points "
                      f"higher (bench/verdict.py)"}


def f6_scaling(doc) -> dict:
    claim = "With storage fixed, throughput scales with CPU threads"
    counts = sorted({c["workers"] for c in doc.get("cases", []) if (c.get("label") or "").startswith("scale-")})
    if 1 not in counts or len(counts) < 2:
        return _missing("scaling", claim, "terasort at 1 and more workers")
    # Same input at every count: the speedup is the runtime ratio inverted (paired within repeats).
    ratios = {w: ratio(doc, f"scale-{w}", "scale-1") for w in counts if w != 1}
    ratios = {w: r for w, r in ratios.items() if r is not None}
    if not ratios:
        return _missing("scaling", claim, "terasort at 1 and more workers")
    speedups = {1: 1.0, **{w: 1 / r["ratio"] for w, r in ratios.items()}}
    w = 2 if 2 in ratios else max(ratios)
    verdict, why = _side(ratios[w], 1 / SCALING_SPEEDUP, "confirmed", "not confirmed")
    if why:
        low, high = ratios[w]["range"]
        why = f"repeats disagree: {w} workers give {1 / high:.2f}x..{1 / low:.2f}x, across {SCALING_SPEEDUP:g}x"
    figure = ", ".join(f"{n} workers {x:.2f}x ({x / n:.0%} efficiency)" for n, x in speedups.items())
    stopped = sorted({p.get("bottleneck") or "unknown" for c in _cases(doc, f"scale-{max(ratios)}")
                      for p in c.get("phases", []) if p.get("name") in SORT_PHASES})
    figure += f"; sort phases at {max(ratios)} workers: {'/'.join(stopped)}"
    return {"id": "scaling", "claim": claim, "figure": figure, "values": {"speedup": speedups},
            "verdict": verdict, "reason": why or f"threshold: {w} workers >= {SCALING_SPEEDUP:g}x of 1"}


def findings(doc: dict) -> list:
    return [f1_iops_per_gb(doc), f2_cache(doc), *f3_temp_moves(doc), f4_fewer_hdds(doc), f5_bottleneck(doc),
            f6_scaling(doc)]
