"""tierbench report: one self-contained HTML file (plots embedded, no network, no JavaScript), each chart as its
own PNG and SVG (--png DIR), and the summary block as data (--json)."""
from __future__ import annotations

from pathlib import Path

from bench.core.errors import UserError
from bench.core.output import emit_json, stderr_console
from bench.store.runs import Store

NAME = "report"
HELP = "write one self-contained HTML report of runs (with 2+ runs, each compared to the first)"


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids (prefixes, `latest`, run folders)")
    p.add_argument("-o", "--output", metavar="FILE.html", help="where to write the report")
    p.add_argument("--png", metavar="DIR", help="also write each chart as its own PNG and SVG into DIR (for slides)")
    p.add_argument("--title", default="tierbench report", help="the report's title")
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--allow-system-path", action="store_true",
                   help="let -o or --png name a path in a system folder (/etc, /usr, ...), refused otherwise")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document on stdout: the summary block as data, and what was written")


def _folder(store: Store, ref: str):
    """The run folder of a reference (for the raw files' paths), None for a file that is not in a run folder."""
    try:
        return store.resolve(ref)
    except UserError:
        path = Path(ref)
        return path.parent if path.is_file() and (path.parent / "raw").is_dir() else None


def run(args) -> int:
    # Imported here: matplotlib takes a third of a second, and every command module is imported for --help.
    from bench.analysis.compare import load_any
    from bench.reporting.export import write_report

    if not (args.output or args.png or args.json):
        raise UserError("report: say what to write: -o FILE.html, --png DIR and/or --json")
    store = Store(args.results)
    docs = [load_any(ref, store) for ref in args.runs]
    folders = {d.get("run_id"): f for d, ref in zip(docs, args.runs) if (f := _folder(store, ref)) is not None}
    result = write_report(docs, output=args.output, png_dir=args.png, title=args.title, folders=folders,
                          allow_system=args.allow_system_path, store=store)
    if args.json:
        emit_json(result)
        return 0
    if result["report"]:
        stderr_console.print(f"wrote {result['report']} ({result['bytes'] / 1e3:.0f} kB, {len(docs)} run(s))",
                             markup=False)
    if args.png:
        stderr_console.print(f"wrote {len(result['charts']) // 2} chart(s) as PNG and SVG into {args.png}",
                             markup=False)
    return 0
