"""tierbench list: the runs in the store, each with its status (complete, partial, failed, running, or
interrupted: a run whose process died, bench.store.run_state). A run whose document cannot be read is said in one
line on stderr and left out; it never stops the others from being listed."""
from rich.table import Table

from bench.core.output import emit_json, stderr_console, stdout_console
from bench.store.runs import Store

NAME = "list"
HELP = "list the runs in the results store"

_STYLE = {"complete": "green", "partial": "yellow", "failed": "red", "interrupted": "bold red", "running": "cyan"}


def add_arguments(p):
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args) -> int:
    store = Store(args.results)
    summaries = store.summaries(report=lambda line: stderr_console.print(line, style="yellow", markup=False,
                                                                         highlight=False, soft_wrap=True))
    runs = [r for r in summaries if r.get("status") != "unreadable"]
    skipped = [{"run_id": r["run_id"], "error": r["error"]} for r in summaries if r.get("status") == "unreadable"]
    if args.json:
        emit_json({"results": str(store.root), "runs": runs, "skipped": skipped})
        return 0
    table = Table(title=f"runs in {store.root}")
    for col in ("run id", "status", "started", "host", "cases", "failed", "workloads", "tiers"):
        table.add_column(col)
    for r in runs:
        status = str(r.get("status"))
        table.add_row(r["run_id"], f"[{_STYLE[status]}]{status}[/]" if status in _STYLE else status,
                      str(r.get("started_at") or "-"), str(r.get("hostname") or "-"),
                      str(r.get("cases", "-")), str(r.get("failed_cases", "-")),
                      ", ".join(r.get("workloads", [])), ", ".join(str(t or "?") for t in r.get("tiers", [])))
    stdout_console().print(table)
    return 0
