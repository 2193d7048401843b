"""tierbench export: a run as one file (bench.store.bundle), to carry it to another machine's store."""
from __future__ import annotations

NAME = "export"
HELP = "write a run to one file (--bundle) that `tierbench import --bundle` reads into another store"


def add_arguments(p):
    p.add_argument("run", metavar="RUN", help="run id (or a unique prefix, `latest`, a run folder)")
    p.add_argument("--bundle", metavar="FILE", required=True,
                   help="the bundle to write: a tar.gz of the run folder with a checksummed manifest")
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args) -> int:
    from bench.core.output import emit_json, stderr_console
    from bench.store.bundle import export_bundle
    from bench.store.runs import Store

    result = export_bundle(Store(args.results), args.run, args.bundle)
    if args.json:
        emit_json(result)
    else:
        stderr_console.print(f"wrote run {result['run_id']} ({result['files']} files, {result['bytes']} bytes) "
                             f"to {result['bundle']}")
    return 0
