"""tierbench model RUN: what the measured per-node figures mean for a cluster (see bench/scenarios/hadoop_tempdata/cluster_model.py)."""
import math
from dataclasses import fields

from rich.table import Table

from bench.core.errors import UserError
from bench.core.output import emit_json, fmt_number, stdout_console
from bench.reporting.quantities import DEMANDED, SUPPLIED
from bench.scenarios.hadoop_tempdata.baselines import baseline_lines, model_run
from bench.scenarios.hadoop_tempdata.cluster_model import ClusterParams, assumption_lines
from bench.store.runs import Store
from bench.tiers.detect import CLASSES

NAME = "model"
HELP = "model a cluster from a run's measured figures (drives, IOPS per GB, CPU threads per drive, cost per TB)"


def add_arguments(p):
    p.add_argument("run", metavar="RUN")
    for f in fields(ClusterParams):
        extra = " or the run's own hdd drive count" if f.name == "drives_per_node" else ""
        p.add_argument("--" + f.name.replace("_", "-"), metavar="N", help=f"(default {f.default}{extra})")
    p.add_argument("--drive-class", choices=[c for c in CLASSES if c != "unknown"],
                   help="the class of the data tier's drives, where detection said unknown (a loop device, a "
                        "virtual disk): without it such a tier is not extrapolated to drive sizes")
    p.add_argument("--results", metavar="DIR")
    p.add_argument("--json", action="store_true")


def parse_param(name: str, text: str, integer: bool):
    """A cluster parameter from the command line: a finite number > 0 (a whole one for counts), else UserError."""
    flag = "--" + name.replace("_", "-")
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise UserError(f"model: {flag} must be a {'whole ' if integer else ''}number, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"model: {flag} must be a finite number greater than 0, not {text!r}")
    return value


def table(out: dict) -> Table:
    t = Table(title=f"cluster model from run {out['run_id']}", title_justify="left")
    cols = ("layout", "drives", "limited by", "nodes", DEMANDED, SUPPLIED,
            "CPU-bound below threads/drive", "USD per TB")
    for c in cols:
        t.add_column(c, justify="left" if c in ("layout", "limited by") else "right")
    for l in out["layouts"]:
        name = f"data {l['data_tier']}, temp {l['temp_tier']}" + (" (cache)" if l["cache"] else "")
        if "error" in l:
            t.add_row(name, l["error"], *["-"] * (len(cols) - 2))
            continue
        t.add_row(name, str(l["drives"]), l["drives_limited_by"], str(l["nodes"]),
                  fmt_number(l["demanded_iops_per_gb"]), fmt_number(l["supplied_iops_per_gb"]),
                  fmt_number(l["cpu_bound_threads_per_drive"]), fmt_number(l["usd_per_tb"]))
    return t


def run(args) -> int:
    given = {f.name: parse_param(f.name, getattr(args, f.name), isinstance(f.default, int))
             for f in fields(ClusterParams) if getattr(args, f.name) is not None}
    out = model_run(Store(args.results), args.run, given, drive_class=args.drive_class)
    if args.json:
        emit_json(out)
        return 0
    con = stdout_console()
    con.print(table(out))
    for line in baseline_lines(out):
        con.print(line, highlight=False, markup=False)
    con.print("formulas: bench/scenarios/hadoop_tempdata/cluster_model.py; assumptions:")
    for line in assumption_lines(out):
        con.print("  " + line, highlight=False, markup=False)
    return 0
