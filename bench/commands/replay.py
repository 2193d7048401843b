"""tierbench replay TRACE --tier NAME=PATH ...: replay a stored trace with fio on each tier (docs/record-replay.md)."""
from __future__ import annotations

NAME = "replay"
HELP = "replay a stored trace (record, import-trace) on each tier with fio, its ops and bytes checked exactly"


def add_arguments(p):
    p.add_argument("trace", metavar="TRACE", help="the trace's run id, unique prefix, 'latest' or run folder")
    p.add_argument("--tier", action="append", default=[], metavar="NAME=PATH[:CLASS]",
                   help="a tier to replay on (repeatable); NAME alone names a known tier")
    p.add_argument("--timed", action="store_true",
                   help="keep the recorded think time (default: as fast as possible)")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="repeats of every case")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="per-case timeout in seconds")
    p.add_argument("--results", metavar="DIR", help="results store")
    p.add_argument("--allow-system-path", action="store_true",
                   help="let a tier be a system path (/, /etc, /usr, the store, ...), refused otherwise")
    p.add_argument("--allow-shared-tier", action="store_true",
                   help="run even if another run is using a tier (their figures disturb each other)")
    p.add_argument("--json", action="store_true", help="print the run document as JSON on stdout")


def run(args) -> int:
    from bench.core.output import emit_json, stderr_console, stdout_console
    from bench.execution.trace_replay import replay
    from bench.reporting.table import print_run

    doc = replay(args.trace, args.tier, results=args.results, timed=args.timed, repeat=args.repeat,
                 timeout_s=args.timeout, allow_system_path=args.allow_system_path,
                 allow_shared_tier=args.allow_shared_tier)
    if args.json:
        emit_json(doc)
    else:
        from bench.reporting.trace_table import replay_lines
        from bench.store.runs import Store

        print_run(stdout_console(), stderr_console, doc, Store(args.results).root)
        for line in replay_lines(doc):
            stdout_console().print(line, soft_wrap=True, markup=False)
    return 0 if doc["status"] == "complete" else 1
