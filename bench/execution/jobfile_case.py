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

from bench.core.userfile import JOB_FILE, read_user_text
from bench.engines.fio.jobfile import point_at_tier, read_jobfile
from bench.engines.fio.jobfile_guard import check_jobfile_safety, check_threads, space_needed
from bench.engines.fio.run import check_engines, check_jobfile
from bench.execution.plan import Case
from bench.tiers.guard import check_needs

__all__ = ["load_jobfile", "jobfile_cases", "threads"]


def load_jobfile(path: str, tier_paths: dict, *, quick: bool, allow_paths: bool, allow_commands: bool = False,
                 allow_engines=(), local: bool = True) -> dict:
    """The job file's spec for the workers {name, text, sha256, quick, allow_paths, roots, threads}, after
    tierbench's rules (bench.engines.fio.jobfile_guard: paths inside the tiers, commands, engines, limits and,
    for tiers on this machine (`local`), free space) and fio's check of the file as it will run on every tier
    ({tier: directory}; on a fleet, every host's)."""
    text = read_user_text(path, what="--job-file", limit=JOB_FILE)
    name = Path(path).name
    job = read_jobfile(name, text)
    roots = sorted(set(tier_paths.values()))
    # an engine this fio cannot load is named in fio's words first; then tierbench's rules
    check_engines([(options.get("ioengine") or "").strip() for _, options in job.sections], name)
    for tier, directory in tier_paths.items():
        check_jobfile_safety(job, directory, roots, allow_paths=allow_paths, allow_commands=allow_commands,
                             allow_engines=allow_engines, resolve=local)
    check_threads(job, threads(job))
    if local:
        nbytes, desc = space_needed(job, quick=quick)
        for tier, directory in tier_paths.items() if nbytes else ():     # cases run one at a time
            check_needs({directory: (nbytes, desc)}, {directory: tier}, f"job file {name}")
    with tempfile.TemporaryDirectory(prefix="tierbench-jobfile-") as scratch:
        for tier, directory in tier_paths.items():
            checked = Path(scratch) / f"{tier}-{name}"
            checked.write_text(point_at_tier(job, directory, roots, quick=quick, allow_paths=allow_paths))
            check_jobfile(str(checked), name)
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
