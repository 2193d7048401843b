"""tierbench model RUN: what the measured per-node figures mean for a cluster (see bench/cluster_model.py)."""
from dataclasses import fields

from rich.table import Table

from bench.cluster_model import ClusterParams, model
from bench.output import emit_json, fmt_number, stderr_console
from bench.store import Store

NAME = "model"
HELP = "model a cluster from a run's measured figures (drives, IOPS per GB, CPU threads per drive, cost per TB)"


def add_arguments(p):
    p.add_argument("run", metavar="RUN")
    for f in fields(ClusterParams):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                       metavar="N", help=f"(default {f.default})")
    p.add_argument("--results", metavar="DIR")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    params = ClusterParams(**{f.name: getattr(args, f.name) for f in fields(ClusterParams)})
    out = model(Store(args.results).load(args.run), params)
    if args.json:
        emit_json(out)
        return 0
    table = Table(title=f"cluster model from run {out['run_id']}", title_justify="left")
    cols = ("layout", "drives", "limited by", "nodes", "IOPS/GB demanded", "IOPS/GB supplied",
            "CPU-bound below threads/drive", "USD per TB")
    for c in cols:
        table.add_column(c, justify="left" if c in ("layout", "limited by") else "right")
    for l in out["layouts"]:
        name = f"data {l['data_tier']}, temp {l['temp_tier']}" + (" (cache)" if l["cache"] else "")
        if "error" in l:
            table.add_row(name, l["error"], *["-"] * (len(cols) - 2))
            continue
        table.add_row(name, str(l["drives"]), l["drives_limited_by"], str(l["nodes"]),
                      fmt_number(l["demanded_iops_per_gb"]), fmt_number(l["supplied_iops_per_gb"]),
                      fmt_number(l["cpu_bound_threads_per_drive"]), fmt_number(l["usd_per_tb"]))
    stderr_console.print(table)
    stderr_console.print("formulas: bench/cluster_model.py; parameters: " +
                         ", ".join(f"{k}={v}" for k, v in out["params"].items()))
    return 0
