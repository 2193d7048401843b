"""tierbench import: existing fio outputs (fio >= 3.0, json or json+, local or client/server) become a run
(bench.execution.fio_import, which takes the same path from fio's JSON to metrics as `run`)."""
from __future__ import annotations

NAME = "import"
HELP = "import existing fio JSON outputs (fio >= 3.0) as a run in the store"


def add_arguments(p):
    p.add_argument("files", nargs="+", metavar="FIO_JSON")
    p.add_argument("--tier", metavar="NAME=PATH[:CLASS]",
                   help="the tier the outputs were measured on, as declared (never detected on this machine)")
    p.add_argument("--capacity", metavar="SIZE",
                   help="the capacity of that tier's device (e.g. 8T, 1.6T), for IOPS per GB")
    p.add_argument("--results", metavar="DIR")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from bench.core.output import emit_json, stderr_console
    from bench.execution.fio_import import import_runs
    from bench.reporting.table import failures, run_table

    doc, store = import_runs(args.files, args.tier, args.results, args.capacity)
    if args.json:
        emit_json(doc)
    else:
        stderr_console.print(run_table(doc))
        for line in failures(doc):
            stderr_console.print(f"[red]failed[/red] {line}")
        stderr_console.print(f"imported {len(args.files)} file(s) as run {doc['run_id']} in {store.root}")
    return 0 if doc["status"] == "complete" else 1
