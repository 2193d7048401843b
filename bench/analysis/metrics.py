"""Case metrics from phase records, the same way for every engine, so fio and builtin figures compare.

A phase record (both engines produce them): name, tier, role, wall_s, ops_read, ops_written, bytes_read,
bytes_written, and optionally bins_read / bins_write ({latency_ns: count}, fio's json+ bin layout).
Rates are totals over the summed phase wall time; percentiles come from the merged bins. A figure with
nothing to measure it (no reads → no read_iops) is left out, never set to 0.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional

from bench.core.errors import CaseError
from bench.core.metric_registry import LATENCY_PERCENTILES, unit_of
from kernels.latency_bins import merge_bins, percentile_from_bins


def iops_per_gb(iops: float, capacity_bytes: int) -> float:
    """Operations per second per GB (10^9 bytes) of a tier's capacity: what a tier offers for its size (the
    figure HDD and flash are compared by). The one formula for `run` and `import`."""
    return iops / (capacity_bytes / 1e9)


def case_metrics(phases: list, capacity_bytes: Optional[int]) -> dict:
    """The case's metrics from its phase records (module docstring), the same for every engine and for imported
    fio output: totals, rates over the summed phase wall time, latency percentiles from the merged bins (per
    direction too, read_lat_p99_us, ...), and, where the records carry them (fio), lat_mean_us and lat_max_us.
    Records of plain fio json carry fio's own percentiles instead of bins (pct_<direction>): those are used only
    when one record carries the direction, as percentiles cannot be merged."""
    wall = sum(p["wall_s"] for p in phases)
    ops_r = sum(p.get("ops_read", 0) for p in phases)
    ops_w = sum(p.get("ops_written", 0) for p in phases)
    ops_other = sum(p.get(k, 0) for p in phases for k in ("ops_trim", "ops_mixed"))
    bytes_r = sum(p.get("bytes_read", 0) for p in phases)
    bytes_w = sum(p.get("bytes_written", 0) for p in phases)
    m = {"wall_s": wall, "ops_read": ops_r, "ops_written": ops_w, "bytes_read": bytes_r, "bytes_written": bytes_w}
    if wall > 0 and ops_r + ops_w + ops_other > 0:
        m["iops"] = (ops_r + ops_w + ops_other) / wall
        if ops_r:
            m["read_iops"] = ops_r / wall
            m["read_bytes_per_s"] = bytes_r / wall
        if ops_w:
            m["write_iops"] = ops_w / wall
            m["write_bytes_per_s"] = bytes_w / wall
        if capacity_bytes:
            m["iops_per_gb"] = iops_per_gb(m["iops"], capacity_bytes)
    m.update(_latency(phases, DIRECTIONS, "lat_"))
    if sum(1 for d in ("read", "write") if any(p.get(f"bins_{d}") or p.get(f"pct_{d}") for p in phases)) > 1:
        for direction in ("read", "write"):
            m.update(_latency(phases, (direction,), f"{direction}_lat_"))
    return m


DIRECTIONS = ("read", "write", "trim", "mixed")


def _latency(phases: list, directions: tuple, prefix: str) -> dict:
    """Percentiles (merged bins, or fio's own for a lone carrier without bins), mean and max of some directions."""
    out = {}
    bins = merge_bins(*[p.get(f"bins_{d}") or {} for p in phases for d in directions])
    if bins:
        out.update({f"{prefix}{name}_us": percentile_from_bins(bins, q) / 1000.0
                    for name, q in LATENCY_PERCENTILES.items()})
    else:
        own = [p[f"pct_{d}"] for p in phases for d in directions if p.get(f"pct_{d}")]
        if len(own) == 1:
            out.update({f"{prefix}{name}_us": own[0][q] for name, q in LATENCY_PERCENTILES.items() if q in own[0]})
    lats = [p[f"lat_{d}"] for p in phases for d in directions if p.get(f"lat_{d}")]
    carriers = [p for p in phases for d in directions if p.get(f"bins_{d}") or p.get(f"pct_{d}") or p.get(f"lat_{d}")]
    if lats and len(lats) == len(carriers):
        samples = sum(lat["samples"] for lat in lats)
        out[f"{prefix}mean_us"] = sum(lat["mean_us"] * lat["samples"] for lat in lats) / samples
        out[f"{prefix}max_us"] = max(lat["max_us"] for lat in lats)
    return out


def latency_bins(phases: list) -> dict:
    """Merged read and write bins of a case ({"read": {ns: n}, "write": {...}}), for percentile curves."""
    out = {}
    for direction, key in (("read", "bins_read"), ("write", "bins_write")):
        merged = merge_bins(*[p.get(key) or {} for p in phases])
        if merged:
            out[direction] = {str(k): v for k, v in sorted(merged.items())}
    return out


def demanded_iops_per_gb(pattern, metrics: Mapping) -> Optional[float]:
    """The IOPS per GB (10^9 bytes) a pattern demands of its tier: its measured operations per second
    (metrics["iops"], or ops over wall_s) over the bytes it keeps there (Pattern.footprint_bytes()).
    None when the rate was not measured or the pattern keeps nothing."""
    iops = metrics.get("iops")
    if iops is None:
        ops = (metrics.get("ops_read") or 0) + (metrics.get("ops_written") or 0)
        wall = metrics.get("wall_s")
        if not ops or not wall:
            return None
        iops = ops / wall
    footprint = pattern.footprint_bytes()
    if not footprint:
        return None
    return iops / (footprint / 1e9)


# -- checks: a measurement that may be wrong fails its case with the reason, before it is stored -----------

_COUNTS = ("ops_read", "ops_written", "bytes_read", "bytes_written")


def check_phases(phases: list, pattern=None) -> None:
    """CaseError unless every phase record is a plausible measurement: wall_s finite and > 0, counts whole
    numbers >= 0, a job's phases moving some data, and — for a pattern, whose every phase moves bytes — the
    phase present, with operations and bytes in the directions it does (a job process killed mid-run leaves fio reporting 0 bytes in 0 s, with
    latency samples that look real)."""
    if not phases:
        raise CaseError("no phase was measured")
    for rec in phases:
        name = rec.get("name", "?")
        wall = rec.get("wall_s")
        if not _number(wall) or not math.isfinite(wall) or wall <= 0:
            raise CaseError(f"phase {name}: ran {wall!r} s (a phase that measured something ran a time > 0)")
        for key in _COUNTS:
            value = rec.get(key, 0)
            if not _number(value) or not math.isfinite(value) or value < 0 or value != int(value):
                raise CaseError(f"phase {name}: {key} is {value!r}, not a whole number >= 0")
        cpu = rec.get("cpu_s")
        if cpu is not None and (not _number(cpu) or not math.isfinite(cpu) or cpu < 0):
            raise CaseError(f"phase {name}: cpu_s is {cpu!r}, not a finite number >= 0")
    if pattern is None:     # a job: its phases together moved data (its own checks validate the output)
        if not any(rec.get("bytes_read", 0) + rec.get("bytes_written", 0) > 0 for rec in phases):
            raise CaseError(f"the job moved no data in its {len(phases)} phase(s)")
        return
    by_name = {rec.get("name"): rec for rec in phases}
    for phase in pattern.phases:
        rec = by_name.get(phase.name)
        if rec is None:
            raise CaseError(f"phase {phase.name}: no measurement (the engine reported nothing for it)")
        moved = []
        if phase.reads:
            moved.append(("read", rec.get("ops_read", 0), rec.get("bytes_read", 0)))
        if phase.writes:
            moved.append(("written", rec.get("ops_written", 0), rec.get("bytes_written", 0)))
        if not any(ops > 0 and nbytes > 0 for _, ops, nbytes in moved):
            what = " and ".join(f"{nbytes} bytes {d} in {ops} ops" for d, ops, nbytes in moved)
            raise CaseError(f"phase {phase.name}: moved no data ({what} in {rec['wall_s']:g} s); "
                            "its job was killed or failed")


def check_metrics(metrics: Mapping) -> None:
    """CaseError unless every metric is a finite number >= 0 (every unit tierbench stores — rates, latencies,
    bytes, counts, seconds, IOPS per GB, percent, ratios — is non-negative) with a known unit; None (not
    measured) is allowed and stays missing."""
    for name, value in metrics.items():
        if value is None:
            continue
        try:
            unit_of(name)
        except ValueError as e:
            raise CaseError(str(e)) from None
        if not _number(value):
            raise CaseError(f"metric {name} is {value!r}, not a number")
        if not math.isfinite(value):
            raise CaseError(f"metric {name} is {value!r}, not a finite number")
        if value < 0:
            raise CaseError(f"metric {name} is {value!r}, below 0")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
