"""Configuration: a TOML file and/or CLI flags (flags win). Produces a validated `Config`.

    [tiers.hdd]                       # one table per tier
    path = "/mnt/hdd"
    class = "hdd"                     # optional: detection decides otherwise
    capacity = "8T"                   # optional nominal capacity for IOPS per GB (default: the device's)

    [run]
    workloads = ["rand-read-4k", "seq-read-1m"]
    engine = "fio"                    # or "builtin", or ["fio", "builtin"] to run both and report the ratio
    repeat = 3
    data = "hdd"                      # tier for jobs' input/output
    temp = "nvme"                     # tier for jobs' temp data
    workers = [1, 2, 4]
    cache = false
    quick = false

    [params]                          # swept parameters: each list is swept, scalars are fixed
    iodepth = [1, 32]
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from bench.errors import UserError

ENGINES = ("fio", "builtin")


@dataclass
class TierDecl:
    name: str
    path: Optional[str] = None
    cls: Optional[str] = None
    capacity_bytes: Optional[int] = None


@dataclass
class Config:
    tiers: list = field(default_factory=list)          # [TierDecl]
    workloads: list = field(default_factory=list)
    engines: list = field(default_factory=lambda: ["fio"])
    repeat: int = 1
    data: Optional[str] = None
    temp: Optional[str] = None
    workers: list = field(default_factory=list)
    cache: bool = False
    quick: bool = False
    params: dict = field(default_factory=dict)         # key -> list of values (strings or numbers)
    emulate: bool = False
    export_jobs: Optional[str] = None
    results: Optional[str] = None
    timeout_s: float = 600.0
    allow_system_path: bool = False    # --allow-system-path: a tier may be a system path (bench.tier_guard)
    allow_shared_tier: bool = False    # --allow-shared-tier: run even if another run holds a tier's lock


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def load_toml(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist") from None
    except OSError as e:
        raise UserError(f"config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"config file {path}: invalid TOML ({e})") from None


def from_toml(doc: dict, where: str) -> Config:
    cfg = Config()
    unknown = set(doc) - {"tiers", "run", "params"}
    if unknown:
        raise UserError(f"{where}: unknown section(s) {', '.join(sorted(unknown))} (expected tiers, run, params)")
    for name, t in (doc.get("tiers") or {}).items():
        if not isinstance(t, dict):
            raise UserError(f"{where}: [tiers.{name}] must be a table")
        bad = set(t) - {"path", "class", "capacity"}
        if bad:
            raise UserError(f"{where}: [tiers.{name}] has unknown key(s) {', '.join(sorted(bad))}")
        capacity = None
        if "capacity" in t:
            try:
                capacity = _decimal_size(t["capacity"])
            except ValueError as e:
                raise UserError(f"{where}: [tiers.{name}] capacity: {e}") from None
        cfg.tiers.append(TierDecl(name, t.get("path"), t.get("class"), capacity))
    run = doc.get("run") or {}
    known = {"workloads", "engine", "repeat", "data", "temp", "workers", "cache", "quick", "timeout_s"}
    bad = set(run) - known
    if bad:
        raise UserError(f"{where}: [run] has unknown key(s) {', '.join(sorted(bad))}")
    if "workloads" in run:
        cfg.workloads = [str(w) for w in _as_list(run["workloads"])]
    if "engine" in run:
        cfg.engines = [str(e) for e in _as_list(run["engine"])]
    for key in ("repeat", "data", "temp", "cache", "quick", "timeout_s"):
        if key in run:
            setattr(cfg, key, run[key])
    if "workers" in run:
        cfg.workers = [int(w) for w in _as_list(run["workers"])]
    cfg.params = {k: _as_list(v) for k, v in (doc.get("params") or {}).items()}
    return cfg


def _decimal_size(value) -> int:
    """Capacities are decimal as drives are sold: 8T = 8 x 10^12 bytes."""
    if isinstance(value, int):
        return value
    text = str(value).strip().upper().rstrip("B")
    mult = {"K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15}
    if text and text[-1] in mult:
        return int(float(text[:-1]) * mult[text[-1]])
    return int(float(text))


def parse_param_flag(text: str) -> tuple:
    """`KEY=V1,V2,...` → (key, [values])."""
    if "=" not in text:
        raise UserError(f"--param {text!r}: expected KEY=V1,V2,...")
    key, values = text.split("=", 1)
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not key.strip() or not items:
        raise UserError(f"--param {text!r}: expected KEY=V1,V2,...")
    return key.strip(), items


def parse_workers(text: str) -> list:
    try:
        workers = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise UserError(f"--workers {text!r}: expected a list of positive integers like 1,2,4") from None
    if not workers or min(workers) < 1:
        raise UserError(f"--workers {text!r}: expected a list of positive integers like 1,2,4")
    return workers


def validate(cfg: Config) -> Config:
    for engine in cfg.engines:
        if engine not in ENGINES:
            raise UserError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
    if not isinstance(cfg.repeat, int) or cfg.repeat < 1:
        raise UserError(f"repeat must be a positive integer, not {cfg.repeat!r}")
    return cfg
