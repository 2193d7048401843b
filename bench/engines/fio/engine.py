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

from bench.core.errors import CaseError
from bench.core.pattern import Pattern
from bench.engines.fio.job import render_jobfile
from bench.engines.fio.parse import parse
from bench.engines.fio.run import run_fio
from bench.engines.layout import lay_out_pattern


def phase_records(report, pattern: Pattern, tiers_by_role: dict) -> list:
    """One record per fio job entry (with group_reporting, one per phase), in the pattern's phase order."""
    by_name = {job.name: job for job in report.jobs if job.host in (None, "All clients")}
    records = []
    for phase in pattern.phases:
        job = by_name.get(phase.name)
        if job is None:
            continue     # bench.analysis.metrics.check_phases fails the case: no measurement for this phase
        if job.error:
            raise CaseError(f"fio job {phase.name}: error {job.error} ({os.strerror(job.error)})")
        rec = {"name": phase.name, "tier": tiers_by_role.get(phase.role), "role": phase.role,
               "ops_read": 0, "ops_written": 0, "bytes_read": 0, "bytes_written": 0, "wall_s": 0.0}
        if job.cpu_s is not None:
            rec["cpu_s"] = job.cpu_s        # fio's own accounting of its jobs' user + system time
        for direction, d in job.directions.items():
            if d.ops == 0:
                continue
            key = "written" if direction == "write" else "read"
            if direction in ("read", "write", "mixed"):
                rec[f"ops_{key}"] += d.ops
                rec[f"bytes_{key}"] += d.bytes
                rec["wall_s"] = max(rec["wall_s"], d.runtime_s)
                if d.bins_ns:
                    rec["bins_read" if key == "read" else "bins_write"] = dict(d.bins_ns)
        records.append(rec)
    return records


def run(pattern: Pattern, dirs: dict, tiers_by_role: dict, raw_dir: Path, stem: str, timeout_s: float) -> dict:
    """Run the pattern with fio in `dirs` ({role: directory}); returns phases and the raw files written."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw_dir = raw_dir.resolve()     # fio runs in the scratch directory
    jobfile = raw_dir / f"{stem}.fio"
    output = raw_dir / f"{stem}.fio.json"
    scratch = raw_dir / f"{stem}.fio-cwd"
    shutil.rmtree(scratch, ignore_errors=True)
    jobfile.write_text(render_jobfile(pattern, dirs, barrier_dir=str(scratch / "barrier")))
    lay_out_pattern(pattern, dirs, tiers_by_role)
    scratch.mkdir()
    try:
        text = run_fio(str(jobfile), str(output), timeout_s=timeout_s, cwd=str(scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report = parse(text)
    return {"phases": phase_records(report, pattern, tiers_by_role), "implementation": report.fio_version,
            "raw": [jobfile.name, output.name]}
