"""tierbench history: one metric across the runs in the store, with change points."""
from __future__ import annotations

from rich import box
from rich.table import Table

from bench.core.errors import UserError
from bench.core.output import emit_json, fmt_number, stderr_console, stdout_console
from bench.core.tags import parse_tags, tags_match
from bench.store.runs import Store

NAME = "history"
HELP = "a metric across the runs in the store (median per run), with change points"
DESCRIPTION = ("Lists METRIC for each case (workload, tier, temp tier, engine, params, workers, cache, scenario "
               "step label, container memory) across the runs in the store, oldest "
               "first by started_at, as the median over each run's repeats, and flags change points: binary "
               "segmentation on the medians, a split kept when the level shifts by more than 5 noise units "
               "(noise from the MAD of successive differences) and by at least 2%.")


def add_arguments(p):
    p.add_argument("--metric", required=True, metavar="M", help="metric name, e.g. iops, lat_p99_us, wall_s")
    p.add_argument("--workload", metavar="W", help="only this workload")
    p.add_argument("--tier", metavar="T", help="only this tier")
    p.add_argument("--engine", metavar="E", help="only this engine (fio, builtin, job)")
    p.add_argument("--label", metavar="STEP", help="only this scenario step (e.g. d, scale-2)")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                   help="only runs carrying this tag (repeatable; commit matches by prefix), e.g. --tag branch=main")
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args) -> int:
    from bench.analysis.history import metric_history  # numpy on demand: every command module is imported for --help

    store = Store(args.results)
    wanted = parse_tags(args.tag)
    docs, skipped = [], []
    for summary in store.summaries():
        if summary.get("status") == "unreadable":
            skipped.append(summary)
            continue
        doc = store.load(summary["run_id"])
        if tags_match(doc, wanted):
            docs.append(doc)
    if not docs:
        raise UserError(f"no readable runs in {store.root}" + (f" with tags {', '.join(args.tag)}" if wanted else ""))
    result = metric_history(docs, args.metric, args.workload, args.tier, args.engine, args.label)
    result["skipped_runs"] = [{"run_id": s["run_id"], "error": s["error"]} for s in skipped]
    if args.json:
        emit_json(result)
    else:
        _print(result)
    return 0


def _print(result: dict) -> None:
    con = stdout_console()
    for s in result["series"]:
        marks = {cp["index"]: cp for cp in s["change_points"]}
        table = Table(title=f"{result['metric']} ({result['direction']}): {s['case']}", title_justify="left",
                      box=box.SIMPLE, pad_edge=False)
        for col in ("started", "run", "host", "n", "median", "min", "max", "change"):
            table.add_column(col, justify="right" if col in ("n", "median", "min", "max") else "left")
        for i, p in enumerate(s["points"]):
            cp = marks.get(i)
            change = ""
            if cp:
                rel = cp["relative_change"]
                change = ((f"{rel * 100:+.1f}%" if rel is not None else "from 0") + f" {cp['effect']}"
                          + (" (machine changed)" if cp["host_changed"] else ""))
            table.add_row(str(p["started_at"] or "-")[:16].replace("T", " "), str(p["run_id"]), str(p["hostname"] or "-"), str(p["n"]),
                          fmt_number(p["median"]), fmt_number(p["min"]), fmt_number(p["max"]), change,
                          style=("bold red" if cp and cp["effect"] == "worse" else "green" if cp else ""))
        con.print(table)
    total = sum(len(s["change_points"]) for s in result["series"])
    con.print(f"{len(result['series'])} series over {result['runs']} run(s); {total} change point(s)")
    for s in result["skipped_runs"]:
        stderr_console.print(f"skipped {s['run_id']}: {s['error']}", style="yellow", markup=False)
