"""What a user's fio job file may do (`run --job-file`), decided before anything runs. Pure but for the
local path resolution (realpath of the tier's files) and the free-space check.

- Paths: every path option (bench.engines.fio.jobfile.PATH_OPTIONS: filename, filename_format, opendir, the
  iolog and *_log options, replay_redirect, the exec engine's program, `mem`/`iomem` files) must stay inside
  the tiers. An absolute path must be under a tier's directory; a relative one is under the tier's directory
  (files) or fio's working directory in raw/ (logs) and must not climb out of it with `..`. On this machine
  the path is also resolved through symbolic links (a link in the tier pointing at /etc is outside). `${VAR}`
  (fio expands the environment) cannot be checked and is refused. `--allow-paths` lifts this rule, and only this.
- Commands: `exec_prerun`, `exec_postrun` (fio runs them through the shell) are refused unless
  `--allow-job-commands`.
- Engines: only the engines that do file I/O through the kernel's file systems are accepted
  (FILE_ENGINES); any other (sg and io_uring_cmd drive devices by SCSI/NVMe commands, exec runs a program,
  external:PATH loads a library, net/rdma/http/nbd/rbd/... reach other machines) is refused unless named by
  `--allow-engine NAME` (`external` for every external:PATH). `cgroup=` (fio makes a control group under
  /sys/fs/cgroup) is refused unless `--allow-paths`.
- Limits: at most MAX_SECTIONS job sections, numjobs at most MAX_NUMJOBS, at most MAX_THREADS jobs running at
  once, and no `size=0` (fio then needs existing files, and fails only when the job runs). Checked before
  the run exists: one line, exit 2.
- Space: `space_needed` estimates the bytes the file lays out per tier: per job section, size (or filesize x
  nrfiles) x numjobs, sections naming the same files counted once; with --quick, the caps.
Every refusal is a UserError naming the job file, the section and the option.
"""
from __future__ import annotations

import os
from typing import Iterable, Optional

from bench.core.errors import UserError
from bench.engines.fio.jobfile import PATH_OPTIONS, QUICK_SIZE, JobFile, _paths, _size

__all__ = ["check_jobfile_safety", "space_needed", "FILE_ENGINES", "COMMAND_OPTIONS", "MAX_SECTIONS",
           "MAX_NUMJOBS", "MAX_THREADS"]

FILE_ENGINES = ("sync", "psync", "vsync", "pvsync", "pvsync2", "libaio", "posixaio", "io_uring", "mmap", "splice",
                "null", "cpuio", "falloc", "ftruncate", "filecreate", "filestat", "filedelete", "dircreate",
                "dirstat", "dirdelete", "e4defrag")
COMMAND_OPTIONS = ("exec_prerun", "exec_postrun")
LOG_OPTIONS = ("read_iolog", "write_iolog", "write_bw_log", "write_lat_log", "write_iops_log", "write_hist_log",
               "program")      # relative to fio's working directory, not the tier's
MAX_SECTIONS = 256
MAX_NUMJOBS = 1024
MAX_THREADS = 1024


def _inside(path: str, roots: Iterable[str]) -> bool:
    path = os.path.normpath(path)
    for root in roots:
        root = os.path.normpath(root)
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return True
    return False


def _options(job: JobFile) -> list:
    """[(section, {option: value})] with [global]'s options under every job section."""
    globals_ = dict(next((o for s, o in job.sections if s == "global"), {}))
    return [(name, options if name == "global" else dict(globals_, **options)) for name, options in job.sections]


def _mem_file(value: str) -> Optional[str]:
    """The file of `mem=mmaphuge:/path` / `mmapshared:/path` / `mmap:/path`, else None."""
    kind, _, path = (value or "").partition(":")
    return path if kind.strip() in ("mmap", "mmaphuge", "mmapshared") and path else None


def _check_path(job: JobFile, section: str, option: str, path: str, directory: str, roots: list,
                resolve: bool) -> None:
    where = f"job file {job.name}: [{section}] {option}={path}"
    if "${" in path or path.startswith("$"):
        raise UserError(f"{where}: fio would expand an environment variable there, which tierbench cannot check "
                        "against the tiers (write the path out, or give --allow-paths)")
    if os.path.isabs(path):
        if not _inside(path, roots):
            raise UserError(f"{where} is outside the tiers ({', '.join(roots)}): give --allow-paths to run it "
                            "as written")
        target = path
    else:
        if os.path.normpath(path).split(os.sep)[0] == "..":
            raise UserError(f"{where} climbs out of the tier's directory ('..'): give --allow-paths to run it "
                            "as written")
        if option in LOG_OPTIONS:
            return      # under fio's working directory, a fresh folder in the run's raw/
        target = os.path.join(directory, path)
    if resolve:
        real = os.path.realpath(target)
        if not _inside(real, [os.path.realpath(r) for r in roots]):
            raise UserError(f"{where} resolves to {real}, outside the tiers: give --allow-paths to run it as "
                            "written")


def check_jobfile_safety(job: JobFile, directory: str, roots: list, *, allow_paths: bool = False,
                         allow_commands: bool = False, allow_engines: Iterable[str] = (),
                         resolve: bool = False) -> None:
    """UserError for the first thing in `job` the module's rules refuse when it runs in `directory` (one of
    `roots`, the tiers' directories). `resolve`: the tier is on this machine (follow symbolic links)."""
    allowed = set(allow_engines)
    sections = _options(job)
    jobs = [s for s in sections if s[0] != "global"]
    if len(jobs) > MAX_SECTIONS:
        raise UserError(f"job file {job.name}: {len(jobs)} job sections, more than {MAX_SECTIONS}")
    for section, options in sections:
        for option in COMMAND_OPTIONS:
            if option in options and not allow_commands:
                raise UserError(f"job file {job.name}: [{section}] {option} runs a command: give "
                                "--allow-job-commands to let the job file run commands")
        engine = (options.get("ioengine") or "").strip()
        name = engine.split(":", 1)[0] if engine.startswith("external") else engine
        if engine and name not in FILE_ENGINES and name not in allowed:
            raise UserError(f"job file {job.name}: [{section}] ioengine={engine} does not do file I/O on the tier "
                            f"(it drives devices, runs programs or reaches other machines): give "
                            f"--allow-engine {name} to run it")
        if "cgroup" in options and not allow_paths:
            raise UserError(f"job file {job.name}: [{section}] cgroup={options['cgroup']}: fio would make a control "
                            "group under /sys/fs/cgroup: give --allow-paths to run it as written")
        if not allow_paths:
            for option in PATH_OPTIONS:
                for path in _paths(options.get(option) or ""):
                    _check_path(job, section, option, path, directory, roots, resolve)
            for option in ("mem", "iomem"):
                path = _mem_file(options.get(option) or "")
                if path:
                    _check_path(job, section, option, path, directory, roots, resolve)
        if section == "global":
            continue
        numjobs = _whole(options.get("numjobs"), 1)
        if numjobs is not None and numjobs > MAX_NUMJOBS:
            raise UserError(f"job file {job.name}: [{section}] numjobs={numjobs}, more than {MAX_NUMJOBS}")
        size = (options.get("size") or "").strip()
        if size and _size(size) == 0:
            raise UserError(f"job file {job.name}: [{section}] size={size}: a job needs a size above 0")


def check_threads(job: JobFile, threads: int) -> None:
    """UserError when the file runs more than MAX_THREADS jobs at once (bench.execution.jobfile_case.threads)."""
    if threads > MAX_THREADS:
        raise UserError(f"job file {job.name}: {threads} jobs at once, more than {MAX_THREADS}")


def _whole(value: Optional[str], default: int) -> Optional[int]:
    text = (value or "").strip()
    if not text:
        return default
    return int(text) if text.isdigit() else None


def space_needed(job: JobFile, *, quick: bool) -> tuple:
    """(bytes, description): what the job file lays out on a tier at most, per job section size (or
    filesize x nrfiles) x numjobs, each set of files counted once (sections naming the same filename share
    them). Sizes fio computes (percentages, ranges) are not counted (fio sizes them from files that exist)."""
    by_files: dict = {}
    for section, options in _options(job):
        if section == "global":
            continue
        numjobs = _whole(options.get("numjobs"), 1) or 1
        nrfiles = _whole(options.get("nrfiles"), 1) or 1
        size, filesize = _size(options.get("size")), _size(options.get("filesize"))
        if quick:       # the caps of bench.engines.fio.jobfile._quick_caps
            size = min(size or QUICK_SIZE, QUICK_SIZE)
            filesize = min(filesize, QUICK_SIZE) if filesize else filesize
        per_job = max(size or 0, (filesize or 0) * nrfiles)
        files = options.get("filename") or options.get("filename_format") or f"[{section}]"
        total = per_job * numjobs
        if total > by_files.get(files, (0, ""))[0]:
            by_files[files] = (total, f"[{section}] {numjobs} job{'s' if numjobs > 1 else ''} x {per_job} bytes")
    return sum(b for b, _ in by_files.values()), "; ".join(d for _, d in by_files.values())
