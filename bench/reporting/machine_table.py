"""The terminal view of `compare --machines` (bench.analysis.machine_compare): who each machine is and what it
costs, then one table per matched case (workload and tier classes) with a column per machine."""
from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.core.output import fmt_number, stderr_console

_COST_NAMES = {"usd_per_million_ios": "USD per million IOs", "iops_per_usd_hour": "IOPS per USD-hour",
               "usd_per_tb_sorted": "USD per TB sorted"}


def _console() -> Console:
    if stderr_console.is_terminal:
        return stderr_console
    return Console(stderr=True, highlight=False, width=max(stderr_console.width, 140))


def _interval(low, high) -> str:
    return "" if low is None or high is None else f" [{fmt_number(low)}, {fmt_number(high)}]"


def _cell(i: int, cell: dict) -> str:
    text = fmt_number(cell["median"]) + _interval(cell["ci_low"], cell["ci_high"])
    if i and cell.get("ratio") is not None:
        text += f"\nx{cell['ratio']:.3f}"
        if cell.get("ratio_ci_low") is not None:
            text += f" [{cell['ratio_ci_low']:.2f}, {cell['ratio_ci_high']:.2f}]"
        text += f" {cell.get('verdict')}"
    spec = cell.get("spec")
    if spec:
        mark = "BELOW SPEC" if spec["verdict"] == "below-spec" else spec["verdict"]
        ratio = "" if spec["ratio"] is None else f" ({spec['ratio'] * 100:.0f}%)"
        text += f"\nspec {fmt_number(spec['spec'])}{ratio} {mark}"
    return text


def _tier_text(tiers) -> str:
    if not tiers:
        return "-"
    parts = []
    for role, t in tiers.items():
        if t:
            parts.append(f"{'' if role == 'tier' else role.replace('_tier', '') + ' '}{t['name']} ({t['class']}"
                         f"{', emulated' if t['emulated'] else ''}{', ' + t['volume'] if t['volume'] else ''})")
    return "; ".join(parts) or "-"


def print_machines(result: dict) -> None:
    con = _console()
    m = result["machines"]
    who = Table(title="machines (the first is the reference)", box=box.SIMPLE)
    for col in ("machine", "run", "host", "provider", "instance", "region", "labels", "USD/h", "price from"):
        who.add_column(col)
    for x in m:
        src = x["sources"]
        who.add_row(escape(x["column"]), x["run_id"], escape(str(x["hostname"])),
                    f"{x['provider'] or '-'}{' (' + src['provider'] + ')' if 'provider' in src else ''}",
                    f"{x['instance_type'] or '-'}{' (' + src['instance_type'] + ')' if 'instance_type' in src else ''}",
                    x["region"] or "-", escape(", ".join(f"{k}={v}" for k, v in x["labels"].items()) or "-"),
                    fmt_number(x["price_usd_per_hour"]), escape(x["price_source"] or "no price"))
    con.print(who)
    for s in result["same_host"]:
        con.print(f"forced: runs {' and '.join(s['runs'])} come from the same host {s['host']!r}", style="yellow")
    con.print(escape(f"median [{int(result['confidence'] * 100)}% bootstrap interval]; under it, the ratio to the "
                     "reference machine [its CI] and the gate's verdict; * = winner (significant: CI beyond the "
                     "metric's threshold and Mann-Whitney p < 0.05)"), soft_wrap=True)
    for g in result["groups"]:
        con.print(escape(g["case"]), style="bold", soft_wrap=True)
        t = Table(box=box.SIMPLE, pad_edge=False)
        t.add_column("metric", justify="left")
        for x in m:
            t.add_column(escape(x["column"]), justify="right")
        t.add_column("winner", justify="left")
        t.add_row("tier", *[escape(_tier_text(tiers)) for tiers in g["tiers"]], "")
        for r in g["metrics"]:
            cells = [("* " if r["winner"] == i else "") + _cell(i, c) for i, c in enumerate(r["cells"])]
            winner = m[r["winner"]]["column"] if r["winner"] is not None else f"none: {r['winner_reason']}"
            t.add_row(r["metric"], *cells, escape(winner))
        for c in g["costs"]:
            cells = [("* " if c["winner"] == i else "") + fmt_number(v["value"]) + _interval(v["low"], v["high"])
                     for i, v in enumerate(c["cells"])]
            winner = m[c["winner"]]["column"] if c["winner"] is not None else "none (intervals overlap)"
            t.add_row(_COST_NAMES[c["metric"]], *cells, escape(winner))
        con.print(t)
    for o in result["only_on_one"]:
        con.print(escape(f"only in run {o['run_id']} (not compared): {o['case']}"), style="yellow", soft_wrap=True)
    for b in result["below_spec"]:
        con.print(escape(f"BELOW SPEC: {b['machine']} {b['case']}: {b['metric']} {fmt_number(b['spec'] * b['ratio'])}"
                         f" is {b['ratio'] * 100:.0f}% of the catalog spec {fmt_number(b['spec'])} ({b['field']}, "
                         f"{b['source']}, read {b['source_date']})"), style="bold red", soft_wrap=True)
    if not any(x["price_usd_per_hour"] for x in m):
        con.print("no prices: give --price RUN=USD_PER_HOUR (or run --price-per-hour) for the cost rows",
                  style="yellow")
