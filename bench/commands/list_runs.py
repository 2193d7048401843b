"""tierbench list: the runs in the store."""
from rich.table import Table

from bench.output import emit_json, stderr_console
from bench.store import Store

NAME = "list"
HELP = "list the runs in the results store"


def add_arguments(p):
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args) -> int:
    store = Store(args.results)
    runs = store.summaries()
    if args.json:
        emit_json({"results": str(store.root), "runs": runs})
        return 0
    table = Table(title=f"runs in {store.root}")
    for col in ("run id", "status", "started", "host", "cases", "failed", "workloads", "tiers"):
        table.add_column(col)
    for r in runs:
        table.add_row(r["run_id"], str(r.get("status")), str(r.get("started_at") or "-"), str(r.get("hostname") or "-"),
                      str(r.get("cases", "-")), str(r.get("failed_cases", "-")),
                      ", ".join(r.get("workloads", [])), ", ".join(t or "?" for t in r.get("tiers", [])))
    stderr_console.print(table)
    return 0
