"""`tierbench record -- COMMAND`: the command's file I/O as a trace in the store, with the tracer's overhead.

The run folder is created first (status `running`), strace writes its per-process files into its raw/strace/,
and the document is completed at the end: `trace` {source, command, cwd, tracer, exit_status, overhead, parse,
totals, classes, paths}, and trace.parquet beside run.json (bench.engines.trace.table). A command that exits
non-zero gives a `failed` run whose trace is still kept (it is what the command did). The raw strace files are
kept gzipped.
"""
from __future__ import annotations

import datetime as _dt
import gzip
import os
import shutil
from typing import Optional

from bench.analysis.trace_profile import profile
from bench.core.errors import UserError
from bench.engines.trace.record import strace_binary, strace_version, timed_run, traced_run
from bench.engines.trace.strace import parse_strace
from bench.engines.trace.table import TRACE_FILE, file_classes, to_table, totals, write_trace
from bench.execution.runner import new_document
from bench.store.runs import Store

__all__ = ["record", "SYSTEM_PREFIXES"]

# Files a program reads to start (its libraries, locales, configuration): not its data, left out unless --path
SYSTEM_PREFIXES = ("/usr/", "/lib", "/etc/", "/bin/", "/sbin/", "/opt/")


def _keep(path: str, prefixes: list) -> bool:
    if prefixes:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)
    return not path.startswith(SYSTEM_PREFIXES)


def _own_outputs() -> set:
    """The files behind tierbench's own stdin, stdout and stderr, which the command inherits (its output is
    passed to our stderr): the terminal or log of the person recording, not the program's data."""
    out = set()
    for fd in (0, 1, 2):
        try:
            out.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue     # closed, or no /proc: nothing to leave out
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def record(argv: list, results: Optional[str], paths: list, baseline: bool = True) -> tuple:
    """Record argv's file I/O; returns (run document, store). paths: keep only files under these directories
    (absolute; default: every file but SYSTEM_PREFIXES). baseline: also run the command untraced, first, for
    the overhead (else the overhead's untraced figures are null)."""
    if not argv:
        raise UserError("record: no command given (tierbench record [options] -- COMMAND ARGS...)")
    for p in paths:
        if not os.path.isabs(p):
            raise UserError(f"--path {p}: give an absolute directory")
    binary = strace_binary()
    cwd = os.getcwd()
    store = Store(results)
    doc = new_document(None, [], {"kind": "trace"})
    folder = store.create_run(doc=doc)
    try:
        untraced = timed_run(argv, cwd) if baseline else None
        traced, files = traced_run(argv, cwd, folder / "raw" / "strace")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)   # nothing measured yet: no half run left behind
        raise
    if not files:
        shutil.rmtree(folder, ignore_errors=True)
        raise UserError(f"strace wrote no trace (exit status {traced['exit_status']}): it could not trace the "
                        f"command (ptrace not permitted here?); its own message is above")
    events, stats = parse_strace(files, cwd)
    own = _own_outputs()
    events = [e for e in events if _keep(e["file"], paths) and e["file"] not in own]
    table = to_table(events)
    write_trace(table, folder / TRACE_FILE)
    _gzip_raw(folder / "raw" / "strace")
    import polars as pl

    df = pl.from_arrow(table)
    classes = file_classes(df)
    doc["trace"] = {
        "source": "strace", "command": list(argv), "cwd": cwd, "tracer": strace_version(binary),
        "exit_status": traced["exit_status"], "paths": list(paths) or None,
        "overhead": _overhead(untraced, traced), "parse": stats.to_dict(), "totals": totals(df),
        "classes": {c: sum(1 for v in classes.values() if v == c) for c in sorted(set(classes.values()))},
        "profile": profile(df, classes),
    }
    failed = [f"{name} run exited with status {r['exit_status']}" for name, r in
              (("untraced", untraced), ("traced", traced)) if r and r["exit_status"] != 0]
    doc["error"] = "the command failed: " + "; ".join(failed) if failed else None
    doc["status"] = "failed" if failed else "complete"
    doc["finished_at"] = _now()
    store.write_document(doc)
    return doc, store


def _overhead(untraced: Optional[dict], traced: dict) -> dict:
    """The command's wall and CPU seconds untraced and traced, and their ratios (null where not measured)."""
    out = {"untraced_wall_s": None, "untraced_cpu_s": None, "traced_wall_s": traced["wall_s"],
           "traced_cpu_s": traced["cpu_s"], "wall_ratio": None, "cpu_ratio": None}
    if untraced:
        out["untraced_wall_s"], out["untraced_cpu_s"] = untraced["wall_s"], untraced["cpu_s"]
        if untraced["wall_s"] > 0:
            out["wall_ratio"] = traced["wall_s"] / untraced["wall_s"]
        if untraced["cpu_s"] > 0:
            out["cpu_ratio"] = traced["cpu_s"] / untraced["cpu_s"]
    return out


def _gzip_raw(folder) -> None:
    for path in sorted(folder.glob("strace.*")):
        if path.suffix == ".gz":
            continue
        with open(path, "rb") as src, gzip.open(f"{path}.gz", "wb", compresslevel=3) as dst:
            shutil.copyfileobj(src, dst)
        path.unlink()
