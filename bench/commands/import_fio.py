"""tierbench import: existing fio outputs (fio >= 3.0, json or json+, local or client/server) become a run
(bench.execution.fio_import, which takes the same path from fio's JSON to metrics as `run`)."""
from __future__ import annotations

NAME = "import"
HELP = "import existing fio JSON outputs (fio >= 3.0) as a run in the store"


def add_arguments(p):
    p.add_argument("files", nargs="+", metavar="FIO_JSON")
    p.add_argument("--tier", metavar="NAME=PATH[:CLASS]", help="the tier the outputs were measured on")
    p.add_argument("--results", metavar="DIR")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from rich.markup import escape

    from bench.core.output import emit_json, stderr_console, stdout_console
    from bench.execution.fio_import import import_runs
    from bench.reporting.table import failures, run_table

    doc, store = import_runs(args.files, args.tier, args.results)
    if args.json:
        emit_json(doc)
    else:
        con = stdout_console()
        con.print(run_table(doc, con.width))
        for line in failures(doc):
            con.print(f"[red]failed[/red] {escape(line)}")
        stderr_console.print(f"imported {len(args.files)} file(s) as run {doc['run_id']} in {store.root}")
    return 0 if doc["status"] == "complete" else 1
