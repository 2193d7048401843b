"""The builtin engine: runs a pattern with kernels.ioloop (Cython, GIL released), no fio needed.

Same semantics as the fio job file: files `<fileset>.<job>.<file>` in the phase's role directory; files a
phase reads (or rewrites at random) are laid out first when no earlier phase wrote them, all at once and left
cached, as the fio engine does (bench.engines.layout says why), and cold phases drop the files' pages (fsync +
POSIX_FADV_DONTNEED) right before the phase so reads reach the device. Each phase record carries `cpu_s`, the
process's user + system seconds over the phase's timed part (its threads' I/O and checksum work, not the setup
of buffers and files), the scope of fio's accounting of its jobs.

Checksums (Phase.checksum_chunk): ioloop computes a CRC32C per chunk of every buffer and checks it against the
CRC the chunk was written with. What an ioloop write leaves is defined by its seed and block size, so the
engine remembers, per fileset, the (seed, bs) of the layout or whole sequential write phase that last wrote it
and hands them to a verifying read; a read of a fileset last written otherwise (random or time-based writes
leave a mix) cannot be verified: the engine raises ValueError before that phase runs.
"""
from __future__ import annotations

import os
from pathlib import Path

from bench.core.pagecache import drop_cache
from bench.core.pattern import Pattern, Phase
from bench.engines.layout import check_space, layout_bs, needs_layout, phase_files


def _ioloop():
    # Imported here so that the fio engine never needs the compiled kernels; a missing build is an error.
    from kernels import ioloop
    return ioloop


def _written_by(phase: Phase, index: int, seed: int):
    """(seed, bs) of what `phase` leaves in its whole fileset when it writes it all, sequentially; None when
    its writes leave no single writer (random blocks, time-based, mixed)."""
    if phase.rw == "write" and phase.runtime_s is None:
        return seed + index, phase.bs
    return None


def _verify_args(phase: Phase, writer) -> dict:
    if not (phase.checksum_chunk and phase.reads):
        return {}
    if writer is None:
        raise ValueError(f"phase {phase.name}: cannot verify the checksums of fileset {phase.fileset}: no whole "
                         "sequential write of this run left its content (random, time-based or mixed writes do not)")
    written_seed, written_bs = writer
    if written_bs % phase.checksum_chunk:
        raise ValueError(f"phase {phase.name}: fileset {phase.fileset} was written in blocks of {written_bs} "
                         f"bytes, not a whole number of {phase.checksum_chunk}-byte checksum chunks")
    return {"written_seed": written_seed, "written_bs": written_bs}


def _record(phase: Phase, tier, result: dict, ioloop) -> dict:
    rec = {"name": phase.name, "tier": tier, "role": phase.role, "wall_s": result["elapsed_s"],
           "ops_read": int(result["read"]["ops"]), "ops_written": int(result["write"]["ops"]),
           "bytes_read": int(result["read"]["bytes"]), "bytes_written": int(result["write"]["bytes"])}
    if phase.checksum_chunk:
        rec["checksums"] = int(result["checksums"])
    for direction, key in (("read", "bins_read"), ("write", "bins_write")):
        if result[direction]["ops"]:
            rec[key] = ioloop.hist_to_bins(result[direction]["hist"])
    return rec


def run(pattern: Pattern, dirs: dict, tiers_by_role: dict, raw_dir: Path, stem: str, timeout_s: float,
        seed: int = 0) -> dict:
    ioloop = _ioloop()
    records, models = [], []
    checksummed = any(phase.checksum_chunk for phase in pattern.phases)
    writers: dict = {}   # (role, fileset) -> (seed, bs) of what last wrote all of it, or None
    check_space(pattern, dirs, tiers_by_role)   # before the first byte: free space changes after the plan's check
    for index, phase in enumerate(pattern.phases):
        jobs = phase_files(phase, dirs[phase.role])
        fileset = (phase.role, phase.fileset)
        if needs_layout(phase, jobs):
            layout = (seed + index, layout_bs(phase))
            ioloop.run_phase(jobs, "write", layout[1], phase.file_size, direct=False, end_fsync=True,
                             seed=layout[0])
            writers[fileset] = layout
        verify = _verify_args(phase, writers.get(fileset))
        if phase.cold:
            drop_cache(p for job in jobs for p in job if os.path.exists(p))
        result = ioloop.run_phase(jobs, phase.rw, phase.bs, phase.file_size, iodepth=phase.iodepth,
                                  rwmixread=phase.rwmixread, direct=phase.direct, fsync_every=phase.fsync_every,
                                  end_fsync=phase.end_fsync, runtime_s=phase.runtime_s,
                                  file_service=phase.file_service, seed=seed + index,
                                  checksum_chunk=phase.checksum_chunk, ioengine=phase.ioengine, **verify)
        models.append(result["ioengine"])
        if phase.writes:
            writers[fileset] = _written_by(phase, index, seed)
        records.append(dict(_record(phase, tiers_by_role.get(phase.role), result, ioloop), cpu_s=result["cpu_s"]))
    return {"phases": records, "implementation": _implementation(models, checksummed), "raw": []}


def _implementation(models: list, checksummed: bool) -> str:
    """What ran: the I/O loop, the queueing models its phases used (fio's ioengine names) and, where phases
    checksummed, the CRC32C path this CPU runs (e.g. "cython:kernels.ioloop[libaio,psync crc32c=vpclmul512]")."""
    parts = [",".join(sorted(set(models)))]
    if checksummed:
        from kernels import IMPLEMENTATION
        parts.append("crc32c=" + IMPLEMENTATION["crc32c"].rsplit("/", 1)[-1])
    return f"cython:kernels.ioloop[{' '.join(p for p in parts if p)}]"
