"""tierbench import: existing fio outputs (fio >= 3.0, json or json+, local or client/server) become a run
(bench.execution.fio_import, which takes the same path from fio's JSON to metrics as `run`); or a bundle written
by `tierbench export --bundle` on another machine comes into this store (bench.store.bundle)."""
from __future__ import annotations

NAME = "import"
HELP = "import existing fio JSON outputs (fio >= 3.0) as a run, or a run bundle, into the store"


def add_arguments(p):
    p.add_argument("files", nargs="*", metavar="FIO_JSON")
    p.add_argument("--bundle", metavar="FILE", help="a run bundle from `tierbench export --bundle` (instead of "
                   "fio outputs): checked and added to the store under its run id")
    p.add_argument("--tier", metavar="NAME=PATH[:CLASS]",
                   help="the tier the outputs were measured on, as declared (never detected on this machine)")
    p.add_argument("--capacity", metavar="SIZE",
                   help="the capacity of that tier's device (e.g. 8T, 1.6T), for IOPS per GB")
    p.add_argument("--results", metavar="DIR")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from rich.markup import escape

    from bench.core.errors import UserError
    from bench.core.output import emit_json, stderr_console, stdout_console
    from bench.execution.fio_import import import_runs
    from bench.reporting.table import failures, run_table

    if args.bundle:
        if args.files or args.tier or args.capacity:
            raise UserError("--bundle imports a run bundle: FIO_JSON files, --tier and --capacity do not go with it")
        return _bundle(args)
    if not args.files:
        raise UserError("import needs FIO_JSON files, or --bundle FILE")
    doc, store = import_runs(args.files, args.tier, args.results, args.capacity)
    if args.json:
        emit_json(doc)
    else:
        con = stdout_console()
        con.print(run_table(doc, con.width))
        for line in failures(doc):
            con.print(f"[red]failed[/red] {escape(line)}")
        stderr_console.print(f"imported {len(args.files)} file(s) as run {doc['run_id']} in {store.root}")
    return 0 if doc["status"] == "complete" else 1


def _bundle(args) -> int:
    from bench.core.output import emit_json, stderr_console
    from bench.store.bundle import import_bundle
    from bench.store.runs import Store

    store = Store(args.results)
    doc = import_bundle(store, args.bundle)
    if args.json:
        emit_json(doc)
    else:
        host = (doc.get("machine") or {}).get("hostname")
        stderr_console.print(f"imported run {doc['run_id']} (from {host}, status {doc['status']}) into {store.root}")
    return 0
