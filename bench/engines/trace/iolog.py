"""A trace as fio iologs (version 3), one per file class, with every path mapped into one directory; and fio's
own iologs (versions 2 and 3) read back as a trace (`import-trace --format fio-iolog`).

iolog v3 as fio 3.33 reads it (checked on this machine, docs/record-replay.md):
    fio version 3 iolog
    <t_us> <path> add|open|close
    <t_us> <path> read|write <offset> <length>
    <t_us> <path> sync|datasync 0 0
Timestamps are µs from the job's start and must start at >= 1 (a first stamp of 0 silently drops the first delay);
a path may hold no whitespace (fields are split on it), so the replay names each file `<class>-<n>`. `trim` on a
regular file is refused by fio, so traces hold none. fio opens each file once: its open comes before the file's
first event, its close after its last; the trace's own opens, closes and unlinks are not replayed (the files are
removed with the case's directory).
"""
from __future__ import annotations

import os
import re

from bench.core.errors import UserError
from bench.engines.trace.table import IO_OPS

__all__ = ["iologs", "precreate_sizes", "parse_iolog", "footprint_bytes"]

HEADER_V3 = "fio version 3 iolog"
HEADER_V2 = "fio version 2 iolog"


def _us(t: float) -> int:
    return int(round(t * 1e6)) + 1


def iologs(df, classes: dict, directory: str) -> tuple:
    """({class: iolog text}, {original file: replay path}) for the trace `df` (polars, time-ordered), each file
    replayed at `directory`/<class>-<n>."""
    mapping, counts = {}, {}
    for f in df["file"].unique(maintain_order=True).to_list():
        cls = classes.get(f, "other")
        counts[cls] = counts.get(cls, 0) + 1
        mapping[f] = os.path.join(directory, f"{cls}-{counts[cls]}")
    last = {}
    rows = list(zip(*(df[c].to_list() for c in ("time_s", "file", "op", "offset", "length"))))
    for i, (_, f, op, _, _) in enumerate(rows):
        if op in IO_OPS or op in ("sync", "datasync"):
            last[f] = i
    lines: dict = {}
    opened = set()
    for i, (t, f, op, off, n) in enumerate(rows):
        if f not in last:
            continue        # a file the trace only opened, closed or removed: nothing to replay
        out = lines.setdefault(classes.get(f, "other"), [HEADER_V3])
        path, us = mapping[f], _us(t)
        if f not in opened:
            opened.add(f)
            out += [f"{us} {path} add", f"{us} {path} open"]
        if op in IO_OPS:
            out.append(f"{us} {path} {op} {off} {n}")
        elif op in ("sync", "datasync"):
            out.append(f"{us} {path} {op} 0 0")
        if last[f] == i:
            out.append(f"{us} {path} close")
    return {cls: "\n".join(v) + "\n" for cls, v in lines.items()}, mapping


def precreate_sizes(df) -> dict:
    """{file: bytes} each file must hold before the replay starts: the furthest byte any read reaches beyond
    what the trace has written to the file by then (the program found it there: its input)."""
    written, need = {}, {}
    for f, op, off, n in zip(*(df[c].to_list() for c in ("file", "op", "offset", "length"))):
        if op == "write":
            written[f] = max(written.get(f, 0), off + n)
        elif op == "read" and off + n > written.get(f, 0):
            need[f] = max(need.get(f, 0), off + n)
    return need


def footprint_bytes(df) -> int:
    """Bytes the replay's files take at most: each file's furthest byte read or written, summed."""
    ext = {}
    for f, op, off, n in zip(*(df[c].to_list() for c in ("file", "op", "offset", "length"))):
        if op in IO_OPS:
            ext[f] = max(ext.get(f, 0), off + n)
    return sum(ext.values())


_V3 = re.compile(r"^(\d+) (\S+) (add|open|close|read|write|sync|datasync|trim|wait)(?: (\d+) (\d+))?$")
_V2 = re.compile(r"^(\S+) (add|open|close|read|write|sync|datasync|trim|wait)(?: (\d+) (\d+))?$")


def parse_iolog(text: str, name: str) -> list:
    """Events from a fio iolog (v2: no timestamps, all at time 0 in order; v3: µs). UserError naming the line
    for anything else; trim and wait lines are refused (a replay on a file cannot do them)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() not in (HEADER_V2, HEADER_V3):
        raise UserError(f"{name}: not a fio iolog (its first line is not '{HEADER_V3}' or '{HEADER_V2}')")
    v3 = lines[0].strip() == HEADER_V3
    events, first = [], None
    for no, line in enumerate(lines[1:], start=2):
        line = line.strip()
        if not line:
            continue
        m = (_V3 if v3 else _V2).match(line)
        if not m:
            raise UserError(f"{name} line {no}: not an iolog v{3 if v3 else 2} entry: {line[:80]!r}")
        g = m.groups()
        if v3:
            us, path, action, off, n = int(g[0]), g[1], g[2], g[3], g[4]
            first = us if first is None else first
            t = (us - first) / 1e6
        else:
            path, action, off, n = g
            t = 0.0
        if action in ("trim", "wait"):
            raise UserError(f"{name} line {no}: '{action}' cannot be replayed on a file")
        if action in IO_OPS:
            if off is None or n is None or int(n) == 0:
                raise UserError(f"{name} line {no}: {action} needs an offset and a length > 0")
            events.append({"time_s": t, "pid": 0, "file": path, "op": action, "offset": int(off), "length": int(n)})
        elif action in ("sync", "datasync"):
            events.append({"time_s": t, "pid": 0, "file": path, "op": action})
        elif action == "open":
            events.append({"time_s": t, "pid": 0, "file": path, "op": "open"})
        elif action == "close":
            events.append({"time_s": t, "pid": 0, "file": path, "op": "close"})
    if v3 and events and any(b["time_s"] < a["time_s"] for a, b in zip(events, events[1:])):
        raise UserError(f"{name}: timestamps go backwards")
    return events
