"""The workload registry: one module per workload in this package, discovered on import.

A workload module defines `WORKLOAD`, made with `pattern_workload(...)` (an engine-neutral I/O pattern that
fio and the builtin engine both run) or `job_workload(...)` (a big-data job run in-process with its data
on one tier and its temp data on another). Adding a workload is adding one module; names must be unique.
"""
from __future__ import annotations

import importlib
import re
import pkgutil
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Mapping, Optional

__all__ = ["Workload", "pattern_workload", "job_workload", "get", "names", "all_workloads", "coerce_params"]


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str                      # "pattern" or "job"
    params: type                   # a dataclass of parameters with defaults (Hadoop's where they apply)
    description: str
    build: Optional[Callable] = None   # pattern kind: build(params) -> bench.pattern.Pattern
    run: Optional[Callable] = None     # job kind: run(params, ctx) -> list[Sample]
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


def _coerce(value: Any, kind: type, key: str):
    if isinstance(value, str):
        text = value.strip()
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{key}: expected true/false, got {value!r}")
        if kind is int:
            return parse_size(text)
        if kind is float:
            return float(text)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_MULTIPLIER = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def parse_size(text) -> int:
    """An integer with an optional binary suffix: 4k, 64KiB, 128m, 1g (fio's convention: k = 1024)."""
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a number or size: {text!r}")
    value = float(match.group(1)) * _MULTIPLIER[match.group(2).lower()]
    if value != int(value):
        raise ValueError(f"not a whole number of bytes: {text!r}")
    return int(value)


def coerce_params(workload: Workload, overrides: Mapping[str, Any]):
    """The workload's params dataclass with `overrides` applied; unknown keys and bad values raise ValueError."""
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
    return replace(params, **changes)
