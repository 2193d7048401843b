"""tierbench report: one self-contained HTML file (plots embedded, no network, no JavaScript)."""
from __future__ import annotations

from bench.core.outpath import checked_output_path, write_output_file
from bench.core.output import emit_json, stderr_console
from bench.store.runs import Store

NAME = "report"
HELP = "write one self-contained HTML report of runs (with 2+ runs, each compared to the first)"


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids (prefixes, `latest`, run folders)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.html", help="where to write the report")
    p.add_argument("--title", default="tierbench report", help="the report's title")
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--allow-system-path", action="store_true",
                   help="let -o name a file in a system path (/etc, /usr, ...), refused otherwise")
    p.add_argument("--json", action="store_true", help="print one JSON document (the output path) on stdout")


def run(args) -> int:
    # Imported here: matplotlib takes a third of a second, and every command module is imported for --help.
    from bench.analysis.compare import load_any
    from bench.reporting.html import render_report

    out = checked_output_path(args.output, what="-o", allow_system=args.allow_system_path)
    store = Store(args.results)
    docs = [load_any(ref, store) for ref in args.runs]
    html = render_report(docs, args.title)
    write_output_file(out, html, what="-o", allow_system=args.allow_system_path)
    if args.json:
        emit_json({"report": str(out), "bytes": len(html.encode()), "runs": [d.get("run_id") for d in docs]})
    else:
        stderr_console.print(f"wrote {out} ({len(html.encode()) / 1e3:.0f} kB, {len(docs)} run(s))")
    return 0
