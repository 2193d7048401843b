"""The plan: every Case to run = tier x workload x params x engine x repeat (pattern workloads), or
data/temp layout x workload x params x workers x repeat (jobs). Pure: builds data, runs nothing."""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

import workloads
from bench.config import Config
from bench.errors import UserError
from bench.model import case_key


@dataclass(frozen=True)
class Case:
    id: int
    workload: str
    kind: str                 # "pattern" or "job"
    tier: str                 # where the pattern runs; for a job, its data tier
    engine: str               # "fio", "builtin" or "job"
    params: dict
    repeat: int
    temp_tier: Optional[str] = None
    workers: Optional[int] = None
    cache: bool = False
    label: Optional[str] = None   # a scenario's step name (steps may differ in ways params don't show)
    memory_mb: Optional[int] = None  # run the worker in a memory-capped container (page cache included)

    def key(self) -> tuple:
        """What identifies the case across repeats (and across runs, for compare)."""
        return case_key(self.to_dict())

    def to_dict(self) -> dict:
        return asdict(self)


def _sweeps(workload, cfg: Config) -> list:
    """The parameter combinations of one workload: defaults, quick overrides, default sweep, user sweeps."""
    names = {f.name for f in fields(workload.params)}
    fixed, swept = {}, {}
    if cfg.quick:
        fixed.update(workload.quick or {})
    for key, values in (workload.default_sweep or {}).items():
        swept[key] = list(values)
    for key, values in cfg.params.items():
        if key in names:
            swept[key] = list(values)
            fixed.pop(key, None)
    keys = sorted(swept)
    combos = []
    for values in itertools.product(*(swept[k] for k in keys)) if keys else [()]:
        overrides = dict(fixed, **dict(zip(keys, values)))
        try:
            params = workloads.coerce_params(workload, overrides)
        except ValueError as e:
            raise UserError(f"--param: {e}") from None
        combos.append({k: getattr(params, k) for k in sorted(overrides)})
    return combos


def build(cfg: Config, tier_names: list) -> list:
    """Cases in the order they run: repeats interleaved outermost so that drift spreads over all cases."""
    selected = []
    for name in cfg.workloads:
        try:
            selected.append(workloads.get(name))
        except KeyError:
            raise UserError(f"unknown workload {name!r} (known: {', '.join(workloads.names())})") from None
    all_params = {f.name for w in selected for f in fields(w.params)}
    for key in cfg.params:
        if key not in all_params:
            raise UserError(f"--param {key}: no selected workload has this parameter "
                            f"(they have: {', '.join(sorted(all_params))})")
    for name in (cfg.data, cfg.temp):
        if name is not None and name not in tier_names:
            raise UserError(f"tier {name!r} is not configured (tiers: {', '.join(tier_names)})")
    cases = []
    for repeat in range(cfg.repeat):
        for w in selected:
            for params in _sweeps(w, cfg):
                if w.kind == "pattern":
                    worker_counts = cfg.workers or [None]
                    for tier, engine, workers in itertools.product(tier_names, cfg.engines, worker_counts):
                        p = dict(params)
                        if workers is not None:
                            p["numjobs"] = workers
                        cases.append(Case(len(cases), w.name, "pattern", tier, engine, p, repeat,
                                          workers=workers, cache=cfg.cache))
                else:
                    data = cfg.data or tier_names[0]
                    temp = cfg.temp or data
                    for workers in cfg.workers or [1]:
                        cases.append(Case(len(cases), w.name, "job", data, "job", dict(params), repeat,
                                          temp_tier=temp, workers=workers, cache=cfg.cache))
    if not cases:
        raise UserError("nothing to run: no workloads or no tiers")
    return cases
