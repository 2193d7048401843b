"""tierbench import-trace FILE --format F: a block trace (MSR, Alibaba, Tencent) or a fio iolog as a stored trace."""
from __future__ import annotations

NAME = "import-trace"
HELP = "import a block trace (msr, alibaba, tencent CSV) or a fio iolog as a trace to show or replay"


def add_arguments(p):
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", required=True, metavar="FORMAT", help="msr, alibaba, tencent or fio-iolog")
    p.add_argument("--results", metavar="DIR", help="results store")
    p.add_argument("--json", action="store_true", help="print the run document as JSON on stdout")


def run(args) -> int:
    from bench.core.output import emit_json, stderr_console, stdout_console
    from bench.execution.trace_import import import_trace
    from bench.reporting.trace_table import print_trace

    doc, store = import_trace(args.file, args.format, args.results)
    if args.json:
        emit_json(doc)
    else:
        print_trace(stdout_console(), doc)
        stderr_console.print(f"imported as run {doc['run_id']} in {store.root}")
    return 0
