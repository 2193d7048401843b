"""`run --job-file FILE.fio`: a user's own fio job file as the run's cases, one per tier (and repeat).

Everything is checked before the run exists: the file is read (bench.engines.fio.jobfile), its paths checked
against the tiers, and the file as it will run on each tier handed to fio itself (`fio --parse-only`), whose
refusal is the user's error (exit 2) in fio's own words. The case's identity names the file and its content's
SHA-256 (a changed file is another measurement) and whether --quick capped it.
"""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from bench.core.errors import UserError
from bench.engines.fio.jobfile import point_at_tier, read_jobfile
from bench.engines.fio.run import check_engines, check_jobfile
from bench.execution.plan import Case

__all__ = ["load_jobfile", "jobfile_cases", "threads"]


def load_jobfile(path: str, tier_paths: dict, *, quick: bool, allow_paths: bool) -> dict:
    """The job file's spec for the workers {name, text, sha256, quick, allow_paths, roots, threads}, after
    fio's check of the file as it will run on every tier ({tier: directory}; on a fleet, every host's)."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UserError(f"--job-file {path}: cannot read it ({e.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"--job-file {path}: not a text file") from None
    name = Path(path).name
    job = read_jobfile(name, text)
    roots = sorted(set(tier_paths.values()))
    with tempfile.TemporaryDirectory(prefix="tierbench-jobfile-") as scratch:
        for tier, directory in tier_paths.items():
            checked = Path(scratch) / f"{tier}-{name}"
            checked.write_text(point_at_tier(job, directory, roots, quick=quick, allow_paths=allow_paths))
            check_jobfile(str(checked), name)
    check_engines([(options.get("ioengine") or "").strip() for _, options in job.sections], name)
    return {"name": name, "text": text, "sha256": hashlib.sha256(text.encode()).hexdigest(), "quick": quick,
            "allow_paths": allow_paths, "roots": roots, "threads": threads(job)}


def threads(job) -> int:
    """The most jobs the file runs at once: per reporting group (a section with stonewall, wait_for_previous
    or new_group starts one), the sum of its sections' numjobs ([global]'s by default)."""
    default = _numjobs(dict(next((o for s, o in job.sections if s == "global"), {})))
    groups, current = [], 0
    for name, options in job.sections:
        if name == "global":
            continue
        if current and any(k in options for k in ("stonewall", "wait_for_previous", "new_group")):
            groups.append(current)
            current = 0
        current += _numjobs(options) if "numjobs" in options else default
    groups.append(current)
    return max(1, max(groups))


def _numjobs(options: dict) -> int:
    value = (options.get("numjobs") or "1").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1


def jobfile_cases(spec: dict, tier_names: list, repeat: int) -> list:
    """One case per tier and repeat, repeats outermost (as the plan orders them)."""
    params = {"file": spec["name"], "sha256": spec["sha256"][:16]}
    if spec["quick"]:
        params["quick"] = True
    cases = []
    for r in range(repeat):
        for tier in tier_names:
            cases.append(Case(len(cases), f"jobfile:{spec['name']}", "jobfile", tier, "fio", dict(params), r))
    return cases
