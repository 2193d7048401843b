"""Laying out a pattern's files before a phase reads them, the same way for both engines.

A phase that reads (or rewrites at random) a fileset no earlier phase wrote needs its files first. fio would
lay them out itself, one file after the other, each written, fsynced and dropped from the page cache as soon
as it is complete; the builtin engine writes all of them at once and drops them right before the phase. On a
machine whose hypervisor takes back freed guest memory (virtio-balloon free page reporting: pages freed for
a second or so are returned to the host, and their next use costs a host page fault), those two orders gave
the same cold read very different times: pages dropped seconds before a buffered read are slow to reuse,
pages dropped right before it are not (measured on an emulated optane tier, 1 GiB read by 4 jobs: 0.9-1.9 s
after fio's own layout, 0.2 s after the builtin's). So tierbench lays the files out for both engines: all
files written, fsynced and left in the page cache, which the phase drops right before its first I/O when it
is cold (the builtin engine's drop_cache, fio's `invalidate=1` at job start).

The builtin engine writes the layout with kernels.ioloop (its checksums check that content); the fio engine
with `write_files` below (fio needs no particular content, and no compiled kernel).

Before anything is written, `check_space` checks the pattern's files against the tiers' free space again (the
parent checked the whole plan before the run; free space changes meanwhile): a case that does not fit fails
with the numbers, before its first byte.
"""
from __future__ import annotations

import os

from bench.core.errors import CaseError
from bench.core.pattern import Pattern, Phase
from bench.tiers.guard import check_needs, pattern_needs

MiB = 1 << 20


def phase_files(phase: Phase, directory: str) -> list:
    """The files of each job of a phase: `<fileset>.<job>.<file>` in `directory` (fio's filename_format)."""
    return [[os.path.join(directory, f"{phase.fileset}.{job}.{f}") for f in range(phase.nrfiles)]
            for job in range(phase.numjobs)]


def needs_layout(phase: Phase, jobs: list) -> bool:
    """Whether the phase needs its files laid out first: it is not a sequential write and a file is missing
    or short."""
    if phase.rw == "write":
        return False
    return any(not os.path.exists(p) or os.path.getsize(p) < phase.file_size for job in jobs for p in job)


def layout_bs(phase: Phase) -> int:
    """Bytes per layout write: large writes make the layout quick; a file that is no whole number of MiB
    keeps the phase's own bs."""
    return max(phase.bs, MiB) if phase.file_size % MiB == 0 else phase.bs


def write_files(jobs: list, file_size: int, bs: int) -> None:
    """Write every file of `jobs` to `file_size` bytes in `bs` writes (buffered), then fsync each; the pages
    stay cached until the phase drops them."""
    block = os.urandom(bs)
    paths = [p for job in jobs for p in job]
    for path in paths:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            for off in range(0, file_size, bs):
                view = memoryview(block)[:min(bs, file_size - off)]
                while view:
                    n = os.pwrite(fd, view, off)
                    view, off = view[n:], off + n
        finally:
            os.close(fd)
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_space(pattern: Pattern, dirs: dict, tiers_by_role: dict = None) -> None:
    """Raise CaseError unless the file systems of `dirs` ({role: directory}) have room for every file the
    pattern keeps (bench.tiers.guard: the same check and message as the parent's, with the numbers), less
    what its files already hold (a run's dataset laid out by an earlier case: bench.execution.datasets)."""
    names = {dirs[role]: name for role, name in (tiers_by_role or {}).items() if role in dirs}
    needs = pattern_needs(pattern, dirs)
    held: dict = {}
    for phase in pattern.phases:
        for path in {p for job in phase_files(phase, dirs[phase.role]) for p in job}:
            if os.path.isfile(path):
                held.setdefault(dirs[phase.role], {})[path] = os.path.getsize(path)
    needs = {d: (max(0, nbytes - sum(held.get(d, {}).values())), desc) for d, (nbytes, desc) in needs.items()}
    check_needs(needs, names, f"pattern {pattern.name}", error=CaseError)


def lay_out_pattern(pattern: Pattern, dirs: dict, tiers_by_role: dict = None) -> list:
    """Lay out, before a whole pattern runs (the fio engine: one fio process runs every phase), the files of
    every phase that needs them: filesets that no earlier phase of the pattern writes and that are not on disk
    at their phase's size. The free space is checked first (check_space), also when nothing needs laying
    out. Returns the names of the phases laid out for."""
    check_space(pattern, dirs, tiers_by_role)
    touched = set()     # filesets an earlier phase writes or reads: their files exist by then
    done = []
    for phase in pattern.phases:
        key = (phase.role, phase.fileset)
        jobs = phase_files(phase, dirs[phase.role])
        if key not in touched and needs_layout(phase, jobs):
            write_files(jobs, phase.file_size, layout_bs(phase))
            done.append(phase.name)
        touched.add(key)
    return done
