"""The fio engine: pattern → job file → fio (json+) → phase records. Raw output and job file are kept.

Files that a phase reads without an earlier phase writing them are laid out by tierbench before fio starts
(bench.engines.layout), as the builtin engine lays them out, so that both engines start each phase with the same files
and the same page-cache state; fio finds them at their size and does not lay them out itself.
fio runs in a scratch directory next to the raw files, where the start barrier of multi-job phases
(bench/engines/fio/barrier.sh) keeps its state and fio its prerun output; it is removed after the run.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Optional

from bench.core.errors import CaseError
from bench.core.pattern import Pattern
from bench.engines.fio.intervals import interval_rows
from bench.engines.fio.job import render_jobfile
from bench.engines.fio.live import StatusTail
from bench.engines.fio.parse import parse
from bench.engines.fio.records import group_records, phase_records
from bench.engines.fio.run import run_fio
from bench.engines.layout import lay_out_pattern


def pattern_records(report, pattern: Pattern, tiers_by_role: dict, host=None, port=None) -> list:
    """The phase records (bench.engines.fio.records) of one host (None: a local run) in the pattern's phase order,
    each with its tier and role; a phase fio reported nothing for is left out (bench.analysis.metrics.check_phases
    fails the case), a phase fio reports an error for fails the case."""
    by_name = {rec["name"]: rec for rec in phase_records(report, host, port)}
    records = []
    for phase in pattern.phases:
        rec = by_name.get(phase.name)
        if rec is None:
            continue
        if rec["error"]:
            raise CaseError(f"fio job {phase.name}: error {rec['error']} ({os.strerror(rec['error'])})")
        records.append({"name": phase.name, "tier": tiers_by_role.get(phase.role), "role": phase.role,
                        **{k: v for k, v in rec.items() if k not in ("name", "host", "groupid", "document", "error")}})
    return records


def run(pattern: Pattern, dirs: dict, tiers_by_role: dict, raw_dir: Path, stem: str, timeout_s: float,
        device: str = None, interval_s: Optional[float] = None,
        on_interval: Optional[Callable[[list], None]] = None) -> dict:
    """Run the pattern with fio in `dirs` ({role: directory}), or on the raw block device `device` (nothing is laid
    out: the device is its own file); returns phases and the raw files written.
    interval_s: fio reports every so many seconds (--status-interval) and the result carries `intervals`, the
    rows of bench.engines.fio.intervals; on_interval(rows) is called with each interval's rows while fio runs
    (bench.engines.fio.live), for display only."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw_dir = raw_dir.resolve()     # fio runs in the scratch directory
    jobfile = raw_dir / f"{stem}.fio"
    output = raw_dir / f"{stem}.fio.json"
    scratch = raw_dir / f"{stem}.fio-cwd"
    shutil.rmtree(scratch, ignore_errors=True)
    jobfile.write_text(render_jobfile(pattern, dirs, barrier_dir=str(scratch / "barrier"), device=device))
    if device is None:
        lay_out_pattern(pattern, dirs, tiers_by_role)
    scratch.mkdir()
    tail = StatusTail(output, on_interval) if interval_s and on_interval else None
    try:
        if tail:
            tail.start()
        text = run_fio(str(jobfile), str(output), timeout_s=timeout_s, cwd=str(scratch), status_interval_s=interval_s)
    finally:
        if tail:
            tail.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    report = parse(text)
    out = {"phases": pattern_records(report, pattern, tiers_by_role), "implementation": report.fio_version,
           "raw": [jobfile.name, output.name]}
    if interval_s:
        out["intervals"] = interval_rows(report)
    return out


def jobfile_records(report, tier: str, host=None, port=None) -> list:
    """A user's job file's records (one per reporting group, named after its jobs: records.group_records) of
    one host (None: a local run), each on `tier`, from fio's final report (the last document: the ones before it
    are --status-interval reports); CaseError for a job fio reports an error for."""
    records = []
    for rec in _final_groups(report, host, port):
        if rec["error"]:
            raise CaseError(f"fio job {rec['name']}: error {rec['error']} ({os.strerror(rec['error'])})")
        records.append({"name": rec["name"], "tier": tier, "role": "data", "group": rec["groupid"],
                        **{k: v for k, v in rec.items() if k not in ("name", "host", "groupid", "document", "error")}})
    return records


def _final_groups(report, host=None, port=None) -> list:
    """records.group_records of the last document of `host`'s entries: fio's final report."""
    records = phase_records(report, host, port)
    last = max((r["document"] for r in records), default=0)
    return group_records([r for r in records if r["document"] == last])


def group_names(report, host=None, port=None) -> Callable[[str], str]:
    """phase_of(job name): the name of the job's reporting group, as jobfile_records names its phase, so that a
    job file's intervals (local or a fleet host's, bench.engines.fio.fleet_logs) and its phases use the same
    names. A name fio did not report stays as it is."""
    groups = {r["groupid"]: r["name"] for r in _final_groups(report, host, port)}
    names = {job.name: groups[job.groupid] for job in report.jobs
             if job.host == host and (port is None or job.port == port) and job.groupid in groups}
    return lambda name: names.get(name, name)


def run_jobfile(text: str, tier: str, raw_dir: Path, stem: str, timeout_s: float,
                interval_s: Optional[float] = None, on_interval: Optional[Callable[[list], None]] = None) -> dict:
    """Run a user's job file (already pointed at the tier: bench.engines.fio.jobfile) with fio; returns its
    phases (one per reporting group) and the raw files written. interval_s / on_interval as for `run`: the
    intervals are named after the reporting groups, as the phases are."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw_dir = raw_dir.resolve()
    jobfile = raw_dir / f"{stem}.fio"
    output = raw_dir / f"{stem}.fio.json"
    scratch = raw_dir / f"{stem}.fio-cwd"
    shutil.rmtree(scratch, ignore_errors=True)
    jobfile.write_text(text)
    scratch.mkdir()
    tail = StatusTail(output, on_interval) if interval_s and on_interval else None
    try:
        if tail:
            tail.start()
        report = parse(run_fio(str(jobfile), str(output), timeout_s=timeout_s, cwd=str(scratch),
                               status_interval_s=interval_s))
    finally:
        if tail:
            tail.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    out = {"phases": jobfile_records(report, tier), "implementation": report.fio_version,
           "raw": [jobfile.name, output.name]}
    if interval_s:
        phase_of = group_names(report)
        out["intervals"] = interval_rows(report, key=lambda job: phase_of(job.name))
    return out
