"""The metric registry: every metric of a case's `metrics` map with its unit, its direction (which way is better)
and the relative change `compare` tolerates by default, in one table (METRICS).

Units are fixed by the metric name (docs/run-document.md): `_us` microseconds, `_s` seconds, `_bytes_per_s` bytes per
second, `iops` operations per second, `iops_per_gb` per 10^9 bytes of capacity. Directions: HIGHER (+1) is
better, LOWER (-1) is better, EXACT (0) must be equal (counts of operations and bytes a pattern fixes), INFO
(None) is shown, never judged. Names outside the table (a workload's own metrics such as `sort_s`, pytest-benchmark
names) follow the suffix rules of `unit_of` and `direction`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

UNITS = frozenset({
    "us", "s", "bytes", "bytes_per_s", "iops", "iops_per_gb", "count", "ratio", "percent", "per_s",
})

HIGHER, LOWER, EXACT, INFO = 1, -1, 0, None


@dataclass(frozen=True)
class Metric:
    """unit: one of UNITS; direction: HIGHER, LOWER, EXACT or INFO; threshold: the relative change (a fraction)
    `compare` tolerates by default before the metric counts as regressed or improved."""
    unit: str
    direction: Optional[int]
    threshold: float

    @property
    def exact(self) -> bool:
        return self.direction == EXACT


# The metrics of a case's `metrics` map in the run document. Latency gets 10 % (it is noisier than rates),
# rates and runtimes 5 %, exact counts none.
METRICS = {
    "iops": Metric("iops", HIGHER, 0.05),
    "read_iops": Metric("iops", HIGHER, 0.05),
    "write_iops": Metric("iops", HIGHER, 0.05),
    "read_bytes_per_s": Metric("bytes_per_s", HIGHER, 0.05),
    "write_bytes_per_s": Metric("bytes_per_s", HIGHER, 0.05),
    "lat_p50_us": Metric("us", LOWER, 0.10),
    "lat_p99_us": Metric("us", LOWER, 0.10),
    "lat_p999_us": Metric("us", LOWER, 0.10),
    "lat_max_us": Metric("us", LOWER, 0.10),
    "lat_mean_us": Metric("us", LOWER, 0.10),
    "iops_per_gb": Metric("iops_per_gb", HIGHER, 0.05),
    "demanded_iops_per_gb": Metric("iops_per_gb", INFO, 0.10),   # what the pattern asked of its tier
    "wall_s": Metric("s", LOWER, 0.05),
    "cpu_util": Metric("percent", INFO, 0.10),
    "device_util": Metric("percent", INFO, 0.10),
    "device_read_request_bytes": Metric("bytes", INFO, 0.10),
    "device_write_request_bytes": Metric("bytes", INFO, 0.10),
    "bytes_read": Metric("bytes", EXACT, 0.0),
    "bytes_written": Metric("bytes", EXACT, 0.0),
    "ops_read": Metric("count", EXACT, 0.0),
    "ops_written": Metric("count", EXACT, 0.0),
    # The modelled hdd's counters around a case (bench.tiers.hdd_model.case_metrics): what the drive saw.
    "hdd_requests": Metric("count", INFO, 0.10),
    "hdd_random_share": Metric("ratio", INFO, 0.10),        # requests that needed positioning / requests
    "hdd_request_bytes": Metric("bytes", INFO, 0.10),       # mean request size
    "hdd_requests_per_gb": Metric("count", INFO, 0.10),     # requests per 10^9 bytes moved
    "hdd_positioning_s": Metric("s", INFO, 0.10),
    "hdd_positioning_share": Metric("ratio", INFO, 0.10),   # positioning / (positioning + transfer) time
    "hdd_late_s": Metric("s", INFO, 0.10),                  # replies past their modelled finish, summed
}
CASE_METRICS = {name: m.unit for name, m in METRICS.items()}
EXACT_METRICS = frozenset(name for name, m in METRICS.items() if m.exact)

# The latency percentiles a case reports, {name: percentile}: metrics lat_<name>_us (and read_lat_<name>_us,
# write_lat_<name>_us from fio), in microseconds. The one list for both engines and for imported fio output.
LATENCY_PERCENTILES = {"p50": 50.0, "p99": 99.0, "p999": 99.9}


def unit_of(metric: str) -> str:
    """The unit a metric name implies, or raise ValueError for a name outside the contract."""
    if metric in METRICS:
        return METRICS[metric].unit
    for suffix, unit in (("_bytes_per_s", "bytes_per_s"), ("_iops_per_gb", "iops_per_gb"), ("_us", "us"),
                         ("_s", "s"), ("_bytes", "bytes"), ("_iops", "iops"), ("_count", "count"),
                         ("_ratio", "ratio"), ("_percent", "percent")):
        if metric.endswith(suffix):
            return unit
    raise ValueError(f"metric {metric!r} has no unit: name it with a unit suffix (_us, _s, _bytes, ...)")


def direction(metric: str) -> Optional[int]:
    """HIGHER (+1) higher is better, LOWER (-1) lower is better, EXACT (0) must be equal, INFO (None)."""
    if metric in METRICS:
        return METRICS[metric].direction
    if metric == "throughput" or metric.endswith("_iops") or metric.endswith("_bytes_per_s"):
        return HIGHER
    if (metric.startswith("lat_") and metric.endswith("_us")) or metric == "cpu_s" or metric.endswith("_wall_s"):
        return LOWER
    return INFO


def default_threshold(metric: str) -> float:
    """The tolerated relative change (a fraction) before a metric counts as regressed or improved."""
    if metric in METRICS:
        return METRICS[metric].threshold
    d = direction(metric)
    if d == EXACT:
        return 0.0
    if metric.startswith("lat_"):
        return 0.10
    if d in (HIGHER, LOWER):
        return 0.05
    return 0.10
