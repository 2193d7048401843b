"""tierbench compare: a regression gate between two runs, or cost-normalised figures across machines."""
from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.commands.export import add_gate_arguments, gate, write_text
from bench.core.errors import UserError
from bench.core.output import emit_json, fmt_number, stderr_console, stdout_console
from bench.reporting.quantities import IO_MBPS, SUPPLIED
from bench.store.runs import Store

NAME = "compare"
HELP = "compare two runs (exit 0 pass, 1 regression, 2 bad input) or several machines"
DESCRIPTION = (
    "Gate: compare BASE NEW matches cases by workload, tier, temp tier, engine, parameters, workers, cache, "
    "scenario step label and container memory (every scenario step is its own case) and, per metric, reports "
    "median(NEW)/median(BASE) with a 95% bootstrap CI and a one-sided Mann-Whitney U p-value in the direction of "
    "the change. A metric regresses when its whole CI lies beyond the threshold in the bad direction and p <= 0.05: "
    "3 repeats a side can show it only when every NEW repeat lies beyond every BASE repeat (p = 0.05), 5 a side "
    "reach p = 0.004; fewer than 3 is always inconclusive, and --strict makes an inconclusive gating metric fail. "
    "Runs must be of one hardware class (CPU model, cores, memory, tier classes, device models, emulation, "
    "capacity; never the hostname): --same-class-as FIELD,... says which fields must match. Defaults: "
    "iops/throughput -5%, latency +10%, wall/cpu time +5%; with --fail only the named metrics gate. BASE/NEW may "
    "be run ids, `latest`, tag:KEY=VALUE (the newest run with that tag) or pytest-benchmark JSON files. "
    "--across-machines RUN... prints IOPS, IOPS per GB, throughput, p99 and terasort wall time per machine and "
    "tier, with --price RUN=USD_PER_HOUR the IOPS per dollar-hour and dollars per TB sorted.")

_STYLE = {"regressed": "bold red", "failed": "bold red", "changed": "yellow", "improved": "green",
          "unchanged": "", "equal": "", "inconclusive": "dim"}


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids (or prefixes, `latest`, run folders, "
                   "pytest-benchmark JSON files): BASE NEW, or several with --across-machines")
    add_gate_arguments(p)
    p.add_argument("--junit", metavar="FILE", help="also write the gate's verdicts as JUnit XML to FILE")
    p.add_argument("--summary", metavar="FILE", help="also write a Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY; "
                   "appended when FILE is that variable's file)")
    p.add_argument("--across-machines", action="store_true",
                   help="compare machines (no gate): per machine and tier figures, cost-normalised with --price")
    p.add_argument("--price", action="append", default=[], metavar="RUN=USD_PER_HOUR",
                   help="machine price of a run, in US dollars per hour (with --across-machines or --machines)")
    p.add_argument("--price-source", metavar="TEXT", help="where the prices come from (recorded in the output)")
    p.add_argument("--machines", action="store_true",
                   help="runs from several machines side by side: medians with intervals, ratios, significant "
                        "winners, cost rows and published specs (docs/machines.md)")
    p.add_argument("--catalog", action="append", default=[], metavar="FILE",
                   help="with --machines: your own spec catalog (TOML) merged over the built-in one")
    p.add_argument("--force", action="store_true", help="with --machines: compare runs from the same host")
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args) -> int:
    from bench.analysis import compare as cmp  # numpy on demand: every command module is imported for --help
    from bench.reporting.ci_formats import render

    store = Store(args.results)
    fails = [cmp.parse_fail(e) for e in args.fail]
    if args.machines:
        return _machines(args, fails)
    if args.catalog or args.force:
        raise UserError("--catalog and --force go with --machines")
    if args.across_machines:
        if args.strict or args.same_class_as or args.junit or args.summary:
            raise UserError("--strict, --same-class-as, --junit and --summary go with a gate (BASE NEW), "
                            "not --across-machines")
        return _across(args, store, fails)
    if args.price or args.price_source:
        raise UserError("--price and --price-source go with --across-machines")
    if len(args.runs) != 2:
        raise UserError(f"compare takes BASE and NEW (got {len(args.runs)} runs); use --across-machines for more")
    _, _, result = gate(args, store, *args.runs)
    if args.junit:
        write_text(args.junit, render("junit", gate=result), what="--junit")
    if args.summary:
        _write_summary(args.summary, render("github-summary", gate=result))
    if args.json:
        emit_json(result)
    else:
        _print_gate(result)
    for r in result["regressions"]:
        what = f"{r['metric']} {r['verdict']}" if r["metric"] else "failed in NEW"
        ratio = f" (ratio {r['ratio']:.3f}, CI {_ci(r)}, threshold {r['threshold_percent']:+g}%)" \
            if r.get("ratio") is not None else ""
        kind = "INCONCLUSIVE (--strict)" if r["verdict"] == "inconclusive" else "REGRESSION"
        why = f": {r['reason']}" if r["verdict"] == "inconclusive" and r.get("reason") else ""
        stderr_console.print(f"{kind}: {r['case']}: {what}{ratio}{why}", style="bold red", soft_wrap=True)
    return result["exit_code"]


def _write_summary(path: str, text: str) -> None:
    """GitHub's $GITHUB_STEP_SUMMARY file collects every step's Markdown: append there, replace elsewhere."""
    import os

    from bench.core.outpath import open_output_file

    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary and os.path.abspath(path) == os.path.abspath(step_summary):
        try:
            with open_output_file(path, what="--summary", append=True) as f:
                f.write(text.encode())
        except OSError as e:
            raise UserError(f"--summary {path}: cannot append ({e.strerror})") from None
        return
    write_text(path, text, what="--summary")


def _ci(r) -> str:
    if r.get("ci_low") is None:
        return "-"
    return f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


def _console() -> Console:
    """Tables go to stdout (bench.core.output: COLUMNS, the terminal's width, or 160 in logs and pipes)."""
    return stdout_console()


_SHORT_REASON = (("n<", "n<3"), ("too few", "few repeats"), ("p=", "p>0.05"), ("contended", "contended"), ("CI straddles", "straddles"),
                 ("measured on one", "one side"), ("no raw data", "no raw data"), ("base median", "base=0"))


def _short(reason: str) -> str:
    for prefix, text in _SHORT_REASON:
        if reason.startswith(prefix):
            return text
    return reason


def _print_gate(result: dict) -> None:
    con = _console()
    b, n = result["base"], result["new"]
    con.print(f"[bold]{b['run_id']} -> {n['run_id']}[/bold]: ratio = median NEW / median BASE, "
              f"{int(result['confidence'] * 100)}% bootstrap CI, Mann-Whitney p; thr = threshold "
              f"({'--fail' if result['thresholds'] else 'defaults'}); · = reported, not gating")
    for entry in result["cases"]:
        errors = f"  errors {entry['errors_base']}/{entry['errors_new']}" if entry["errors_base"] or entry["errors_new"] else ""
        if entry.get("contended_base") or entry.get("contended_new"):
            errors += f"  contended {entry['contended_base']}/{entry['contended_new']} (machine busy with other work)"
        # The case on a line of its own (a scenario step's identity is long; a table title would wrap it).
        con.print(escape(entry["case"] + errors), style="bold", soft_wrap=True)
        table = Table(box=box.SIMPLE, pad_edge=False)
        for col in ("metric", "n", "base", "new", "ratio", "CI", "p", "thr", "verdict"):
            table.add_column(col, justify="left" if col in ("metric", "verdict", "CI") else "right",
                             no_wrap=col != "metric")
        for r in entry["metrics"]:
            verdict = r["verdict"] + (f" ({_short(r['reason'])})" if r["verdict"] == "inconclusive" and r["reason"] else "")
            table.add_row(r["metric"] + ("" if r["gating"] else " ·"), f"{r['n_base']}/{r['n_new']}",
                          fmt_number(r["median_base"]), fmt_number(r["median_new"]),
                          "-" if r["ratio"] is None else f"{r['ratio']:.3f}",
                          "-" if r["ci_low"] is None else f"{r['ci_low']:.2f}-{r['ci_high']:.2f}",
                          "-" if r["p_value"] is None else f"{r['p_value']:.2g}", f"{r['threshold_percent']:+g}%",
                          verdict, style=_STYLE.get(r["verdict"], ""))
        con.print(table)
    for label in result["only_in_base"]:
        con.print(escape(f"only in BASE (not compared): {label}"), style="yellow", soft_wrap=True)
    for label in result["only_in_new"]:
        con.print(escape(f"only in NEW (not compared): {label}"), style="yellow", soft_wrap=True)
    short = sum(1 for e in result["cases"] for r in e["metrics"] if r["reason"].startswith(("n<", "too few")))
    if short:
        scenario = result["base"].get("scenario") or result["new"].get("scenario")
        how = f"tierbench scenario {scenario} --repeat 5" if scenario else "tierbench run --repeat 5"
        con.print(f"{short} metric(s) inconclusive for lack of repeats: 3 repeats a side decide only when every "
                  f"NEW repeat lies beyond every BASE repeat; gate on 5 ({how})", style="yellow")
    counts = ", ".join(f"{v} {k}" for k, v in sorted(result["counts"].items()))
    con.print(f"{'PASS' if result['passed'] else 'FAIL'}: {counts}",
              style="bold green" if result["passed"] else "bold red")


def _machines(args, fails) -> int:
    from bench.analysis.machine_compare import compare_refs
    from bench.reporting.machine_table import print_machines

    if fails or args.across_machines or args.price_source:
        raise UserError("--machines compares machines: --fail, --across-machines and --price-source do not apply")
    result = compare_refs(args.runs, Store(args.results), args.price, args.catalog, args.force)
    if args.json:
        emit_json(result)
    else:
        print_machines(result)
    return 0


def _across(args, store, fails) -> int:
    from bench.analysis import compare as cmp
    from bench.analysis import machines as compare_machines

    if fails:
        raise UserError("--fail is a gate threshold; --across-machines compares machines and has no gate")
    if len(args.runs) < 2:
        raise UserError("--across-machines needs two or more runs")
    docs, refs = [], {}
    for ref in args.runs:
        doc = cmp.load_any(ref, store)
        docs.append(doc)
        refs[ref] = doc["run_id"]
        refs[doc["run_id"]] = doc["run_id"]
    prices = {}
    for expr in args.price:
        ref, price = compare_machines.parse_price(expr)
        if ref not in refs:
            raise UserError(f"--price {expr}: {ref!r} is not one of the runs compared ({', '.join(args.runs)})")
        prices[refs[ref]] = price
    if prices and not args.price_source:
        stderr_console.print("note: no --price-source given; prices are recorded without a source", style="yellow")
    result = compare_machines.across_machines(docs, prices, args.price_source)
    if args.json:
        emit_json(result)
        return 0
    _print_across(result)
    return 0


def _print_across(result: dict) -> None:
    con = _console()
    priced = any(r["price_usd_per_hour"] for r in result["runs"])
    t = Table(title="per machine, tier and case (medians over repeats)")
    cols = ["machine", "run", "tier", "case", "IOPS", SUPPLIED, IO_MBPS, "p99 us"] + (["$/h", "IOPS per $/h"] if priced else [])
    for c in cols:
        t.add_column(c, justify="left" if c in ("machine", "run", "tier", "case") else "right")
    for r in result["rows"]:
        tier = f"{r['tier']} ({r['tier_class']}{', emulated' if r['emulated'] else ''})" if r["tier"] else "-"
        cells = [str(r["hostname"]), str(r["run_id"]), tier, str(r["case"]), fmt_number(r["iops"]),
                 fmt_number(r["iops_per_gb"]), fmt_number(None if r["bytes_per_s"] is None else r["bytes_per_s"] / 1e6),
                 fmt_number(r["lat_p99_us"])]
        if priced:
            cells += [fmt_number(r["price_usd_per_hour"]), fmt_number(r["iops_per_usd_hour"])]
        t.add_row(*cells)
    con.print(t)
    if result["terasort"]:
        s = Table(title="terasort")
        for c in ("machine", "run", "case", "data", "wall s", "$/h", "$ per TB sorted"):
            s.add_column(c)
        for r in result["terasort"]:
            s.add_row(str(r["hostname"]), str(r["run_id"]), str(r["case"]),
                      "-" if r["data_bytes"] is None else f"{r['data_bytes'] / 1e9:g} GB", fmt_number(r["wall_s"]),
                      fmt_number(r["price_usd_per_hour"]), fmt_number(r["usd_per_tb_sorted"]))
        con.print(s)
    else:
        con.print("terasort: not measured in these runs")
    if priced:
        listed = ", ".join(f"{r['run_id']}=${r['price_usd_per_hour']}/h" for r in result["runs"]
                           if r["price_usd_per_hour"])
        con.print(f"prices: {listed}; source: {result['price_source'] or 'not given'}")
