"""tierbench show RUN: one stored run as tables (cases, job phases, scaling, failures; for a trace from `record`
or `import-trace`, its characterisation), or its document as JSON.

The tables name scenario steps by their labels and show only what varies between rows; what every row of a
workload shares is said once above the table. They go to stdout, fitted to COLUMNS, the terminal, or 160 columns
off a terminal (bench.core.output); --wide keeps every column."""

from bench.core.output import emit_json, stderr_console, stdout_console
from bench.reporting.table import print_run
from bench.store.runs import Store

NAME = "show"
HELP = "show a stored run (table, or --json for the run document)"


def add_arguments(p):
    p.add_argument("run", metavar="RUN", help="run id (or trace), unique prefix, 'latest', or a run folder")
    p.add_argument("--results", metavar="DIR", help="results store")
    p.add_argument("--json", action="store_true")
    p.add_argument("--wide", action="store_true", help="every table column however wide the screen")


def run(args) -> int:
    store = Store(args.results)
    doc = store.load(args.run)
    if args.json:
        emit_json(doc)
        return 0
    if doc.get("kind") == "trace":
        from bench.reporting.trace_table import print_trace

        print_trace(stdout_console(args.wide), doc)
        return 0
    print_run(stdout_console(args.wide), stderr_console, doc, store.root)
    if doc.get("replay_of"):
        from bench.reporting.trace_table import replay_lines

        for line in replay_lines(doc):
            stdout_console(args.wide).print(line, soft_wrap=True, markup=False)
    return 0
