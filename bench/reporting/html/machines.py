"""The report's machines section: runs from several machines side by side (bench.analysis.machine_compare with
the built-in spec catalog and the prices the runs carry): the table per matched case (median [interval], ratio to
the first machine, significant winner, spec), the cost rows, and one chart per metric with a bar per machine
(linear axis from zero, whiskers = the median's interval)."""
from __future__ import annotations

from matplotlib.figure import Figure

from bench.analysis.machine_compare import compare_machines, describe_machine
from bench.analysis.spec_catalog import load_catalog
from bench.core.errors import UserError
from bench.core.metric_registry import unit_of
from bench.reporting.html.axes import colour, value_axis
from bench.reporting.html.elements import esc, img, na, num, table

_COSTS = {"usd_per_million_ios": "USD per million IOs", "iops_per_usd_hour": "IOPS per USD-hour",
          "usd_per_tb_sorted": "USD per TB sorted"}


def machines_differ(docs: list) -> bool:
    """Two or more machines: different hosts, or runs that say they are different instances (labels, type)."""
    seen = set()
    for d in docs:
        m = describe_machine(d)
        seen.add((m["host_key"], m["instance_type"], tuple(sorted(m["labels"].items()))))
    return len(seen) > 1


def _cell(i: int, c: dict) -> str:
    text = num(c["median"]) + ("" if c["ci_low"] is None else f" [{num(c['ci_low'])}, {num(c['ci_high'])}]")
    if i and c.get("ratio") is not None:
        ci = "" if c.get("ratio_ci_low") is None else f" [{c['ratio_ci_low']:.2f}, {c['ratio_ci_high']:.2f}]"
        text += f"<br>×{c['ratio']:.3f}{ci} <span class=\"{esc(c.get('verdict'))}\">{esc(c.get('verdict'))}</span>"
    spec = c.get("spec")
    if spec:
        cls = "regressed" if spec["verdict"] == "below-spec" else ""
        ratio = "" if spec["ratio"] is None else f" ({spec['ratio'] * 100:.0f}%)"
        text += f'<br><span class="{cls}">spec {num(spec["spec"])}{ratio} {esc(spec["verdict"])}</span>'
    return text


def _chart(group: dict, row: dict, columns: list) -> str:
    """A bar per machine on the report's axis rule (bench.reporting.html.axes): the value axis labelled with its
    unit, linear from zero unless the bars span more than two decades; whiskers the median's interval; the
    significant winner in the palette's green."""
    fig = Figure(figsize=(1.6 + 1.3 * len(columns), 2.8))
    ax = fig.add_subplot(1, 1, 1)
    meds = [c["median"] if c["median"] is not None else 0.0 for c in row["cells"]]
    lows = [max(0.0, m - c["ci_low"]) if c["ci_low"] is not None else 0.0 for m, c in zip(meds, row["cells"])]
    highs = [max(0.0, c["ci_high"] - m) if c["ci_high"] is not None else 0.0 for m, c in zip(meds, row["cells"])]
    colors = [colour(2) if row["winner"] == i else colour(0) for i in range(len(columns))]
    ax.bar(range(len(columns)), meds, yerr=[lows, highs], capsize=4, color=colors)
    ax.set_xticks(range(len(columns)), columns, fontsize=8)
    ax.set_xlabel("machine")
    try:
        unit = unit_of(row["metric"])
    except ValueError:
        unit = ""
    value_axis(ax, [m + h for m, h in zip(meds, highs)] + meds, f"{row['metric']} ({unit})" if unit else row["metric"])
    ax.set_title(f"{row['metric']}: {group['case']}"[:90], fontsize=8)
    return img(fig, f"{row['metric']} per machine, {group['case']}")


def section_machines(docs: list) -> str:
    if len(docs) < 2 or not machines_differ(docs):
        return na("machines side by side", "the runs come from one machine (compare --machines needs two or more)")
    try:
        result = compare_machines(docs, catalog=load_catalog(), force=True)
    except UserError as e:       # e.g. no case in common: the section says why instead of failing the report
        return na("machines side by side", str(e))
    ms = result["machines"]
    columns = [m["column"] for m in ms]
    out = [table(["machine", "run", "host", "provider", "instance", "region", "labels", "USD/h", "price from"],
                 [[esc(m["column"]), esc(m["run_id"]), esc(m["hostname"]), esc(m["provider"]),
                   esc(m["instance_type"]), esc(m["region"]),
                   esc(", ".join(f"{k}={v}" for k, v in m["labels"].items()) or None),
                   num(m["price_usd_per_hour"]), esc(m["price_source"] or "no price")] for m in ms], left=7)]
    out.append('<p class="meta">median [95% bootstrap interval]; under it the ratio to the first machine [its CI] '
               "and the gate's verdict. The winner is named only where it is significant against every other "
               "machine.</p>")
    for g in result["groups"]:
        rows = []
        for r in g["metrics"]:
            winner = esc(columns[r["winner"]]) if r["winner"] is not None else esc(f"none: {r['winner_reason']}")
            rows.append([esc(r["metric"])] + [_cell(i, c) for i, c in enumerate(r["cells"])] + [winner])
        for c in g["costs"]:
            winner = esc(columns[c["winner"]]) if c["winner"] is not None else "none (intervals overlap)"
            rows.append([esc(_COSTS[c["metric"]])]
                        + [num(v["value"]) + ("" if v["low"] is None else f" [{num(v['low'])}, {num(v['high'])}]")
                           for v in c["cells"]] + [winner])
        out.append(f"<h3>{esc(g['case'])}</h3>")
        out.append(table(["metric"] + columns + ["winner"], rows, wrap=(len(columns) + 1,)))
        out.append("".join(_chart(g, r, columns) for r in g["metrics"] if any(c["median"] for c in r["cells"])))
    for s in result["same_host"]:
        out.append(f'<p class="meta">runs {esc(" and ".join(s["runs"]))} come from the same host '
                   f'{esc(s["host"])}: shown side by side as labelled.</p>')
    return "".join(out)
