"""A stored trace replayed on a tier by fio (read_iolog), in a case's directory, with its fidelity checked.

Each file class (bench.engines.trace.table) is one fio job with its own iolog (bench.engines.trace.iolog), the
jobs running side by side in one group, so each class is a phase with fio's own figures; within a class the
trace's order is kept. Default: as fast as possible (`replay_no_stall=1`: no waits between requests);
`timed`: each request at its recorded time (fio waits out the think time), which keeps the classes' timeline too.
psync engine (pread/pwrite: the offset travels with the call), buffered as the program's I/O was.

Before fio starts, the files a read needs (the program's input: bytes read that the trace had not written) are
written at their size, fsynced and dropped from the page cache (posix_fadvise DONTNEED), as tierbench makes
every measured read cold. Fidelity: per class, fio's read and write operations and bytes must equal the trace's
exactly, else the case fails saying which differ.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

from bench.core.errors import CaseError
from bench.core.units import fmt_bytes
from bench.engines.fio.parse import parse
from bench.engines.fio.records import phase_records
from bench.engines.fio.run import run_fio
from bench.engines.trace.iolog import footprint_bytes, iologs, precreate_sizes
from bench.engines.trace.table import file_classes, read_trace
from bench.tiers.emulate import join_cgroup
from bench.tiers.guard import free_bytes

__all__ = ["run", "jobfile_text", "class_totals", "fidelity_problems"]

FILL_CHUNK = 1 << 20


def jobfile_text(iolog_paths: dict, timed: bool) -> str:
    lines = ["; tierbench replay of a trace: one job per file class (docs/record-replay.md)", "[global]",
             "ioengine=psync"]
    if not timed:
        lines.append("replay_no_stall=1")
    for cls, path in iolog_paths.items():
        lines += ["", f"[{cls}]", f"read_iolog={path}"]
    return "\n".join(lines) + "\n"


def class_totals(df, classes: dict) -> dict:
    """{class: {ops_read, bytes_read, ops_written, bytes_written}} of the trace."""
    out: dict = {}
    for f, op, n in zip(*(df[c].to_list() for c in ("file", "op", "length"))):
        if op not in ("read", "write"):
            continue
        t = out.setdefault(classes.get(f, "other"), {"ops_read": 0, "bytes_read": 0, "ops_written": 0,
                                                     "bytes_written": 0})
        key = "read" if op == "read" else "written"
        t[f"ops_{key}"] += 1
        t[f"bytes_{key}"] += n
    return out


def fidelity_problems(expected: dict, phases: list) -> list:
    """One line per class whose replayed ops or bytes differ from the trace's (empty: an exact replay)."""
    got = {p["name"]: p for p in phases}
    problems = []
    for cls, want in expected.items():
        have = got.get(cls)
        if have is None:
            problems.append(f"class {cls}: fio reported nothing")
            continue
        diffs = [f"{k} {have.get(k, 0)} replayed, {v} in the trace" for k, v in want.items() if have.get(k, 0) != v]
        if diffs:
            problems.append(f"class {cls}: " + ", ".join(diffs))
    return problems


def _fill(path: str, size: int) -> None:
    """Write `size` bytes (not a sparse file: a read of a hole never reaches the device), fsync, drop it from
    the page cache."""
    block = os.urandom(min(FILL_CHUNK, size))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        left = size
        while left:
            n = os.write(fd, block[:min(left, len(block))])
            left -= n
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run(spec: dict, directory: str, tier: str, raw_dir: Path, stem: str, timeout_s: float,
        container: Optional[str] = None) -> dict:
    """Replay spec["trace_path"] (timed when spec["timed"]) in `directory` on `tier`; returns the phases (one per
    class, fio's records), the fidelity ({class: trace totals}) and the raw files written. container: a memory
    cgroup this process joins just before fio starts, so that it holds fio and the replay's page cache, not the
    trace and iologs built in this process (a large trace alone can exceed a YARN-sized container)."""
    df = read_trace(Path(spec["trace_path"]))
    classes = file_classes(df)
    expected = class_totals(df, classes)
    if not expected:
        raise CaseError("the trace holds no reads or writes: nothing to replay")
    need = footprint_bytes(df)
    free, note = free_bytes(directory)
    if need > free:
        raise CaseError(f"the replay's files take up to {fmt_bytes(need)}; {directory} has {fmt_bytes(free)}"
                        f"{note} free")
    logs, mapping = iologs(df, classes, directory)
    for f, size in precreate_sizes(df).items():
        _fill(mapping[f], size)
    raw_dir = raw_dir.resolve()
    paths = {}
    for cls, text in sorted(logs.items()):
        path = raw_dir / f"{stem}.{cls}.iolog"
        path.write_text(text)
        paths[cls] = str(path)
    jobfile = raw_dir / f"{stem}.fio"
    output = raw_dir / f"{stem}.fio.json"
    jobfile.write_text(jobfile_text(paths, bool(spec.get("timed"))))
    scratch = raw_dir / f"{stem}.fio-cwd"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    join_cgroup(container)
    try:
        report = parse(run_fio(str(jobfile), str(output), timeout_s=timeout_s, cwd=str(scratch)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    phases = []
    for rec in phase_records(report):
        if rec["error"]:
            raise CaseError(f"fio job {rec['name']}: error {rec['error']} ({os.strerror(rec['error'])})")
        phases.append({"name": rec["name"], "tier": tier, "role": "data",
                       **{k: v for k, v in rec.items() if k not in ("name", "host", "groupid", "document", "error")}})
    problems = fidelity_problems(expected, phases)
    if problems:
        raise CaseError("replay fidelity: the replay differs from the trace: " + "; ".join(problems))
    return {"phases": phases, "implementation": report.fio_version, "threads": len(phases),
            "raw": [jobfile.name, output.name] + [Path(p).name for p in paths.values()],
            "replay": {"trace": spec.get("trace"), "timed": bool(spec.get("timed")), "expected": expected,
                       "exact": True}}
