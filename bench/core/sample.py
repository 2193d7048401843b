"""The data model: one result type, `Sample`, checked when built.

Units are fixed by the metric name (DESIGN.md): `_us` microseconds, `_s` seconds, `_bytes_per_s` bytes
per second, `iops` operations per second, `iops_per_gb` per 10^9 bytes of capacity. A metric that was
not measured has no Sample at all: there is no "0 means missing".
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

UNITS = frozenset({
    "us", "s", "bytes", "bytes_per_s", "iops", "iops_per_gb", "count", "ratio", "percent", "per_s",
})

# The metrics that appear in a case's `metrics` map of the run document, with their units.
CASE_METRICS = {
    "iops": "iops", "read_iops": "iops", "write_iops": "iops",
    "read_bytes_per_s": "bytes_per_s", "write_bytes_per_s": "bytes_per_s",
    "lat_p50_us": "us", "lat_p99_us": "us", "lat_p999_us": "us", "lat_max_us": "us", "lat_mean_us": "us",
    "iops_per_gb": "iops_per_gb", "demanded_iops_per_gb": "iops_per_gb",
    "wall_s": "s", "cpu_util": "percent", "device_util": "percent",
    "device_read_request_bytes": "bytes", "device_write_request_bytes": "bytes",
    "bytes_read": "bytes", "bytes_written": "bytes", "ops_read": "count", "ops_written": "count",
}

# The latency percentiles a case reports, {name: percentile}: metrics lat_<name>_us (and read_lat_<name>_us,
# write_lat_<name>_us from fio), in microseconds. The one list for both engines and for imported fio output.
LATENCY_PERCENTILES = {"p50": 50.0, "p99": 99.0, "p999": 99.9}


def unit_of(metric: str) -> str:
    """The unit a metric name implies, or raise ValueError for a name outside the contract."""
    if metric in CASE_METRICS:
        return CASE_METRICS[metric]
    for suffix, unit in (("_bytes_per_s", "bytes_per_s"), ("_iops_per_gb", "iops_per_gb"), ("_us", "us"),
                         ("_s", "s"), ("_bytes", "bytes"), ("_iops", "iops"), ("_count", "count"),
                         ("_ratio", "ratio"), ("_percent", "percent")):
        if metric.endswith(suffix):
            return unit
    raise ValueError(f"metric {metric!r} has no unit: name it with a unit suffix (_us, _s, _bytes, ...)")


@dataclass(frozen=True)
class Sample:
    """One measured figure. `value` is finite; `unit` is one of UNITS; `metadata` says how it was made."""
    metric: str
    value: float
    unit: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self):
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError("Sample.metric must be a non-empty string")
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise TypeError(f"Sample {self.metric}: value must be a number, got {type(self.value).__name__}")
        if not math.isfinite(self.value):
            raise ValueError(f"Sample {self.metric}: value {self.value!r} is not finite")
        if self.unit not in UNITS:
            raise ValueError(f"Sample {self.metric}: unknown unit {self.unit!r}")
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "metadata", dict(self.metadata))

    def to_dict(self) -> dict:
        return {"metric": self.metric, "value": self.value, "unit": self.unit,
                "metadata": dict(self.metadata), "timestamp": self.timestamp}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Sample":
        return cls(d["metric"], d["value"], d["unit"], d.get("metadata", {}), d.get("timestamp", time.time()))
