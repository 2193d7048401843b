"""The findings of the hadoop-tempdata case (docs/case.md), computed from a scenario run's measurements with
stated thresholds — never written in. Each of the case's claims is its own finding; weaker directional forms
are separate rows labelled "weaker form". Thresholds and their sources: docs/findings.md.

F0 (the case's first conclusion: moving temp data changes the HDD's access pattern) reads the drive model's
counters of the hdd tier per case (seek-model emulation only; "not measured" elsewhere).

Steps (case labels): iops-<tier> device baselines; a temp on hdd; b a + page cache; c temp on nvme;
d temp on optane; a-half / e: a / d with the hdd tier's drives (bandwidth) halved; scale-<n>: best layout, n workers.
Runtime is the sort job's: terasort's `sort_s` (map + reduce), as in Hadoop, where TeraGen and TeraValidate
are separate jobs.

The verdict rule (`decide`), on a figure's range over repeats (a ratio paired within each repeat where both
steps ran in the same repeats, else min/max .. max/min):
  range wholly on the claim's side of the threshold:   "confirmed" with >= MIN_REPEATS repeats a side,
                                                       else "indicated" (shown with its n)
  range wholly on the other side:                      "refuted", else "contra-indicated"
  range across the threshold:                          "inconclusive" (repeats disagree)
"indicated" / "contra-indicated" are the findings-side form of `tierbench compare`'s "inconclusive (n<3)": a
direction seen in fewer than 3 repeats, not a verdict. A comparison that runs against physics (fewer drives,
faster, by more than PHYSICS_TOLERANCE) is reported as noise and not counted for the claim. A figure set by
the emulation itself (the emulated hdd tier's IOPS per GB = the throttle tierbench set / the nominal capacity)
is "configured, not measured".
"""
from __future__ import annotations

import itertools
from typing import Optional

from bench.analysis.stats import median
from bench.analysis.verdict import CPU_BOUND, cpu_fraction
from bench.scenarios.hadoop_tempdata.settings import CONTAINER_JOB_MB

MIN_REPEATS = 3               # repeats a side for "confirmed"/"refuted": the same as `tierbench compare`'s gate
ACCESS_PATTERN_CHANGE = 0.50  # F0: with temp data moved (c) the hdd's share of random requests is under half a's
IOPS_PER_GB_GAP = 10.0        # F1: flash supplies at least 10x the HDD's IOPS per GB
CACHE_HELPS = 0.90            # F2: the page cache "helps" if it cuts runtime by 10% or more
TEMP_MOVE_HELPS = 0.80        # F3: moving temp data "significantly" cuts runtime: by 20% or more
FEWER_HDDS_HARMLESS = 1.10    # F4 (the case): half the drives cost under 10% once temp data has moved
FEWER_HDDS_LESS = 0.75        # F4 (weaker): once temp data has moved, halving the drives adds under 3/4 of the
                              #     runtime it added with temp data on them ("hurts less")
CPU_SHIFT_FACTOR = 2.0        # F5 (weaker): the CPU share of the sort at least doubles ...
CPU_SHIFT_POINTS = 0.15       #     ... and rises by at least 15 points of the usable cores
SCALING_SPEEDUP = 1.30        # F6: doubling workers gives at least 1.3x throughput
PHYSICS_TOLERANCE = 0.10      # fewer drives may look faster by up to 10% from noise; beyond that: against physics

RUNTIME = "sort_s"
SORT_PHASES = ("map", "reduce")

DECIDED = ("confirmed", "refuted", "indicated", "contra-indicated")
VERDICTS = DECIDED + ("inconclusive", "configured, not measured", "not measured")
VERDICT_STYLE = {"confirmed": "green", "refuted": "red", "indicated": "cyan", "contra-indicated": "magenta",
                 "inconclusive": "yellow", "configured, not measured": "blue", "not measured": "dim"}
CASE, WEAKER = "case claim", "weaker form"


# ---------------------------------------------------------------------------------------------------- figures
def step_cases(doc: dict, label: str) -> list:
    return [c for c in doc.get("cases", []) if c.get("label") == label and not c.get("error")]


def _values(doc: dict, label: str, metric: str) -> list:
    return [c["metrics"][metric] for c in step_cases(doc, label) if c["metrics"].get(metric) is not None]


def _by_repeat(doc: dict, label: str, metric: str) -> dict:
    return {c["repeat"]: c["metrics"][metric] for c in step_cases(doc, label)
            if c.get("repeat") is not None and c["metrics"].get(metric) is not None}


def ratio(doc: dict, new: str, base: str, metric: str = RUNTIME) -> Optional[dict]:
    """Ratio new/base with its range over repeats (None when a side was not measured): {"ratio", "n": (n new,
    n base), "range": (low, high), "per_repeat" (paired only)}.

    The scenario interleaves repeats (repeat r runs every step before repeat r+1 starts), so when both steps
    ran in the same repeats the ratio is paired: the median and range of new/base within each repeat, which
    keeps drift between repeats out of it. Otherwise: median over median, and the range of any new over any
    base (min/max .. max/min)."""
    a, b = _values(doc, base, metric), _values(doc, new, metric)
    if not a or not b or min(a) <= 0:
        return None
    pa_, pb = _by_repeat(doc, base, metric), _by_repeat(doc, new, metric)
    common = sorted(set(pa_) & set(pb))
    if common and len(common) == len(a) == len(b):
        paired = [pb[r] / pa_[r] for r in common]
        return {"ratio": median(paired), "n": (len(b), len(a)), "range": (min(paired), max(paired)),
                "per_repeat": dict(zip(common, paired))}
    return {"ratio": median(b) / median(a), "n": (len(b), len(a)), "range": (min(b) / max(a), max(b) / min(a))}


def cache_room(doc: dict, label: str) -> Optional[tuple]:
    """(temp bytes, page cache the job could use) of a step: its container's limit less the sort's own
    CONTAINER_JOB_MB, or without a container the machine's memory less the job's peak RSS."""
    cases = step_cases(doc, label)
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


def cpu_fractions(doc: dict, label: str) -> dict:
    """{repeat: CPU share of the sort phases (map + reduce)} of a step's cases: CPU seconds / (wall seconds x
    usable cores), bench/analysis/verdict.py. Cases without a repeat number are keyed by their id."""
    out = {}
    for c in step_cases(doc, label):
        sort = [p for p in c.get("phases", []) if p.get("name") in SORT_PHASES and p.get("cpu_s") is not None]
        if sort:
            f = cpu_fraction(sum(p["cpu_s"] for p in sort), sum(p["wall_s"] for p in sort), c.get("workers") or 1)
            if f is not None:
                out[c["repeat"] if c.get("repeat") is not None else ("id", c.get("id"))] = f
    return out


# ---------------------------------------------------------------------------------------------- the rule
def decide(low: float, high: float, n: int, threshold: float, holds_below: bool) -> tuple:
    """(verdict, reason) of a claim whose figure ranges low..high over repeats (n: the fewest repeats a side).
    The claim holds when the figure is below the threshold (holds_below) or at/above it."""
    figure = f"{low:.3g}" if low == high else f"{low:.3g}..{high:.3g}"
    if high < threshold:
        holds, side = holds_below, f"{figure} < {threshold:.3g}"
    elif low >= threshold:
        holds, side = not holds_below, f"{figure} >= {threshold:.3g}"
    else:
        return "inconclusive", f"repeats disagree: the figure ranges {figure}, across the threshold {threshold:.3g}"
    if n >= MIN_REPEATS:
        return ("confirmed" if holds else "refuted"), f"{side} in all {n} repeats"
    return ("indicated" if holds else "contra-indicated"), \
        f"{side}; n={n} < {MIN_REPEATS}: a direction, not a verdict"


def against_physics(r: dict) -> bool:
    """A fewer-drives/more-drives runtime ratio whose whole range is faster by more than PHYSICS_TOLERANCE."""
    return r["range"][1] < 1 - PHYSICS_TOLERANCE


def _noise_line(r: dict, what: str) -> str:
    return (f"against physics: {what} made the sort {(1 - r['ratio']) * 100:.1f}% faster "
            f"(ratio {r['range'][0]:.3f}..{r['range'][1]:.3f}, beyond the {PHYSICS_TOLERANCE:.0%} noise allowance); "
            f"treated as noise")


def _threshold(name: str, value: float, rule: str) -> dict:
    return {"name": name, "value": value, "rule": rule}


def _finding(fid, claim, form, verdict, n, threshold, figure, values, reason, noise=()) -> dict:
    text = verdict if n is None or verdict in ("not measured", "configured, not measured") else f"{verdict} (n={n})"
    return {"id": fid, "claim": claim, "form": form, "verdict": verdict, "verdict_text": text, "n": n,
            "threshold": threshold, "figure": figure, "values": values, "reason": reason, "noise": list(noise)}


def _missing(fid: str, claim: str, form: str, threshold: dict, what: str) -> dict:
    return _finding(fid, claim, form, "not measured", None, threshold, "-", {}, f"not measured: {what}")


def _n(r: dict) -> int:
    return min(r["n"])


def _ratio_finding(doc, fid, claim, form, new, base, threshold: dict, holds_below: bool, what: str) -> dict:
    r = ratio(doc, new, base)
    if r is None:
        return _missing(fid, claim, form, threshold, what)
    verdict, why = decide(*r["range"], _n(r), threshold["value"], holds_below)
    figure = f"runtime {(r['ratio'] - 1) * 100:+.1f}% ({new} vs {base}, n={r['n'][0]}/{r['n'][1]})"
    return _finding(fid, claim, form, verdict, _n(r), threshold, figure, r, why)


# ---------------------------------------------------------------------------------------------- findings
ACCESS_FIGURES = (("hdd_random_share", "random requests", "{:.0%}"), ("hdd_request_bytes", "mean request",
                                                                      "{:.0f} KB"),
                  ("hdd_requests_per_gb", "requests/GB", "{:.0f}"), ("hdd_positioning_share", "positioning",
                                                                      "{:.0%} of drive time"))


def f0_access_pattern(doc: dict) -> dict:
    """The case's first conclusion, on the hdd tier as the drive model saw it (bench.tiers.hdd_model
    case_metrics, per case): step c (temp on nvme) against a (temp on hdd)."""
    claim = "Moving temp data to NVMe by itself significantly changes the HDD's access pattern"
    th = _threshold("ACCESS_PATTERN_CHANGE", ACCESS_PATTERN_CHANGE,
                    f"hdd random-request share c/a < {ACCESS_PATTERN_CHANGE:g} (at least halved)")
    r = ratio(doc, "c", "a", "hdd_random_share")
    if r is None:
        return _missing("access_pattern", claim, CASE, th, "the hdd drive model's counters in steps a and c "
                                                           "(an emulated hdd tier with --hdd-model seek)")
    verdict, why = decide(*r["range"], _n(r), ACCESS_PATTERN_CHANGE, holds_below=True)
    values = {"random_share_c_over_a": r}
    parts = []
    for metric, name, fmt in ACCESS_FIGURES:
        a, c = _values(doc, "a", metric), _values(doc, "c", metric)
        if a and c:
            a, c = median(a), median(c)
            values[metric] = {"a": a, "c": c}
            scale = 1e-3 if metric == "hdd_request_bytes" else 1
            parts.append(f"{name} {fmt.format(a * scale).split(' of')[0]} -> {fmt.format(c * scale)}")
    figure = "hdd, a -> c: " + ", ".join(parts) + f" (random share c/a {r['ratio']:.2f}, n={r['n'][0]}/{r['n'][1]})"
    return _finding("access_pattern", claim, CASE, verdict, _n(r), th, figure, values, why)


def f1_iops_per_gb(doc: dict) -> dict:
    claim = "HDD IOPS per GB is far below flash (IOPS per GB limits the architecture)"
    th = _threshold("IOPS_PER_GB_GAP", IOPS_PER_GB_GAP, f"flash / hdd IOPS per GB >= {IOPS_PER_GB_GAP:g}")
    per_tier = {t["name"]: _values(doc, f"iops-{t['name']}", "iops_per_gb") for t in doc.get("tiers", [])}
    per_tier = {k: v for k, v in per_tier.items() if v}
    if "hdd" not in per_tier or not set(per_tier) - {"hdd"}:
        return _missing("iops_per_gb", claim, CASE, th, "rand-read-4k on the hdd tier and a flash tier")
    medians = {k: median(v) for k, v in per_tier.items()}
    flash = min((k for k in per_tier if k != "hdd"), key=lambda k: medians[k])   # the least favourable flash tier
    figure = ", ".join(f"{k} {v:.3g}" for k, v in medians.items()) + " IOPS/GB (4K random read, QD32)"
    n = min(len(per_tier["hdd"]), len(per_tier[flash]))
    hdd = next((t for t in doc.get("tiers", []) if t["name"] == "hdd"), {})
    emulated = hdd.get("emulated") or {}
    values = {**medians, "n": {k: len(v) for k, v in per_tier.items()}}
    if emulated.get("drive"):
        d = emulated["drive"]
        return _finding("iops_per_gb", claim, CASE, "configured, not measured", n, th, figure, values,
                        f"the emulated hdd tier is a drive model ({d['rpm']:g} rpm, average seek {d['seek_ms']:g} ms, "
                        f"{emulated.get('drives') or 1} drive(s)) and its capacity the nominal one: its IOPS per GB "
                        f"follows from those datasheet figures; measure real drives (--hdd PATH) for a verdict")
    if emulated.get("iops"):
        cap = hdd.get("nominal_capacity_bytes") or hdd.get("capacity_bytes")
        set_to = emulated["iops"] / (cap / 1e9) if cap else None
        values["configured_iops_per_gb"] = set_to
        return _finding("iops_per_gb", claim, CASE, "configured, not measured", n, th,
                        figure + (f"; hdd set by the emulation: {emulated['iops']} IOPS / {cap / 1e12:g} TB = "
                                  f"{set_to:.3g}" if set_to else ""), values,
                        f"the emulated hdd tier's IOPS is the throttle tierbench configured "
                        f"({emulated['iops']} IOPS for {emulated.get('drives') or 1} drive(s)) and its capacity "
                        f"the nominal one: the figure cannot come out otherwise; measure real drives "
                        f"(--hdd PATH) for a verdict")
    if min(per_tier["hdd"]) <= 0:
        return _missing("iops_per_gb", claim, CASE, th, "a positive IOPS per GB on the hdd tier")
    low, high = min(per_tier[flash]) / max(per_tier["hdd"]), max(per_tier[flash]) / min(per_tier["hdd"])
    values["flash_over_hdd"] = medians[flash] / medians["hdd"]
    verdict, why = decide(low, high, n, IOPS_PER_GB_GAP, holds_below=False)
    return _finding("iops_per_gb", claim, CASE, verdict, n, th,
                    figure + f"; {flash}/hdd {values['flash_over_hdd']:.3g}x", values, why)


def f2_cache(doc: dict) -> dict:
    th = _threshold("CACHE_HELPS", CACHE_HELPS, f"runtime b/a >= {CACHE_HELPS:g} (the cache cuts under 10%)")
    out = _ratio_finding(doc, "cache", "Caching does not help write-once temp data", CASE, "b", "a", th,
                         holds_below=False, what="terasort temp on hdd with and without --cache")
    room = cache_room(doc, "b")
    if room and room[0] <= room[1] and out["verdict"] in DECIDED:
        out["values"]["temp_bytes"], out["values"]["cache_room_bytes"] = room
        out["verdict"] = out["verdict_text"] = "inconclusive"
        out["reason"] = (f"the temp data ({room[0] / 1e6:.0f} MB) fits in the page cache this job could use "
                         f"({room[1] / 1e6:.0f} MB); in the case it far exceeded memory: rerun with "
                         f"--container-mb to give the job a YARN-like memory limit")
    return out


def f3_temp_moves(doc: dict) -> list:
    th = _threshold("TEMP_MOVE_HELPS", TEMP_MOVE_HELPS, f"runtime temp-moved/a < {TEMP_MOVE_HELPS:g} (20% or more "
                                                        f"shorter)")
    return [_ratio_finding(doc, f"temp_on_{tier}", f"Temp data on {tier} significantly cuts runtime", CASE,
                           label, "a", dict(th, rule=th["rule"].replace("temp-moved", label)), holds_below=True,
                           what=f"terasort with temp on hdd and on {tier}")
            for tier, label in (("nvme", "c"), ("optane", "d"))]


def f4_hdds_removable(doc: dict) -> dict:
    claim = "With temp data on optane, HDDs could be removed without affecting runtime"
    th = _threshold("FEWER_HDDS_HARMLESS", FEWER_HDDS_HARMLESS,
                    f"runtime e/d < {FEWER_HDDS_HARMLESS:g} (half the drives cost under 10%)")
    r = ratio(doc, "e", "d")
    if r is None:
        return _missing("hdds_removable", claim, CASE, th, "terasort temp on optane with all and half the hdd drives")
    figure = f"half the drives: runtime {(r['ratio'] - 1) * 100:+.1f}% (e vs d, n={r['n'][0]}/{r['n'][1]})"
    if against_physics(r):
        line = _noise_line(r, "halving the hdd drives")
        return _finding("hdds_removable", claim, CASE, "inconclusive", _n(r), th, figure, r,
                        line + "; not counted for the claim", noise=[line])
    verdict, why = decide(*r["range"], _n(r), FEWER_HDDS_HARMLESS, holds_below=True)
    before = ratio(doc, "a-half", "a")
    if verdict in DECIDED and before is not None and before["range"][0] < FEWER_HDDS_HARMLESS:
        why = (why + "; " if why else "") + (f"weak test: halving the drives cost under 10% in some repeat even "
                                             f"with temp data on them (a-half vs a {before['ratio']:.2f}x)")
    return _finding("hdds_removable", claim, CASE, verdict, _n(r), th, figure, r, why)


def f4_hdds_hurt_less(doc: dict) -> dict:
    claim = "Once temp data has moved, halving the HDDs hurts less than with temp data on them"
    th = _threshold("FEWER_HDDS_LESS", FEWER_HDDS_LESS,
                    f"(e/d - 1) / (a-half/a - 1) < {FEWER_HDDS_LESS:g} (adds under 3/4 of the runtime)")
    after, before = ratio(doc, "e", "d"), ratio(doc, "a-half", "a")
    if after is None or before is None:
        return _missing("hdds_hurt_less", claim, WEAKER, th,
                        "terasort temp on hdd and on optane, each with all and half the hdd drives")
    figure = (f"half the drives: runtime {after['ratio'] - 1:+.1%} with temp on optane vs "
              f"{before['ratio'] - 1:+.1%} with temp on hdd")
    values = {"after": after, "before": before}
    n = min(_n(after), _n(before))
    noise = [_noise_line(r, f"halving the hdd drives ({what})") for r, what in
             ((after, "e vs d"), (before, "a-half vs a")) if against_physics(r)]
    if noise:
        return _finding("hdds_hurt_less", claim, WEAKER, "inconclusive", n, th, figure, values,
                        "; ".join(noise) + "; not counted for the claim", noise=noise)
    if before["range"][0] <= 1:
        return _finding("hdds_hurt_less", claim, WEAKER, "inconclusive", n, th, figure, values,
                        "halving the drives did not slow the sort even with temp data on them: the hdd tier does "
                        "not bound this job, so the test cannot speak to the case")
    same = sorted(set(after.get("per_repeat", {})) & set(before.get("per_repeat", {})))
    if same:          # paired: the share within each repeat
        shares = [(after["per_repeat"][k] - 1) / (before["per_repeat"][k] - 1) for k in same]
    else:
        shares = [(a - 1) / (b - 1) for a, b in itertools.product(after["range"], before["range"])]
    values["share"] = median(shares) if same else (after["ratio"] - 1) / (before["ratio"] - 1)
    verdict, why = decide(min(shares), max(shares), n, FEWER_HDDS_LESS, holds_below=True)
    figure += f"; share {values['share']:.2f}"
    return _finding("hdds_hurt_less", claim, WEAKER, verdict, n, th, figure, values, why)


def f5_cpu_bound(doc: dict) -> dict:
    claim = "With temp data on optane the cluster became CPU-bound"
    th = _threshold("CPU_BOUND", CPU_BOUND, f"CPU share of the sort phases in step d >= {CPU_BOUND:g} of usable "
                                            f"cores (bench/analysis/verdict.py)")
    after = cpu_fractions(doc, "d")
    if not after:
        return _missing("cpu_bound", claim, CASE, th, "CPU seconds of the sort phases with temp on optane")
    v = list(after.values())
    figure = (f"CPU busy {median(v):.0%} of usable cores in the sort phases (map + reduce, step d"
              + (f", range {min(v):.0%}..{max(v):.0%}" if len(v) > 1 else "") + ")")
    verdict, why = decide(min(v), max(v), len(v), CPU_BOUND, holds_below=False)
    return _finding("cpu_bound", claim, CASE, verdict, len(v), th, figure,
                    {"cpu_frac": median(v), "per_repeat": after}, why)


def f5_toward_cpu(doc: dict) -> dict:
    claim = "After moving temp data the bottleneck moves from I/O toward the CPU"
    th = _threshold("CPU_SHIFT_FACTOR", CPU_SHIFT_FACTOR,
                    f"CPU share of the sort d/a >= {CPU_SHIFT_FACTOR:g} and d - a >= {CPU_SHIFT_POINTS:.2f} "
                    f"(CPU_SHIFT_POINTS)")
    before, after = cpu_fractions(doc, "a"), cpu_fractions(doc, "d")
    if not before or not after:
        return _missing("toward_cpu", claim, WEAKER, th, "CPU seconds of terasort with temp on hdd and on optane")
    same = sorted(set(before) & set(after), key=str)
    pairs = ([(before[k], after[k]) for k in same] if same and len(same) == len(before) == len(after)
             else list(itertools.product(before.values(), after.values())))
    # Both conditions in one figure: the smaller of (factor / CPU_SHIFT_FACTOR, points / CPU_SHIFT_POINTS) >= 1.
    margins = [min((a / b if b > 0 else float("inf")) / CPU_SHIFT_FACTOR, (a - b) / CPU_SHIFT_POINTS)
               for b, a in pairs]
    n = min(len(before), len(after))
    verdict, why = decide(min(margins), max(margins), n, 1.0, holds_below=False)
    b, a = median(list(before.values())), median(list(after.values()))
    verdicts = {lbl: sorted({p.get("bottleneck") or "unknown" for c in step_cases(doc, lbl) for p in c.get("phases", [])
                             if p.get("name") in SORT_PHASES}) for lbl in ("a", "d")}
    figure = (f"CPU busy {b:.0%} -> {a:.0%} of usable cores in the sort phases "
              f"({'/'.join(verdicts['a'])} -> {'/'.join(verdicts['d'])})")
    met = {"confirmed": "both conditions met", "indicated": "both conditions met",
           "refuted": "a condition missed", "contra-indicated": "a condition missed"}
    if verdict in met:
        why = met[verdict] + (" in every repeat" if n >= MIN_REPEATS else "") + why[why.find(";"):] * (";" in why)
    else:
        why = "repeats disagree: some repeats meet both conditions, some do not"
    return _finding("toward_cpu", claim, WEAKER, verdict, n, th, figure,
                    {"cpu_frac_before": b, "cpu_frac_after": a, "verdicts": verdicts}, why)


def f6_scaling(doc: dict) -> dict:
    claim = "With storage fixed, throughput scales with CPU threads (CPU-driven scaling)"
    th = _threshold("SCALING_SPEEDUP", SCALING_SPEEDUP, f"2 workers >= {SCALING_SPEEDUP:g}x the throughput of 1 "
                                                        f"(runtime ratio < {1 / SCALING_SPEEDUP:.3f})")
    counts = sorted({c["workers"] for c in doc.get("cases", []) if (c.get("label") or "").startswith("scale-")})
    ratios = {w: ratio(doc, f"scale-{w}", "scale-1") for w in counts if w != 1} if 1 in counts else {}
    ratios = {w: r for w, r in ratios.items() if r is not None}
    if not ratios:
        return _missing("scaling", claim, CASE, th, "terasort at 1 and more workers")
    speedups = {1: 1.0, **{w: 1 / r["ratio"] for w, r in ratios.items()}}
    w = 2 if 2 in ratios else max(ratios)
    verdict, why = decide(*ratios[w]["range"], _n(ratios[w]), 1 / SCALING_SPEEDUP, holds_below=True)
    if why.startswith("repeats disagree"):
        low, high = ratios[w]["range"]
        why = f"repeats disagree: {w} workers give {1 / high:.2f}x..{1 / low:.2f}x, across {SCALING_SPEEDUP:g}x"
    figure = ", ".join(f"{n} workers {x:.2f}x ({x / n:.0%} efficiency)" for n, x in speedups.items())
    stopped = sorted({p.get("bottleneck") or "unknown" for c in step_cases(doc, f"scale-{max(ratios)}")
                      for p in c.get("phases", []) if p.get("name") in SORT_PHASES})
    figure += f"; sort phases at {max(ratios)} workers: {'/'.join(stopped)}"
    return _finding("scaling", claim, CASE, verdict, _n(ratios[w]), th, figure, {"speedup": speedups},
                    why)


ENGINES = {"replay": "job", "spark": "spark"}    # the findings' engines: name -> the cases' `engine`


def engine_view(doc: dict, engine: str = "replay") -> dict:
    """The run document with the terasort steps of one engine only (the replay's or Spark's); the device
    baselines (iops-<tier>, fio) are shared by both."""
    keep = ENGINES[engine]
    return dict(doc, cases=[c for c in doc.get("cases", [])
                            if c.get("workload") != "terasort" or c.get("engine", "job") == keep])


def engines_of(doc: dict) -> list:
    """The engines whose terasort steps the run holds, in ENGINES order."""
    have = {c.get("engine", "job") for c in doc.get("cases", []) if c.get("workload") == "terasort"}
    return [name for name, engine in ENGINES.items() if engine in have]


def findings(doc: dict, engine: str = "replay") -> list:
    """Every finding of the case on a scenario run document, in display order (see docs/findings.md), from one
    engine's terasort steps (default: the replay's, whatever else the run holds)."""
    doc = engine_view(doc, engine)
    return [f0_access_pattern(doc), f1_iops_per_gb(doc), f2_cache(doc), *f3_temp_moves(doc), f4_hdds_removable(doc), f4_hdds_hurt_less(doc),
            f5_cpu_bound(doc), f5_toward_cpu(doc), f6_scaling(doc)]


def header(found: list) -> str:
    """The line above the findings table: how to get verdicts when some finding rests on fewer than 3 repeats."""
    few = [f for f in found if f["verdict"] in ("indicated", "contra-indicated")
           or (f["n"] is not None and f["n"] < MIN_REPEATS and f["verdict"] == "inconclusive")]
    if not few:
        return ""
    n = min(f["n"] for f in few)
    return (f"{len(few)} finding(s) rest on n={n} repeat(s): \"indicated\" / \"contra-indicated\" give a direction, "
            f"not a verdict (compare calls this \"inconclusive (n<{MIN_REPEATS})\"); run with --repeat {MIN_REPEATS} "
            f"or more for confirmed / refuted")
