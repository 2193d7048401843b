"""The workload registry: one module per workload in this package, discovered on import.

A workload module defines `WORKLOAD`, made with `pattern_workload(...)` (an engine-neutral I/O pattern that
fio and the builtin engine both run) or `job_workload(...)` (a big-data job run in-process with its data
on one tier and its temp data on another). Adding a workload is adding one module; names must be unique.
"""
from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Mapping, Optional

from bench.core.units import GiB, KiB, MiB, PiB, parse_size

__all__ = ["Workload", "pattern_workload", "job_workload", "get", "names", "all_workloads", "coerce_params", "PARAM_RANGES"]


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str                      # "pattern" or "job"
    params: type                   # a dataclass of parameters with defaults (Hadoop's where they apply)
    description: str
    build: Optional[Callable] = None   # pattern kind: build(params) -> bench.core.pattern.Pattern
    run: Optional[Callable] = None     # job kind: run(params, ctx) -> dict (phases, metrics, threads, implementation)
    default_sweep: Mapping[str, tuple] = None  # parameters swept by default, e.g. {"iodepth": (1, 32)}
    quick: Mapping[str, Any] = None            # parameter overrides for --quick (small, short)

    def default_params(self):
        return self.params()


def pattern_workload(name, params, build, description, default_sweep=None, quick=None) -> Workload:
    return Workload(name, "pattern", params, description, build=build,
                    default_sweep=default_sweep or {}, quick=quick or {})


def job_workload(name, params, run, description, default_sweep=None, quick=None) -> Workload:
    return Workload(name, "job", params, description, run=run,
                    default_sweep=default_sweep or {}, quick=quick or {})


_REGISTRY: dict = {}


def _discover() -> None:
    if _REGISTRY:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        workload = getattr(module, "WORKLOAD", None)
        if workload is None:
            raise ImportError(f"workloads/{info.name}.py defines no WORKLOAD")
        if workload.name in _REGISTRY:
            raise ImportError(f"workload name {workload.name!r} is defined twice "
                              f"({_REGISTRY[workload.name][1]} and {info.name})")
        _REGISTRY[workload.name] = (workload, info.name)


def all_workloads() -> list:
    _discover()
    return [w for w, _ in _REGISTRY.values()]


def names() -> list:
    return sorted(w.name for w in all_workloads())


def get(name: str) -> Workload:
    _discover()
    if name not in _REGISTRY:
        raise KeyError(name)
    return _REGISTRY[name][0]


# ---- parameter values: types and ranges ----------------------------------------------------------------
#
# Every parameter of every workload has its range here, by name (one place: a workload's __post_init__ adds
# only the rules that tie its parameters together, such as blocks splitting evenly over readers). The plan
# checks every swept combination with these in the parent process, so a bad value is a UserError (exit 2)
# before any run folder exists, never a failed case. Sizes are bytes, times seconds; the maxima are sanity
# bounds (far above any machine this runs on), there so that a typo cannot plan a petabyte or a year.

DAY_S = 86400.0


@dataclass(frozen=True)
class Range:
    """Allowed values of one parameter: minimum <= value <= maximum, a multiple of `multiple` (ints)."""
    minimum: float
    maximum: float
    multiple: int = 1
    unit: str = ""

    def _show(self, n) -> str:
        if self.unit == "bytes":
            for size, suffix in ((PiB, "PiB"), (GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
                if n >= size and n % size == 0:
                    return f"{n // size} {suffix}"
            return f"{n} byte{'s' if n != 1 else ''}"
        return f"{n:g}{' ' + self.unit if self.unit else ''}" if isinstance(n, float) else \
            f"{n}{' ' + self.unit if self.unit else ''}"

    def check(self, key: str, value) -> None:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"{key} must be from {self._show(self.minimum)} to {self._show(self.maximum)}, "
                             f"not {value!r}")
        if self.multiple > 1 and value % self.multiple:
            raise ValueError(f"{key} must be a multiple of {self._show(self.multiple)}, not {value!r}")


@dataclass(frozen=True)
class Choice:
    """Allowed values of a text parameter."""
    values: tuple

    def check(self, key: str, value) -> None:
        if value not in self.values:
            raise ValueError(f"{key} must be one of {', '.join(self.values)}, not {value!r}")


_BYTES = Range(1, PiB, unit="bytes")
_BLOCK = Range(512, 1 * GiB, multiple=512, unit="bytes")      # O_DIRECT needs whole 512-byte sectors
_COUNT = Range(1, 2 ** 40)                                   # records, rows, keys, samples
_JOBS = Range(1, 4096)
RECORD_BYTES_MIN = 100                                       # a merge buffer holds at least one terasort record                                       # concurrent processes/threads/jobs
PARAM_RANGES = {
    # device baselines
    "bs": _BLOCK, "size": _BYTES, "iodepth": Range(1, 65536), "numjobs": Range(1, 1024),
    "runtime_s": Range(0.001, 7 * DAY_S, unit="seconds"),
    "ioengine": Choice(("auto", "psync", "libaio", "io_uring")),   # bench.core.pattern.IOENGINES, or auto
    # HDFS patterns and terasort
    "block_size": _BYTES, "packet_size": _BLOCK, "blocks": Range(1, 2 ** 30), "readers": _JOBS,
    "replication": Range(1, 64), "bytes_per_checksum": Range(1, 1 * MiB, unit="bytes"),
    # MapReduce patterns
    "maps": _JOBS, "reducers": _JOBS, "map_output_bytes": _BYTES, "parallel_copies": Range(1, 1024),
    "spills_per_map": Range(1, 1024), "spill_bytes": _BYTES, "merge_factor": Range(2, 1024),
    # terasort
    "records": _COUNT, "partitions": Range(1, 65536), "map_tasks": Range(0, 2 ** 30), "split_size": Range(0, PiB),
    "sample_size": _COUNT, "hdfs_readers": Range(0, 1024), "hdfs_read_bytes": Range(0, PiB, unit="bytes"),
    "hdfs_read_mbps": Range(0, 1e7, unit="MB/s"), "merge_buffer": Range(RECORD_BYTES_MIN, 1 * GiB, unit="bytes"),
    # aggregate
    "rows": _COUNT, "distinct_keys": _COUNT, "memory_budget_mb": Range(1, 2 ** 30, unit="MB"),
    "zipf_exponent": Range(0, 100), "rows_per_file": _COUNT, "seed": Range(0, 2 ** 63 - 1),
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _coerce(value: Any, kind: type, key: str):
    """`value` (a CLI string, or a TOML string/number/boolean) as `kind`; ValueError names the parameter.
    Booleans are booleans: a number is not one, and a boolean is not a number."""
    text = value.strip() if isinstance(value, str) else None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{key}: expected a {'number' if kind is float else 'whole number'}, got {value!r}")
    if kind is int:
        if isinstance(value, float):
            if not math.isfinite(value) or value != int(value):
                raise ValueError(f"{key}: expected a whole number, got {value!r}")
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return parse_size(text)
        except ValueError as e:
            raise ValueError(f"{key}: {e}") from None
    if kind is float:
        try:
            number = float(text if text is not None else value)
        except (ValueError, OverflowError):
            raise ValueError(f"{key}: expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"{key}: expected a finite number, got {value!r}")
        return number
    return value




def check_value(key: str, value) -> None:
    """ValueError unless `value` is within PARAM_RANGES[key] (booleans have no range; a string has one only
    where PARAM_RANGES gives its choices)."""
    if isinstance(value, str) and isinstance(PARAM_RANGES.get(key), Choice):
        PARAM_RANGES[key].check(key, value)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if key not in PARAM_RANGES:
        raise ValueError(f"parameter {key!r} has no range in workloads.PARAM_RANGES")
    PARAM_RANGES[key].check(key, value)


def coerce_params(workload: Workload, overrides: Mapping[str, Any]):
    """The workload's params dataclass with `overrides` applied; unknown keys and bad values raise ValueError
    (types, PARAM_RANGES, then the workload's own cross-parameter rules in its __post_init__)."""
    params = workload.default_params()
    kinds = {f.name: f.type for f in fields(params)}
    changes = {}
    for key, value in overrides.items():
        if key not in kinds:
            raise ValueError(f"workload {workload.name} has no parameter {key!r} "
                             f"(it has: {', '.join(sorted(kinds))})")
        default = getattr(params, key)
        kind = type(default) if default is not None else str
        changes[key] = _coerce(value, kind, key)
        check_value(key, changes[key])
    return replace(params, **changes)
