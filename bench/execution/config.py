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

Every key is checked when the file is read, with one-line UserErrors (exit 2): its type (booleans are TOML
booleans, `cache = "false"` is refused; numbers are numbers) and its range (repeat 1..1000, workers 1..1024,
timeout_s above 0 and at most a week, capacity 1 byte..1 EB and finite). A file that is not UTF-8 or not TOML
is refused the same way. Workload parameters are checked by the plan (bench.execution.plan.check, workloads.PARAM_RANGES).
"""
from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from typing import Optional

from bench.core.errors import UserError
from bench.core.units import parse_capacity
from bench.core.userfile import SMALL_FILE, read_user_text

ENGINES = ("fio", "builtin", "spark")   # spark: jobs (terasort) on a Spark cluster; fio, builtin: patterns


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
    allow_system_path: bool = False    # --allow-system-path: a tier may be a system path (bench.tiers.guard)
    allow_shared_tier: bool = False    # --allow-shared-tier: run even if another run holds a tier's lock
    spark_master: Optional[str] = None  # --spark-master spark://HOST:PORT: an existing cluster for --engine spark
    tags: dict = field(default_factory=dict)  # --tag KEY=VALUE: stored with the run (bench.execution.provenance)
    raw_devices: bool = False          # a tier may be a raw block device (`run`: bench.tiers.raw)
    destroy_data: bool = False         # --destroy-data: patterns may write to raw device tiers
    hdd: dict = field(default_factory=dict)   # --hdd-* flags: bench.tiers.emulate.emulate's hdd keyword arguments
    interval_s: float = 1.0             # --interval: seconds per interval of the figures over time
    precondition: bool = False          # --precondition: SNIA PTS preconditioning before each pattern case
    steady_state: bool = False          # --steady-state: rounds of the workload until PTS steady state
    round_s: float = 60.0               # --round-s: seconds per steady-state round (PTS: one minute)
    max_rounds: int = 25                # --max-rounds: rounds before "not steady" (PTS: 25)


# Bounds of the run's numbers (sanity: a typo must not plan a billion repeats or a timeout of a century).
REPEAT_MAX = 1000
WORKERS_MAX = 1024
TIMEOUT_MAX_S = 7 * 86400.0
# Figures over time: fio's status reports come at whole milliseconds, and a report per 0.1 s of a json+
# report is already tens of KB each; one per hour is the coarsest that still shows a change within a long run.
INTERVAL_MIN_S = 0.1
INTERVAL_MAX_S = 3600.0
ROUND_MIN_S, ROUND_MAX_S = 0.5, 3600.0   # a round shorter than fio's setup would measure the setup
MAX_ROUNDS_LIMIT = 1000


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def load_toml(path: str) -> dict:
    """The TOML document at `path`; UserError (one line) when it is missing, unreadable, not UTF-8 or not TOML."""
    if not os.path.lexists(path):
        raise UserError(f"config file {path} does not exist")
    text = read_user_text(path, what="config file", limit=SMALL_FILE)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"config file {path}: invalid TOML ({e})") from None
    except RecursionError:
        raise UserError(f"config file {path}: invalid TOML (nested too deeply)") from None


def _kind(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _string(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise UserError(f"{where} must be a non-empty string, not {_kind(value)} ({value!r:.40})")
    return value


def _strings(value, where: str) -> list:
    items = _as_list(value)
    if not items:
        raise UserError(f"{where} must not be empty")
    return [_string(v, where) for v in items]


def _boolean(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{where} must be true or false (a TOML boolean, no quotes), not {value!r:.40}")
    return value


def _integer(value, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"{where} must be an integer from {low} to {high}, not {value!r:.40}")
    return value


def check_timeout(value, where: str) -> float:
    """A per-case timeout in seconds: a finite number > 0 and at most TIMEOUT_MAX_S."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 < value <= TIMEOUT_MAX_S:
        raise UserError(f"{where} must be a number of seconds above 0 and at most {TIMEOUT_MAX_S:g}, not {value!r:.40}")
    return float(value)


def check_interval(value, where: str) -> float:
    """Seconds per interval of the figures over time: a finite number in INTERVAL_MIN_S..INTERVAL_MAX_S."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not INTERVAL_MIN_S <= value <= INTERVAL_MAX_S:
        raise UserError(f"{where} must be a number of seconds from {INTERVAL_MIN_S:g} to {INTERVAL_MAX_S:g}, "
                        f"not {value!r:.40}")
    return float(value)


def method_of(cfg: Config) -> Optional[dict]:
    """How pattern cases are measured beyond one run (bench.execution.rounds), or None: preconditioning and/or
    steady-state rounds."""
    if not (cfg.precondition or cfg.steady_state):
        return None
    return {"precondition": cfg.precondition,
            "steady_state": {"round_s": float(cfg.round_s), "max_rounds": cfg.max_rounds} if cfg.steady_state else None}


def method_label(method: Optional[dict]) -> Optional[str]:
    """The case label that keeps such cases apart from plain ones (bench.core.case.case_key)."""
    if not method:
        return None
    parts = (["preconditioned"] if method.get("precondition") else []) + \
            (["steady-state"] if method.get("steady_state") else [])
    return "+".join(parts)


def _tier_decl(name: str, t, where: str) -> TierDecl:
    from bench.tiers.detect import _NAME, CLASSES

    if not _NAME.match(name):
        raise UserError(f"{where}: tier name {name!r:.40} must start with a letter and hold letters, digits, "
                        "'_', '-' or '.' (32 at most)")
    if not isinstance(t, dict):
        raise UserError(f"{where}: [tiers.{name}] must be a table, not {_kind(t)}")
    bad = set(t) - {"path", "class", "capacity"}
    if bad:
        raise UserError(f"{where}: [tiers.{name}] has unknown key(s) {', '.join(sorted(bad))}")
    path = _string(t["path"], f"{where}: [tiers.{name}] path") if "path" in t else None
    if path is not None and "\0" in path:
        raise UserError(f"{where}: [tiers.{name}] path contains a NUL byte")
    cls = _string(t["class"], f"{where}: [tiers.{name}] class") if "class" in t else None
    if cls is not None and cls not in CLASSES:
        raise UserError(f"{where}: [tiers.{name}] class {cls!r:.40} is not one of {', '.join(CLASSES)}")
    capacity = None
    if "capacity" in t:
        try:
            capacity = _decimal_size(t["capacity"])
        except ValueError as e:
            raise UserError(f"{where}: [tiers.{name}] capacity: {e}") from None
    return TierDecl(name, path, cls, capacity)


def from_toml(doc: dict, where: str) -> Config:
    """A Config from a parsed TOML document; every key's type and range is checked (UserError, one line)."""
    cfg = Config()
    unknown = set(doc) - {"tiers", "run", "params"}
    if unknown:
        raise UserError(f"{where}: unknown section(s) {', '.join(sorted(unknown))} (expected tiers, run, params)")
    for section in ("tiers", "run", "params"):
        if section in doc and not isinstance(doc[section], dict):
            raise UserError(f"{where}: {section} must be a table ([{section}]), not {_kind(doc[section])}")
    for name, t in doc.get("tiers", {}).items():
        cfg.tiers.append(_tier_decl(name, t, where))
    run = doc.get("run", {})
    known = {"workloads", "engine", "repeat", "data", "temp", "workers", "cache", "quick", "timeout_s", "interval_s"}
    bad = set(run) - known
    if bad:
        raise UserError(f"{where}: [run] has unknown key(s) {', '.join(sorted(bad))}")
    if "workloads" in run:
        cfg.workloads = _strings(run["workloads"], f"{where}: [run] workloads")
        twice = sorted({w for w in cfg.workloads if cfg.workloads.count(w) > 1})
        if twice:
            raise UserError(f"{where}: [run] workloads names {twice[0]} twice (use repeat = N for repeats)")
    if "engine" in run:
        cfg.engines = list(dict.fromkeys(_strings(run["engine"], f"{where}: [run] engine")))
    if "repeat" in run:
        cfg.repeat = _integer(run["repeat"], f"{where}: [run] repeat", 1, REPEAT_MAX)
    for key in ("data", "temp"):
        if key in run:
            setattr(cfg, key, _string(run[key], f"{where}: [run] {key}"))
    for key in ("cache", "quick"):
        if key in run:
            setattr(cfg, key, _boolean(run[key], f"{where}: [run] {key}"))
    if "timeout_s" in run:
        cfg.timeout_s = check_timeout(run["timeout_s"], f"{where}: [run] timeout_s")
    if "interval_s" in run:
        cfg.interval_s = check_interval(run["interval_s"], f"{where}: [run] interval_s")
    if "workers" in run:
        items = _as_list(run["workers"])
        if not items:
            raise UserError(f"{where}: [run] workers must not be empty")
        cfg.workers = [_integer(w, f"{where}: [run] workers", 1, WORKERS_MAX) for w in items]
    for key, value in doc.get("params", {}).items():
        values = _as_list(value)
        if not values or not all(isinstance(v, (str, int, float, bool)) for v in values):
            raise UserError(f"{where}: [params] {key} must be a value or a non-empty array of values "
                            f"(strings, numbers, booleans), not {value!r:.60}")
        cfg.params[key] = values
    return cfg


def _decimal_size(value) -> int:
    """Capacities are decimal as drives are sold: 8T = 8 x 10^12 bytes (bench.core.units.parse_capacity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a size like \"8T\" or a number of bytes, not {_kind(value)}")
    return parse_capacity(value)


def parse_param_flag(text: str) -> tuple:
    """`KEY=V1,V2,...` → (key, [values]); an empty value (`1,,2`, a trailing comma) is refused, not skipped."""
    if "=" not in text:
        raise UserError(f"--param {text!r:.60}: expected KEY=V1,V2,...")
    key, values = text.split("=", 1)
    items = [v.strip() for v in values.split(",")]
    if not key.strip() or not values.strip():
        raise UserError(f"--param {text!r:.60}: expected KEY=V1,V2,...")
    if not all(items):
        raise UserError(f"--param {text!r:.60}: an empty value in the list (expected KEY=V1,V2,...)")
    return key.strip(), items


def parse_workers(text: str) -> list:
    """`1,2,4` → [1, 2, 4]; each from 1 to WORKERS_MAX."""
    message = f"--workers {text!r:.60}: expected a list of integers from 1 to {WORKERS_MAX} like 1,2,4"
    try:
        workers = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise UserError(message) from None
    if not workers or min(workers) < 1 or max(workers) > WORKERS_MAX:
        raise UserError(message)
    return workers


def validate(cfg: Config) -> Config:
    """The checks that hold however the Config was made (TOML, flags, a scenario): engines, repeat, workers,
    timeout. Workload parameters are checked by the plan (bench.execution.plan.check), which knows the workloads."""
    for engine in cfg.engines:
        if engine not in ENGINES:
            raise UserError(f"unknown engine {engine!r:.40} (one of {', '.join(ENGINES)})")
    _integer(cfg.repeat, "repeat", 1, REPEAT_MAX)
    for w in cfg.workers:
        _integer(w, "workers", 1, WORKERS_MAX)
    check_timeout(cfg.timeout_s, "timeout")
    check_interval(cfg.interval_s, "interval")
    if isinstance(cfg.round_s, bool) or not isinstance(cfg.round_s, (int, float)) or not math.isfinite(cfg.round_s) \
            or not ROUND_MIN_S <= cfg.round_s <= ROUND_MAX_S:
        raise UserError(f"--round-s must be a number of seconds from {ROUND_MIN_S:g} to {ROUND_MAX_S:g}, "
                        f"not {cfg.round_s!r:.40}")
    from bench.analysis.steady_state import WINDOW_ROUNDS
    _integer(cfg.max_rounds, f"--max-rounds (at least the {WINDOW_ROUNDS}-round window)", WINDOW_ROUNDS,
             MAX_ROUNDS_LIMIT)
    if cfg.spark_master is not None:
        match = re.fullmatch(r"spark://([A-Za-z0-9_.\-]+):(\d{1,5})", cfg.spark_master)
        if not match:
            raise UserError(f"--spark-master {cfg.spark_master!r:.60}: expected spark://HOST:PORT")
        if not 1 <= int(match.group(2)) <= 65535:
            raise UserError(f"--spark-master {cfg.spark_master!r:.60}: port {match.group(2)} is not from 1 to 65535")
        if "spark" not in cfg.engines:
            raise UserError("--spark-master is for --engine spark")
    return cfg
