"""tierbench report: one self-contained HTML file (plots embedded, no network, no JavaScript)."""
from __future__ import annotations

from pathlib import Path

from bench.core.errors import UserError
from bench.core.output import emit_json, stderr_console
from bench.store.runs import Store, atomic_write_text

NAME = "report"
HELP = "write one self-contained HTML report of runs (with 2+ runs, each compared to the first)"


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids (prefixes, `latest`, run folders)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.html", help="where to write the report")
    p.add_argument("--title", default="tierbench report", help="the report's title")
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--json", action="store_true", help="print one JSON document (the output path) on stdout")


def run(args) -> int:
    # Imported here: matplotlib takes a third of a second, and every command module is imported for --help.
    from bench.analysis.compare import load_any
    from bench.reporting.html import render_report

    store = Store(args.results)
    docs = [load_any(ref, store) for ref in args.runs]
    out = Path(args.output)
    if not out.parent.is_dir():
        raise UserError(f"-o {args.output}: folder {out.parent} does not exist")
    html = render_report(docs, args.title)
    try:
        atomic_write_text(out, html)
    except OSError as e:
        raise UserError(f"-o {args.output}: cannot write it ({e.strerror})") from None
    if args.json:
        emit_json({"report": str(out), "bytes": len(html.encode()), "runs": [d.get("run_id") for d in docs]})
    else:
        stderr_console.print(f"wrote {out} ({len(html.encode()) / 1e3:.0f} kB, {len(docs)} run(s))")
    return 0
