"""A user's own fio job file as a case (`run --job-file FILE.fio`): read it, point it at a tier, cap it for
`--quick`. Pure text in, text out; fio itself judges the file (bench.engines.fio.run.check_jobfile).

What changes in the file, and nothing else (each change is marked with a `; tierbench:` comment in the file
that runs, kept in the run's raw/ folder next to the original):
- `directory`: every `directory=` line is commented out and [global] starts with the tier's directory (a
  [global] is added when the file has none): fio joins a file name to the directory set when it reads the name,
  so the directory comes before any `filename`. fio puts even an absolute `filename` under `directory`, so when
  a job's file is allowed outside the tiers (--allow-paths), the directory goes at the start of every other job
  section instead and that job uses its file as written.
- Paths that name a place of their own: `filename`, `filename_format`, `opendir`, the iolog and log file
  options and the exec engine's `program`. A relative one stays (it is under `directory`, or fio's working directory for logs, a scratch folder
  in raw/); an absolute one outside the tiers (a device such as /dev/sdb, another file system) is refused, with
  the option and line, unless `--allow-paths`.
- `--quick` appends to every job section: size (and io_size, filesize) at most QUICK_SIZE, runtime at most
  QUICK_RUNTIME_S, no ramp_time, startdelay or fill_device, so that an example written for hours runs in
  seconds. Values fio would compute (percentages, ranges) are replaced by the cap.
Jobs and groups keep their names: each reporting group becomes a phase named after its jobs.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional

from bench.core.errors import UserError

__all__ = ["JobFile", "read_jobfile", "point_at_tier", "QUICK_SIZE", "QUICK_RUNTIME_S", "PATH_OPTIONS"]

QUICK_SIZE = 16 << 20
QUICK_RUNTIME_S = 2
PATH_OPTIONS = ("filename", "filename_format", "opendir", "read_iolog", "write_iolog", "write_bw_log",
                "write_lat_log", "write_iops_log", "write_hist_log", "replay_redirect", "program")
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_OPTION = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(?:=\s*(.*?))?\s*$")
_SIZE = re.compile(r"^(\d+)\s*([kmgtp]?)(i?b?)$", re.IGNORECASE)
_TIME = re.compile(r"^(\d+)\s*(us|ms|s|m|h|d)?$", re.IGNORECASE)


@dataclass(frozen=True)
class JobFile:
    """name: the file's name; text: its content; sections: [(section name, {option: value or None})] in order
    (the last value of an option repeated in a section)."""
    name: str
    text: str
    sections: tuple

    @property
    def jobs(self) -> list:
        return [name for name, _ in self.sections if name != "global"]


def _strip_comment(line: str) -> str:
    """fio's comments: a line starting with ';' or '#', and the rest of a line after ' ;' or ' #' or a tab."""
    stripped = line.strip()
    if not stripped or stripped[0] in ";#":
        return ""
    return re.split(r"[ \t][;#]", line, maxsplit=1)[0].rstrip()


def read_jobfile(name: str, text: str) -> JobFile:
    """The sections and options of a job file; UserError for what fio would not read as one either (no job
    section, an option before any section, an `include`, which tierbench cannot follow to rewrite, a NUL byte)."""
    sections, current = [], None
    for number, line in enumerate(text.splitlines(), 1):
        if "\x00" in line:     # fio reads C strings: it would cut the line there, and no argument may hold one
            raise UserError(f"job file {name}: line {number}: a NUL byte (\\x00), which fio cannot read")
        body = _strip_comment(line)
        if not body:
            continue
        section = _SECTION.match(body)
        if section:
            current = (section.group(1).strip(), {})
            sections.append(current)
            continue
        if body.lstrip().startswith("include "):
            raise UserError(f"job file {name}: line {number}: `include` is not supported (tierbench rewrites the "
                            "paths of one file): put the included options in the file")
        option = _OPTION.match(body)
        if current is None:
            raise UserError(f"job file {name}: line {number}: an option before any [section]")
        if option is None:
            continue        # fio's own check (--parse-only) names what it cannot read
        current[1][option.group(1).lower()] = option.group(2)
    if not any(s != "global" for s, _ in sections):
        raise UserError(f"job file {name}: no job section (only [global] or nothing)")
    return JobFile(name, text, tuple(sections))


def _inside(path: str, roots: list) -> bool:
    real = os.path.normpath(path)
    return any(real == os.path.normpath(r) or real.startswith(os.path.normpath(r).rstrip("/") + "/") for r in roots)


def _paths(value: str) -> list:
    """The paths in a value: fio separates several with ':' ('\\:' is a colon in a name)."""
    return [p.replace("\\:", ":") for p in re.split(r"(?<!\\):", value or "") if p]


def _size(value: Optional[str]) -> Optional[int]:
    match = _SIZE.match((value or "").strip())
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * (1024 ** " kmgtp".index(unit) if unit else 1)


def _seconds(value: Optional[str]) -> Optional[float]:
    match = _TIME.match((value or "").strip())
    if not match:
        return None
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}[(match.group(2) or "s").lower()]
    return int(match.group(1)) * scale


def point_at_tier(job: JobFile, directory: str, roots: list, *, quick: bool = False,
                  allow_paths: bool = False) -> str:
    """The job file to run: `directory` the tier's (`directory`), paths checked against `roots` (the tiers'
    directories), the --quick caps appended to each job section. UserError naming the option and value for a
    path outside the tiers (unless allow_paths)."""
    if not allow_paths:
        for section, options in job.sections:
            for option in PATH_OPTIONS:
                for path in _paths(options.get(option) or ""):
                    if os.path.isabs(path) and not _inside(path, roots):
                        raise UserError(f"job file {job.name}: [{section}] {option}={path} is outside the tiers "
                                        f"({', '.join(roots)}): give --allow-paths to run it as written")
    value = directory.replace(":", "\\:")
    globals_ = dict(next((o for s, o in job.sections if s == "global"), {}))
    as_written = [name for name, options in job.sections if name != "global"
                  and any(os.path.isabs(p) for p in _paths(dict(globals_, **options).get("filename") or ""))]
    # fio joins a file name to the directory set when the name is read: the directory comes first
    per_section = bool(as_written)
    if per_section and _paths(globals_.get("filename") or ""):
        raise UserError(f"job file {job.name}: with files outside the tiers ({', '.join(as_written)}), give the "
                        "other jobs' filename in their own sections, not in [global]")
    tier_lines = ["; tierbench: the tier's directory", f"directory={value}"]
    out = [] if any(s == "global" for s, _ in job.sections) or per_section else ["[global]", *tier_lines, ""]
    current = -1        # index in job.sections of the section being copied (its headers come in that order)

    def close():
        if quick and current >= 0 and job.sections[current][0] != "global":
            out.extend(_quick_caps(dict(globals_, **job.sections[current][1])))

    for line in job.text.splitlines():
        body = _strip_comment(line)
        if body and _SECTION.match(body):
            close()
            current += 1
            out.append(line)
            name = job.sections[current][0]
            if (name == "global") != per_section and name not in as_written:
                out.extend(tier_lines)
            continue
        option = _OPTION.match(body) if body else None
        if option and option.group(1).lower() == "directory":
            out.append(f"; tierbench: was {line.strip()}")
            continue
        out.append(line)
    close()
    return "\n".join(out) + "\n"


def _quick_caps(options: dict) -> list:
    """Lines that cap one job (its options over [global]'s) for --quick."""
    lines = ["; tierbench: --quick caps"]
    for key in ("size", "io_size", "io_limit", "filesize"):
        size = _size(options.get(key))
        if key == "size" or (key in options and (size is None or size > QUICK_SIZE)):
            if size is None or size > QUICK_SIZE:
                lines.append(f"{key}={QUICK_SIZE}")
    runtime = _seconds(options.get("runtime") or options.get("timeout"))
    if runtime is None or runtime > QUICK_RUNTIME_S:
        lines.append(f"runtime={QUICK_RUNTIME_S}")
    for key, value in (("ramp_time", 0), ("startdelay", 0), ("fill_device", 0)):
        if key in options:
            lines.append(f"{key}={value}")
    return lines + [""]
