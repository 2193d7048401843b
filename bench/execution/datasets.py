"""Data a run lays out once and its cases read again: fio's convention for repeats.

fio lays a job's files out on its first run and reads the same files on every later run; PerfKitBenchmarker
and elbencho prepare the data once, then measure. A case that only reads its data files (every phase of its
`data` role reads, none verifies checksums, no warm-cache or preconditioning method) therefore keeps them, for
the whole run, in a directory of the run on the tier, `tierbench-<run>-data-<shape>`, shared by every case of
the run with the same engine and the same files (fileset, file size, files, jobs): repeats, and sweeps of
iodepth or block size over one file. Its temp files stay in the case's own directory.

Why: where a file lies on a hard drive sets its random figures. ext4 places each new file after the last one
(its allocator's goal moves on through the drive), so a file laid out afresh by every repeat lands elsewhere
each time, now and then across the journal in the middle of the file system, or wrapping from the end to the
start: measured on the emulated hdd (2 GiB tier, 256 MiB file, docs/hdd-model.md), spans of 256, 264, 328 and
2,015 MiB over ten layouts, and QD1 random reads of 132 to 143 IOPS on one drive model. Laid out once, the
repeats measure the same file.

The directory is removed by the worker of the last case that reads it, and at once when a case that used it
fails or is stopped (by the worker itself, also when tierbench died, and by the runner), so that nothing a
failed case may have left half-written is read again: the next case lays the files out anew. The runner also
removes the run's datasets when the run ends, however it ends. tierbench killed with SIGKILL between two cases,
while no worker runs, leaves the dataset of the cases still to come on the tier: the next command that takes the
tier for itself alone (its lock, bench.tiers.guard.TierLocks: no other run can be using it) removes it, saying
so (remove_stale_datasets). The plan's space check counts the datasets as kept for the whole run
(bench.tiers.guard.check_plan_space).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from typing import Optional

READ_MODES = ("read", "randread")
_NAME = re.compile(r"^tierbench-(\d{8}-\d{6}-[0-9a-f]+)-data-[0-9a-f]{12}$")


def _pattern(case: dict):
    import workloads

    workload = workloads.get(case["workload"])
    return workload.build(workloads.coerce_params(workload, case["params"]))


def dataset_shape(case: dict, *, raw: bool = False, fleet: bool = False, precondition: bool = False) -> Optional[dict]:
    """The shape of the data files a case may share with the run's other cases ({"engine", "files": [...]}),
    or None where it keeps them in its own directory: not a pattern case, a raw device or a fleet (no
    directory of its own), a warm-cache case (it needs its layout's pages), preconditioning (it writes the
    region), or a data-role phase that writes or verifies checksums (what it reads must be its own writing)."""
    if case.get("kind") != "pattern" or raw or fleet or precondition or case.get("cache"):
        return None
    phases = [p for p in _pattern(case).phases if p.role == "data"]
    if not phases or any(p.rw not in READ_MODES or p.checksum_chunk for p in phases):
        return None
    files = sorted({(p.fileset, p.file_size, p.nrfiles, p.numjobs) for p in phases})
    return {"engine": case["engine"], "files": [list(f) for f in files]}


def dataset_dir_name(run_id: str, shape: dict) -> str:
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:12]
    return f"tierbench-{run_id}-data-{digest}"


def dataset_dir(case: dict, tier: dict, run_id: str, *, fleet: bool = False,
                precondition: bool = False) -> Optional[str]:
    """The directory that holds the case's data files for the whole run (`tier`: the case's data tier as a
    dict, with `path` and `raw`), or None (dataset_shape)."""
    shape = dataset_shape(case, raw=bool(tier.get("raw")), fleet=fleet, precondition=precondition)
    return os.path.join(tier["path"], dataset_dir_name(run_id, shape)) if shape else None


def dataset_bytes(case: dict) -> int:
    """Bytes of the data files a shared dataset of this case holds."""
    return _pattern(case).footprint_bytes("data")


def plan_datasets(cases, tiers, *, precondition: bool = False) -> list:
    """For each case of a plan: None, or (directory, bytes) of the dataset it shares (for the plan's space
    check: bench.tiers.guard.check_plan_space). `tiers`: Tier objects."""
    by_name = {t.name: t for t in tiers}
    out = []
    for case in cases:
        tier = by_name[case.tier]
        path = dataset_dir(case.to_dict(), {"path": tier.path, "raw": getattr(tier, "raw", False)}, "plan",
                           precondition=precondition)
        out.append((path, dataset_bytes(case.to_dict())) if path else None)
    return out


def _dataset_dirs(root: str) -> list:
    """[(run id, path)] of the dataset directories in a tier root: real directories with a dataset's name, never
    a link or a file."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    out = []
    for name in names:
        match, path = _NAME.match(name), os.path.join(root, name)
        if match and os.path.isdir(path) and not os.path.islink(path):
            out.append((match.group(1), path))
    return out


def remove_datasets(tier_paths, run_id: str) -> None:
    """Remove every dataset directory of the run from the given tier roots (directories only: a tier root or a
    raw device is never touched)."""
    for root in dict.fromkeys(tier_paths):
        for owner, path in _dataset_dirs(root):
            if owner == run_id:
                shutil.rmtree(path, ignore_errors=True)


def remove_stale_datasets(tiers) -> list:
    """Remove the datasets a killed run left on tiers this command holds alone (`tiers`: Tier objects whose
    lock is exclusive, so no live run reads them). Returns [(tier name, run id)] of what was removed."""
    removed = []
    for tier in tiers:
        for owner, path in _dataset_dirs(tier.path) if not getattr(tier, "raw", False) else ():
            shutil.rmtree(path, ignore_errors=True)
            removed.append((tier.name, owner))
    return removed
