"""The plan: every Case to run = tier x workload x params x engine x repeat (pattern workloads), or
data/temp layout x workload x params x workers x repeat (jobs). Pure: builds data, runs nothing."""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, fields, replace
from typing import Optional

import workloads
from bench.core.case import case_key
from bench.core.errors import UserError
from bench.execution.config import Config, method_label


@dataclass(frozen=True)
class Case:
    id: int
    workload: str
    kind: str                 # "pattern" or "job"
    tier: str                 # where the pattern runs; for a job, its data tier
    engine: str               # "fio", "builtin", "job" (in-process) or "spark"
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


MAX_CASES = 10_000    # a plan larger than this is a typo (each case takes seconds to minutes)
SPARK_JOBS = ("terasort", "aggregate")   # the jobs that --engine spark runs on a Spark cluster (bench/engines/spark)


def pattern_engines(cfg: Config) -> list:
    """The engines that run I/O patterns: fio and builtin (spark runs jobs)."""
    return [e for e in cfg.engines if e != "spark"]


def job_engine(cfg: Config) -> str:
    """How jobs run: "spark" with --engine spark, else "job" (in-process: the replay)."""
    return "spark" if "spark" in cfg.engines else "job"


def _swept(workload, cfg: Config) -> tuple:
    """(fixed overrides, {key: values swept}) of one workload: quick overrides, default sweep, user sweeps."""
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
    return fixed, swept


def _sweeps(workload, cfg: Config) -> list:
    """The parameter combinations of one workload, each checked (types, ranges, the workload's own rules and,
    for a pattern, the pattern it builds with every worker count), as the worker will check them."""
    fixed, swept = _swept(workload, cfg)
    keys = sorted(swept)
    has_numjobs = "numjobs" in {f.name for f in fields(workload.params)}
    if workload.kind == "pattern" and cfg.workers and not has_numjobs:
        raise UserError(f"--workers: {workload.name} has no numjobs parameter (its own parameters set how many "
                        "jobs it runs)")
    combos = []
    for values in itertools.product(*(swept[k] for k in keys)) if keys else [()]:
        overrides = dict(fixed, **dict(zip(keys, values)))
        shown = ", ".join(f"{k}={overrides[k]}" for k in keys) or "defaults"
        for workers in (cfg.workers if workload.kind == "pattern" and cfg.workers else [None]):
            full = dict(overrides, numjobs=workers) if workers is not None else overrides
            try:
                params = workloads.coerce_params(workload, full)
                if workload.kind == "pattern":
                    workload.build(params)
            except ValueError as e:
                raise UserError(f"--param: {workload.name} ({shown}): {e}") from None
        combos.append({k: getattr(params, k) for k in sorted(overrides)})
    return combos


def _selected(cfg: Config) -> list:
    selected = []
    for name in cfg.workloads:
        try:
            selected.append(workloads.get(name))
        except KeyError:
            raise UserError(f"unknown workload {name!r:.60} (known: {', '.join(workloads.names())})") from None
    for w in selected:
        if w.kind == "pattern" and not pattern_engines(cfg):
            raise UserError(f"--engine spark runs jobs ({', '.join(SPARK_JOBS)}); {w.name} is an I/O pattern: "
                            "add --engine fio or --engine builtin, or choose --workload terasort")
        if w.kind == "job" and job_engine(cfg) == "spark" and w.name not in SPARK_JOBS:
            raise UserError(f"--engine spark: {w.name} has no Spark implementation yet "
                            f"(Spark runs: {', '.join(SPARK_JOBS)})")
    all_params = {f.name for w in selected for f in fields(w.params)}
    for key in cfg.params:
        if key not in all_params:
            raise UserError(f"--param {key!r:.60}: no selected workload has this parameter "
                            f"(they have: {', '.join(sorted(all_params))})")
    return selected


def _count(selected: list, cfg: Config, tiers: int) -> int:
    """How many cases the plan would hold, computed without building it."""
    per_repeat = 0
    for w in selected:
        combos = 1
        for values in _swept(w, cfg)[1].values():
            combos *= len(values)
        if w.kind == "pattern":
            per_repeat += combos * tiers * len(pattern_engines(cfg)) * max(1, len(cfg.workers))
        else:
            per_repeat += combos * max(1, len(cfg.workers))
    return per_repeat * cfg.repeat


def check(cfg: Config, tiers: int = 1) -> list:
    """Everything about the plan that does not need the tiers, checked before any tier is resolved or any run
    folder is made: workloads exist, every --param names a parameter, the plan's size (MAX_CASES), and every
    swept parameter combination of every workload (types, workloads.PARAM_RANGES, the workload's own rules).
    UserError (one line) for the first problem; returns the selected workloads."""
    selected = _selected(cfg)
    count = _count(selected, cfg, tiers)
    if count > MAX_CASES:
        raise UserError(f"the plan has {count} cases, more than {MAX_CASES}: fewer repeats, sweeps, tiers or "
                        "worker counts")
    for w in selected:
        _sweeps(w, cfg)
    return selected


def build(cfg: Config, tier_names: list) -> list:
    """Cases in the order they run: repeats interleaved outermost so that drift spreads over all cases."""
    selected = check(cfg, len(tier_names))
    for name in (cfg.data, cfg.temp):
        if name is not None and name not in tier_names:
            raise UserError(f"tier {name!r} is not configured (tiers: {', '.join(tier_names)})")
    sweeps = {w.name: _sweeps(w, cfg) for w in selected}
    cases = []
    for repeat in range(cfg.repeat):
        for w in selected:
            for params in sweeps[w.name]:
                if w.kind == "pattern":
                    worker_counts = cfg.workers or [None]
                    for tier, engine, workers in itertools.product(tier_names, pattern_engines(cfg), worker_counts):
                        p = dict(params)
                        if workers is not None:
                            p["numjobs"] = workers
                        cases.append(Case(len(cases), w.name, "pattern", tier, engine, p, repeat,
                                          workers=workers, cache=cfg.cache))
                else:
                    data = cfg.data or tier_names[0]
                    temp = cfg.temp or data
                    for workers in cfg.workers or [1]:
                        cases.append(Case(len(cases), w.name, "job", data, job_engine(cfg), dict(params), repeat,
                                          temp_tier=temp, workers=workers, cache=cfg.cache))
    if not cases:
        raise UserError("nothing to run: no workloads or no tiers")
    return cases


def with_method(cases: list, method) -> list:
    """The cases measured as `method` says (bench.execution.config.method_of; None: as they are), labelled so
    (config.method_label: a preconditioned or steady-state case is another measurement than a plain one).
    UserError when a case is no I/O pattern: preconditioning and rounds run the workload's pattern."""
    if not method:
        return cases
    jobs = sorted({c.workload for c in cases if c.kind != "pattern"})
    if jobs:
        raise UserError(f"--precondition and --steady-state apply to I/O patterns (the device baselines and the "
                        f"HDFS/MapReduce patterns), not to the job(s) {', '.join(jobs)}")
    label = method_label(method)
    return [replace(c, label=f"{c.label}+{label}" if c.label else label) for c in cases]
