"""`tierbench import-trace FILE --format msr|alibaba|tencent|fio-iolog`: a trace file as a trace in the store.

The file is read through the bounded reader (bench.core.userfile: regular files only, at most 1 GiB), parsed
whole and checked (bench.engines.trace.table) before the run folder is made: a refused file leaves nothing
behind. The file is kept in raw/ as it was given.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Optional

from bench.analysis.trace_profile import profile
from bench.core.errors import UserError
from bench.core.userfile import TRACE_INPUT, read_user_bytes
from bench.engines.trace.blocktraces import FORMATS, parse_blocktrace
from bench.engines.trace.iolog import parse_iolog
from bench.engines.trace.table import TRACE_FILE, file_classes, to_table, totals, write_trace
from bench.execution.runner import new_document
from bench.store.runs import Store

__all__ = ["import_trace", "IMPORT_FORMATS"]

IMPORT_FORMATS = FORMATS + ("fio-iolog",)


def import_trace(name: str, fmt: str, results: Optional[str]) -> tuple:
    """(run document, store) of the trace read from `name` in format `fmt`."""
    if fmt not in IMPORT_FORMATS:
        raise UserError(f"--format {fmt!r}: give one of {', '.join(IMPORT_FORMATS)}")
    data = read_user_bytes(name, what="trace file", limit=TRACE_INPUT)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"trace file {name}: not a text file (a compressed trace must be decompressed first)") \
            from None
    events = parse_iolog(text, name) if fmt == "fio-iolog" else parse_blocktrace(text, fmt, name)
    table = to_table(events)
    import polars as pl

    df = pl.from_arrow(table)
    if not df.filter(df["op"].is_in(["read", "write"])).height:
        raise UserError(f"trace file {name}: no reads or writes in it: nothing to show or replay")
    classes = file_classes(df)
    store = Store(results)
    doc = new_document(None, [], {"kind": "trace"})
    folder = store.create_run(doc=doc)
    write_trace(table, folder / TRACE_FILE)
    (folder / "raw" / Path(name).name).write_bytes(data)
    doc["trace"] = {"source": f"import:{fmt}", "file": Path(name).name, "command": None, "totals": totals(df),
                    "classes": {c: sum(1 for v in classes.values() if v == c) for c in sorted(set(classes.values()))},
                    "overhead": None, "profile": profile(df, classes)}
    doc["status"] = "complete"
    doc["finished_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    store.write_document(doc)
    return doc, store
