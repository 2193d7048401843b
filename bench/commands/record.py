"""tierbench record -- COMMAND: run a command under strace and store its file I/O as a trace (docs/record-replay.md)."""
from __future__ import annotations

import argparse

NAME = "record"
HELP = "record a command's file I/O (strace) as a trace in the store, with the tracer's overhead"


def add_arguments(p):
    p.add_argument("--path", action="append", default=[], metavar="DIR",
                   help="keep only files under this directory (repeatable; default: every file but the system's "
                        "/usr, /lib*, /etc, /bin, /sbin, /opt)")
    p.add_argument("--no-baseline", action="store_true",
                   help="run the command only once, traced (the overhead's untraced figures stay null)")
    p.add_argument("--results", metavar="DIR", help="results store")
    p.add_argument("--json", action="store_true", help="print the run document as JSON on stdout")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                   help="the command to trace, after --")


def run(args) -> int:
    from bench.core.output import emit_json, stderr_console, stdout_console
    from bench.execution.trace_record import record
    from bench.reporting.trace_table import print_trace

    argv = list(args.command)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    doc, store = record(argv, args.results, args.path, baseline=not args.no_baseline)
    if args.json:
        emit_json(doc)
    else:
        print_trace(stdout_console(), doc)
        stderr_console.print(f"recorded as run {doc['run_id']} in {store.root}")
    return 0 if doc["status"] == "complete" else 1
