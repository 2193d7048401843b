"""Render an engine-neutral Pattern (bench.core.pattern) as a fio job file. Pure: text in, text out.

One job section per phase, named after the phase; phases after the first carry `stonewall` and `new_group`,
and `group_reporting=1` makes fio report each phase as one entry in its JSON `jobs[]`, named after the phase.
Files are named `<fileset>.$jobnum.$filenum` in the directory of the phase's role, so phases that name the
same fileset use the same files ($jobnum counts the clones of one section, 0..numjobs-1, so the n-th job of a
read phase reads what the n-th job of the write phase wrote).

Choices that are ours, not fio's defaults:
- `invalidate=1` for cold phases and `invalidate=0` for warm ones: fio invalidates a file's page cache before
  a job by default, which would make a deliberately warm ("cached") phase cold. Dirty pages are not dropped by
  an invalidate, so write phases end with `end_fsync=1` unless the pattern says otherwise.
- `filesize` as well as `size`: both engines use whole blocks per file (Phase.file_size), so fio must not
  round on its own.
- `randrepeat=0`: fio's default seeds its random offsets identically on every run, so repeats of a case
  would replay one offset sequence and the spread between repeats (which compare's statistics rely on)
  would miss the part that comes from placement (seek distances, device caches). Each run draws fresh
  offsets; pass extra_global={"randrepeat": 1} for replayable runs.
- `fadvise_hint=0`: fio's default advises the kernel of the access pattern (POSIX_FADV_SEQUENTIAL doubles a
  buffered sequential read's readahead, POSIX_FADV_RANDOM turns it off); the builtin engine gives no hint, so
  with fio's default the two engines issue different reads to the device (measured: 256 KiB vs 128 KiB
  readahead requests on a tier whose read_ahead_kb is 128).
- `fallocate=none`: fio's default preallocates every file it creates (unwritten extents that writeback must
  then convert); the builtin engine and the applications the patterns model extend files by writing them.
- `create_serialize=0`: by default fio lays out, before the first phase starts, the files of every phase that
  reads, so the files that a later phase reads after an earlier phase writes them were laid out first and the
  write phase overwrote them (measured on mr-spill: 1.5x the bytes written to the device, and a spill phase
  that overwrites allocated blocks instead of extending new files). With 0, each phase sets its files up when
  it starts, finding them as the earlier phases left them, as the builtin engine does.
- Read-only phases are written `rw=rw` / `rw=randrw` with `rwmixread=100`: the same reads, but fio then fills
  (so the kernel faults in) its I/O buffers before the job starts, as the builtin engine does; a read-only job
  leaves them untouched until its timed reads, and on a VM whose host takes freed memory back those first
  touches cost more than the I/O (measured: mr-shuffle's fetch, 16 jobs x 5 x 4 MiB buffers, ~5,100 page
  faults per job inside the timed phase).
- A start barrier: each job of a phase with several jobs runs `exec_prerun=sh barrier.sh DIR N`, which
  returns when all N jobs have set up (bench/engines/fio/barrier.sh). fio releases a phase's jobs together, but each
  then sets itself up (allocates and fills its buffers, opens or creates its files) and starts its I/O as
  soon as it is done, so on a machine with fewer cores than jobs the first jobs run alone while the others
  still set up, and the setup takes CPU from the running jobs. The builtin engine sets every job up before
  the phase starts. Measured on the emulated optane tier, mr-shuffle's map-output phase (32 jobs, 2,048
  direct 512 KiB writes to new files): 0.27 s without the barrier, 0.20 s with it, as the builtin engine.
  fio writes each job's exec_prerun output to `<phase>.prerun.txt` in its working directory.
- `percentile_list=50:90:99:99.9:99.99`: the percentiles the run document reports, plus p90 and p99.99.
- ioengine: the phase's own (Phase.ioengine), else `libaio` when a phase is direct with iodepth > 1 (the only
  way fio keeps several I/Os in flight per job), `psync` otherwise; `ioengine=` overrides it for every phase.
  With `io_uring`, `fixedbufs` too: the builtin engine's io_uring reads and writes registered buffers.
- `checksum_chunk` (HDFS CRC32C per chunk) has no fio equivalent: fio's `verify` checks its own headers and
  patterns, not HDFS checksums, and would change what is timed. It is left out, and a comment in the phase's
  section says so.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Mapping, Optional

from bench.core.errors import UserError
from bench.core.pattern import Pattern, Phase

__all__ = ["render_jobfile", "PERCENTILES", "RUN_HINT", "BARRIER_SCRIPT", "EXPORT_BARRIER_DIR"]

BARRIER_SCRIPT = Path(__file__).resolve().with_name("barrier.sh")
EXPORT_BARRIER_DIR = "tierbench-barrier"   # relative: job files exported for plain fio keep it in fio's cwd

READ_AS_MIX = {"read": "rw", "randread": "randrw"}

PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)
RUN_HINT = "fio --output-format=json+ --output=result.json <this file>"

_SECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_OPTION_NAME = re.compile(r"^[a-z0-9_]+$")


def render_jobfile(pattern: Pattern, dirs: Mapping[str, str], *, ioengine: Optional[str] = None,
                   extra_global: Optional[Mapping[str, object]] = None,
                   barrier_dir: Optional[str] = EXPORT_BARRIER_DIR, file_prefix: Optional[str] = None,
                   unlink_after_use: bool = False, device: Optional[str] = None) -> str:
    """The fio job file (text) that runs `pattern`, its phases one after the other.

    `dirs` maps a phase role ("data", "temp") to the directory its files go in; `ioengine` replaces the
    per-phase choice; `extra_global` adds or replaces [global] options (a value of None renders a bare
    option such as `thread`). Sizes are rendered in bytes, runtimes in seconds or milliseconds.
    `barrier_dir`: where the start barrier of multi-job phases keeps its state (a subdirectory per phase;
    new for every fio run); None leaves the barrier out.
    `file_prefix` starts every file name (a fleet case shares the tier's own directory on a remote host);
    `unlink_after_use` has the last phase that uses a fileset remove its files (`unlink=1`), where tierbench
    cannot remove them itself (a remote fio server).
    `device`: a raw block device (bench.tiers.raw) that every phase works on instead of files: `filename` is the
    device, each job of a phase its own region of `size` bytes from offset 0 (`offset_increment`).
    Raises UserError when a phase's role has no directory or a directory cannot be written in a job file.
    """
    for phase in pattern.phases:
        if not _SECTION_NAME.match(phase.name):
            raise ValueError(f"pattern {pattern.name}: phase name {phase.name!r} cannot name a fio job "
                             "(use letters, digits, '_', '.', '+', '-')")
        if not _SECTION_NAME.match(phase.fileset):
            raise ValueError(f"pattern {pattern.name}: fileset {phase.fileset!r} cannot name a file")
        if phase.role not in dirs:
            raise UserError(f"pattern {pattern.name}: phase {phase.name} needs a directory for its "
                            f"'{phase.role}' data (give --{phase.role} TIER)")

    global_options: dict = {
        "group_reporting": 1,
        "percentile_list": ":".join(_number(q) for q in PERCENTILES),
        "randrepeat": 0,
        "fadvise_hint": 0,
        "fallocate": "none",
        "create_serialize": 0,
    }
    for key, value in (extra_global or {}).items():
        if not _OPTION_NAME.match(str(key)):
            raise ValueError(f"not a fio option name: {key!r}")
        global_options[key] = value

    lines = _header(pattern, dirs, device)
    lines.append("[global]")
    lines += [_option(k, v) for k, v in global_options.items()]
    last_use = {phase.fileset: number for number, phase in enumerate(pattern.phases)}
    for number, phase in enumerate(pattern.phases):
        lines.append("")
        lines.append(f"[{phase.name}]")
        if phase.checksum_chunk:
            direction = "writes" if phase.writes else "checks"
            lines.append(f"; checksum_chunk={phase.checksum_chunk}: computed by tierbench's builtin engine only "
                         f"(fio {direction} no HDFS checksums)")
        options = _phase_options(phase, dirs[phase.role], ioengine, number)
        if device is not None:
            options = _on_device(options, phase, device)
        if file_prefix:
            if not _SECTION_NAME.match(file_prefix):
                raise ValueError(f"file prefix {file_prefix!r} cannot start a file name")
            options["filename_format"] = f"{file_prefix}.{options['filename_format']}"
        if unlink_after_use and last_use[phase.fileset] == number:
            options["unlink"] = 1
        if barrier_dir is not None and phase.numjobs > 1:
            options["exec_prerun"] = " ".join(shlex.quote(str(a)) for a in (
                "sh", BARRIER_SCRIPT, f"{barrier_dir}/{number}-{phase.name}", phase.numjobs))
        lines += [_option(k, v) for k, v in options.items()]
    return "\n".join(lines) + "\n"


def _header(pattern: Pattern, dirs: Mapping[str, str], device: Optional[str] = None) -> list:
    lines = [
        f"; Generated by tierbench from the I/O pattern '{_comment(pattern.name)}'.",
        "; Run it with plain fio, from an empty directory: phases with several jobs start them together",
        "; through tierbench's start barrier (exec_prerun), which keeps its state and fio's prerun output there:",
        f";   {RUN_HINT}",
        "; Each phase is one job section; a phase starts when the previous one has ended (stonewall), and",
        "; fio reports each phase as one group (group_reporting).",
        "; Phases:",
    ]
    for phase in pattern.phases:
        where = f"the raw device {_comment(device)}" if device else _comment(dirs[phase.role])
        lines.append(f";   {phase.name}: {phase.rw} bs={phase.bs} size={phase.size} x{phase.numjobs} jobs, "
                     f"fileset {phase.fileset} on {phase.role} ({where})")
    lines.append("")
    return lines


def _phase_options(phase: Phase, directory: str, ioengine: Optional[str], number: int) -> dict:
    options: dict = {}
    if number:
        options["stonewall"] = None
        options["new_group"] = None
    options["directory"] = _directory(directory)
    options["filename_format"] = f"{phase.fileset}.$jobnum.$filenum"
    if phase.rw in READ_AS_MIX:     # reads only, with buffers filled before the job starts (see above)
        options["rw"], options["rwmixread"] = READ_AS_MIX[phase.rw], 100
    else:
        options["rw"] = phase.rw
    if phase.rw in ("randrw", "rw"):
        options["rwmixread"] = phase.rwmixread
    options["bs"] = phase.bs
    options["size"] = phase.file_size * phase.nrfiles
    options["filesize"] = phase.file_size
    options["nrfiles"] = phase.nrfiles
    options["file_service_type"] = phase.file_service
    options["ioengine"] = ioengine or phase.ioengine or ("libaio" if phase.direct and phase.iodepth > 1
                                                         else "psync")
    if options["ioengine"] == "io_uring":
        options["fixedbufs"] = None   # registered buffers, as the builtin engine's io_uring
    options["iodepth"] = phase.iodepth
    options["numjobs"] = phase.numjobs
    options["direct"] = int(phase.direct)
    if phase.writes:
        if phase.fsync_every:
            options["fsync"] = phase.fsync_every
        options["end_fsync"] = int(phase.end_fsync)
    options["invalidate"] = int(phase.cold)
    if phase.runtime_s is not None:
        options["time_based"] = 1
        options["runtime"] = _duration(phase.runtime_s)
    return options


def _on_device(options: dict, phase: Phase, device: str) -> dict:
    """A phase's options pointed at a raw device instead of its files (render_jobfile's `device`)."""
    out = {}
    for key, value in options.items():
        if key == "directory":
            out["filename"] = _directory(device)
        elif key not in ("filename_format", "filesize", "nrfiles", "file_service_type"):
            out[key] = value
    if phase.numjobs > 1:
        out["offset_increment"] = phase.file_size
    return out


def _option(key: str, value: object) -> str:
    if value is None:
        return key
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"fio option {key}: value {text!r} spans lines")
    return f"{key}={text}"


def _directory(path: str) -> str:
    """A directory as a fio option value: ':' separates several directories in fio, so it is escaped."""
    if not path or path != path.strip() or "\n" in path:
        raise UserError(f"directory {path!r} cannot be used in a fio job file (empty, or blank at an end)")
    if "${" in path:
        raise UserError(f"directory {path!r} contains '${{', which fio expands as an environment variable")
    return path.replace(":", "\\:")


def _duration(seconds: float) -> str:
    """fio's `runtime`: whole seconds as a plain number, anything else in milliseconds (at least 1 ms)."""
    if float(seconds).is_integer():
        return str(int(seconds))
    return f"{max(1, round(seconds * 1000))}ms"


def _number(q: float) -> str:
    return str(int(q)) if float(q).is_integer() else repr(float(q))


def _comment(text: str) -> str:
    return str(text).replace("\n", " ")
