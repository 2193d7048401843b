"""The data model: one result type, `Sample`, checked when built.

Units are fixed by the metric name (bench.core.metric_registry). A metric that was not measured has no Sample
at all: there is no "0 means missing".
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from bench.core.metric_registry import UNITS


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
