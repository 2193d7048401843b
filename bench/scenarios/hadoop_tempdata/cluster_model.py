"""The cluster model: measured per-node figures (a run) + cluster parameters → drives, IOPS per GB demanded
against supplied, the CPU threads per drive at which CPUs become the bottleneck, and cost per TB processed,
for each storage layout (where the temp data lives) the run measured. Pure arithmetic on a run document.

Measured inputs, from the run (the device baselines may come from another run: `baselines`, found in the store
by bench.scenarios.hadoop_tempdata.baselines and named in each layout's `baseline_run`):
  S_iops   IOPS one data-tier drive supplies: median `iops` of the run's rand-read-4k cases on that tier
           (the highest queue depth measured);  S_bw: median bytes/s of seq-read-1m there (if measured);
           both divided by the tier's drives when it is an emulated set of several (`tiers emulate --hdd-drives`).
  per layout (a terasort case: data tier, temp tier), per TB of input sorted (input_bytes / 10^12), counting
  only the sort job's phases (map, reduce): TeraGen, TeraValidate and the background HDFS traffic the
  scenario adds (phase hdfs-data, the HDFS readers) are other jobs and other clients, not the sort's demand:
  O_tb     ops on the data tier,  B_tb: bytes read + written on the data tier,  C_tb: CPU seconds.
Cluster parameters: stored_tb (logical), replication, drive_tb, drives_per_node, daily_tb (processed per
day), drive_usd, node_usd, temp_device_usd (per node, layouts with temp off the data tier), amortize_years,
node_usd_per_hour (power, space, operations). A data tier of class `unknown` (a loop device, a virtual disk that reports rotational=1) is not
extrapolated to drives of drive_tb: the model refuses it unless the caller names the drive's class
(`--drive-class`), which the layout then records. Each is listed in the model's `assumptions` with its source
(SOURCES: the case, an HDFS default, the run document, or "assumed"); drives_per_node defaults to the
scenario's own drive count (its emulated hdd drives) when the run has one.
Formulas (per layout):
  drives_capacity   = ceil(stored_tb x replication / drive_tb)
  demanded_iops     = daily_tb x O_tb / 86400                       (cluster-wide average ops/s on the data tier)
  demanded_iops_per_gb = demanded_iops / (stored_tb x replication x 1000)
  supplied_iops_per_gb = S_iops / (drive_tb x 1000)
  drives_iops       = ceil(demanded_iops / S_iops);   drives_bw = ceil(daily_tb x B_tb / 86400 / S_bw)
  drives            = max(drives_capacity, drives_iops, drives_bw);  nodes = ceil(drives / drives_per_node)
  drive_s_per_tb    = max(O_tb / S_iops, B_tb / S_bw)               (seconds one drive is busy per TB)
  cpu_bound_threads_per_drive = C_tb / drive_s_per_tb               (below it, the CPUs are the bottleneck)
  cost_per_day      = (drives x drive_usd + nodes x (node_usd + temp_device_usd)) / (amortize_years x 365)
                      + nodes x node_usd_per_hour x 24
  usd_per_tb        = cost_per_day / daily_tb
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

from bench.analysis.stats import median
from bench.core.errors import UserError

SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class ClusterParams:
    stored_tb: float = 30000.0           # 30 PB logical per cluster (the case)
    replication: int = 3
    drive_tb: float = 16.0
    drives_per_node: int = 12
    daily_tb: float = 5000.0
    drive_usd: float = 300.0
    node_usd: float = 10000.0
    temp_device_usd: float = 800.0
    amortize_years: float = 4.0
    node_usd_per_hour: float = 0.5

    def check(self) -> "ClusterParams":
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise UserError(f"model: {name} must be a finite positive number, not {value!r}")
        return self


# (unit, source) of each parameter's default. "assumed": a round figure of ours, not from the case or the run.
SOURCES = {
    "stored_tb": ("TB", "the case: a cluster has 30 PB or more of logical storage (docs/case.md)"),
    "replication": ("copies", "HDFS default dfs.replication = 3 (the case: duplication makes EBs of physical "
                              "storage from 300 PB logical)"),
    "drive_tb": ("TB", "assumed (docs/case.md: 7200 rpm drives are 4-24 TB)"),
    "drives_per_node": ("drives", "assumed"),
    "daily_tb": ("TB/day", "assumed"),
    "drive_usd": ("USD", "assumed"),
    "node_usd": ("USD", "assumed"),
    "temp_device_usd": ("USD per node", "assumed"),
    "amortize_years": ("years", "assumed"),
    "node_usd_per_hour": ("USD/hour", "assumed"),
}


def scenario_drives(doc: dict) -> Optional[tuple]:
    """(drives, source) the run's own hdd tier has: the scenario's hdd-drives setting (doc["scenario"]
    ["hdd_drives"]), else the emulated hdd tier's drive count (doc["tiers"][..]["emulated"]["drives"]); None
    when the run does not say (real tiers)."""
    drives = (doc.get("scenario") or {}).get("hdd_drives")
    if isinstance(drives, int) and not isinstance(drives, bool) and drives >= 1:
        return drives, "run document: scenario.hdd_drives (the scenario's --hdd-drives, the emulated node's " \
                       "data drives)"
    hdd = next((t for t in doc.get("tiers", []) if t.get("class") == "hdd" and t.get("emulated")), None)
    drives = (hdd or {}).get("emulated", {}).get("drives")
    if isinstance(drives, int) and not isinstance(drives, bool) and drives >= 1:
        return drives, f"run document: tier {hdd['name']} is emulated as {drives} drive(s)"
    return None


def default_params(doc: dict) -> ClusterParams:
    """The defaults, with drives_per_node set to the run's own drive count where it has one."""
    own = scenario_drives(doc)
    return ClusterParams(drives_per_node=own[0]) if own else ClusterParams()


def assumptions(doc: dict, params: ClusterParams, given=()) -> list:
    """[{name, value, unit, source}] for every parameter: "given" (on the command line / by the caller), the
    run document, or the default's source (SOURCES)."""
    defaults, own = default_params(doc), scenario_drives(doc)
    out = []
    for name, value in asdict(params).items():
        unit, source = SOURCES[name]
        if name in given or value != getattr(defaults, name):
            source = "given"
        elif name == "drives_per_node" and own:
            source = own[1]
        out.append({"name": name, "value": value, "unit": unit, "source": source})
    return out


def _median(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return median(values)


def supplied(doc: dict, tier: str) -> tuple:
    """(S_iops, S_bw) of a tier from the run's device baselines (None where not measured)."""
    ok = [c for c in doc.get("cases", []) if not c.get("error") and c.get("tier") == tier]
    reads = [c for c in ok if c["workload"] == "rand-read-4k"]
    iops = None
    if reads:
        deepest = max(c["params"].get("iodepth", 1) for c in reads)
        iops = _median(c["metrics"].get("iops") for c in reads if c["params"].get("iodepth", 1) == deepest)
    bw = _median(c["metrics"].get("read_bytes_per_s") for c in ok if c["workload"] == "seq-read-1m")
    declared = next((t for t in doc.get("tiers", []) if t.get("name") == tier), {})
    drives = (declared.get("emulated") or {}).get("drives") or 1
    return (iops / drives if iops is not None else None), (bw / drives if bw is not None else None)


def _tier_io(phase: dict) -> list:
    """A phase's I/O per tier: its `io` map ({role: {tier, ops_*, bytes_*}}) when it has one (jobs touch two
    tiers in one phase), else the phase record itself."""
    return list(phase["io"].values()) if phase.get("io") else [phase]


SORT_PHASES = ("map", "reduce")
SCOPE = ("the sort job only: map and reduce phases; teragen, validate and the background HDFS traffic "
         "(hdfs-data, HDFS readers) are not counted")


def layout_demand(doc: dict) -> dict:
    """{(data tier, temp tier, cache): per-TB figures} from the run's successful terasort cases (medians), over
    the sort job's phases (SORT_PHASES) only."""
    groups: dict = {}
    for c in doc.get("cases", []):
        if c.get("error") or c["workload"] != "terasort" or c.get("engine") == "spark":
            continue        # the replay's cases only: Spark counts no operations (docs/spark.md)
        input_bytes = c["metrics"].get("input_bytes")
        sort = [p for p in c.get("phases", []) if p.get("name") in SORT_PHASES]
        if not input_bytes or {p["name"] for p in sort} != set(SORT_PHASES) \
                or any(p.get("cpu_s") is None for p in sort):
            continue
        tb = input_bytes / 1e12
        on_data = [io for p in sort for io in _tier_io(p) if io.get("tier") == c["tier"]]
        data_ops = sum(io.get("ops_read", 0) + io.get("ops_written", 0) for io in on_data)
        data_bytes = sum(io.get("bytes_read", 0) + io.get("bytes_written", 0) for io in on_data)
        key = (c["tier"], c.get("temp_tier") or c["tier"], bool(c.get("cache")))
        groups.setdefault(key, []).append({"ops_per_tb": data_ops / tb, "bytes_per_tb": data_bytes / tb,
                                           "cpu_s_per_tb": sum(p["cpu_s"] for p in sort) / tb,
                                           "wall_s_per_tb": sum(p["wall_s"] for p in sort) / tb})
    return {k: {**{m: median(r[m] for r in rows) for m in rows[0]}, "cases": len(rows)}
            for k, rows in groups.items()}


def evaluate(layout: dict, s_iops: float, s_bw: Optional[float], p: ClusterParams, temp_off_data: bool) -> dict:
    """The layout's figures; UserError when the parameters take one outside the range of a float (an
    overflow to inf, or a quotient of positive numbers that underflows to 0): such a figure is never printed."""
    try:
        out = _evaluate(layout, s_iops, s_bw, p, temp_off_data)
    except (OverflowError, ValueError):     # math.ceil of an infinite (or NaN) drive count
        out = {"drives": math.inf}
    positive = ["supplied_iops_per_gb", "cost_per_day_usd", "usd_per_tb"]
    if out.get("demanded_iops"):
        positive.append("demanded_iops_per_gb")
    for name, value in out.items():
        if isinstance(value, float) and (not math.isfinite(value) or (name in positive and value == 0)):
            changed = ", ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in asdict(p).items()
                                if v != getattr(ClusterParams, k))
            raise UserError(f"model: the cluster parameters ({changed or 'the defaults'}) take {name} out of the "
                            f"range of a float ({value:g}): give values of a real cluster's size")
    return out


def _evaluate(layout: dict, s_iops: float, s_bw: Optional[float], p: ClusterParams, temp_off_data: bool) -> dict:
    stored_gb = p.stored_tb * p.replication * 1000
    drives_capacity = math.ceil(p.stored_tb * p.replication / p.drive_tb)
    demanded_iops = p.daily_tb * layout["ops_per_tb"] / SECONDS_PER_DAY
    drives_iops = math.ceil(demanded_iops / s_iops)
    drives_bw = math.ceil(p.daily_tb * layout["bytes_per_tb"] / SECONDS_PER_DAY / s_bw) if s_bw else None
    drives = max(d for d in (drives_capacity, drives_iops, drives_bw) if d is not None)
    nodes = math.ceil(drives / p.drives_per_node)
    drive_s = max(layout["ops_per_tb"] / s_iops, layout["bytes_per_tb"] / s_bw if s_bw else 0.0)
    threads = layout["cpu_s_per_tb"] / drive_s if drive_s > 0 else None
    node_cost = p.node_usd + (p.temp_device_usd if temp_off_data else 0.0)
    cost_per_day = ((drives * p.drive_usd + nodes * node_cost) / (p.amortize_years * 365)
                    + nodes * p.node_usd_per_hour * 24)
    limit = max((("capacity", drives_capacity), ("iops", drives_iops), ("bandwidth", drives_bw or 0)),
                key=lambda kv: kv[1])[0]
    return {"drives_capacity": drives_capacity, "drives_iops": drives_iops, "drives_bandwidth": drives_bw,
            "drives": drives, "drives_limited_by": limit, "nodes": nodes,
            "demanded_iops": demanded_iops, "demanded_iops_per_gb": demanded_iops / stored_gb,
            "supplied_iops_per_gb": s_iops / (p.drive_tb * 1000),
            "cpu_bound_threads_per_drive": threads, "cost_per_day_usd": cost_per_day,
            "usd_per_tb": cost_per_day / p.daily_tb}


def _supplied_source(doc: dict, tier: str, own_run: Optional[str] = None) -> str:
    """Where a tier's per-drive figures come from, in words; `doc` is the run that measured them and `own_run`
    the modelled run's id (named when they differ)."""
    declared = next((t for t in doc.get("tiers", []) if t.get("name") == tier), {})
    emulated = declared.get("emulated") or {}
    where = f" (device baselines from run {doc.get('run_id')})" if own_run and doc.get("run_id") != own_run else ""
    drive = emulated.get("drive")
    if drive:
        return (f"configured, not measured: tier {tier} is a modelled drive ({drive['rpm']:g} rpm, seek "
                f"{drive['seek_ms']:g} ms, {drive['mbps']:g} MB/s, {emulated.get('drives') or 1} drive(s)); the "
                f"model's per-drive figures follow from those datasheet parameters")
    if emulated.get("iops") or emulated.get("mbps"):
        return (f"configured, not measured: tier {tier} is emulated, throttled to {emulated.get('iops')} IOPS / "
                f"{emulated.get('mbps')} MB/s for {emulated.get('drives') or 1} drive(s); the model's per-drive "
                f"figures are that throttle's{where}")
    return f"measured: rand-read-4k (deepest queue) and seq-read-1m on tier {tier}, per drive{where}"


def _check_drive_class(tier: str, cls: Optional[str], drive_class: Optional[str], drive_tb: float) -> None:
    """UserError when the data tier's class is unknown and the caller named no drive class (see the module's doc)."""
    if cls == "unknown" and not drive_class:
        raise UserError(f"model: tier {tier} is of class unknown, so its figures are not extrapolated to "
                        f"{drive_tb:g} TB drives: give --drive-class (hdd, ssd, nvme, ...) if you know what it is, "
                        f"or run again with --tier {tier}=PATH:CLASS")


def no_model_reason(doc: dict) -> str:
    """Why a run has nothing to model, in one line: its terasort cases ran on Spark only (Spark counts no I/O
    operations, so the I/O per TB the model scales is unknown), or it has no successful replay terasort."""
    spark = [c for c in doc.get("cases", []) if not c.get("error") and c.get("workload") == "terasort"
             and c.get("engine") == "spark"]
    if spark:
        return (f"run {doc.get('run_id')}: its {len(spark)} terasort case(s) ran on Spark, which counts no I/O "
                f"operations (docs/spark.md); the model needs the replay's operation counts (run terasort with the "
                f"job engine, as `tierbench scenario hadoop-tempdata` does)")
    return (f"run {doc.get('run_id')} has no successful terasort case with map and reduce phases to model (run "
            f"`tierbench scenario hadoop-tempdata` or `tierbench run --workload terasort`)")


def model(doc: dict, params: Optional[ClusterParams] = None, given=(), baselines: Optional[dict] = None,
          drive_class: Optional[str] = None) -> dict:
    """The model of every layout the run measured. params None: default_params(doc). given: the parameter
    names the user set (their source is "given"). baselines: {data tier: the run document whose device
    baselines supply that tier's per-drive figures} (default: `doc` itself). drive_class: the class of the
    data tiers' drives, as the user declared it (needed where a data tier's class is unknown)."""
    params = (params or default_params(doc)).check()
    baselines = baselines or {}
    classes = {t["name"]: t["class"] for t in doc.get("tiers", [])}
    demand = layout_demand(doc)
    if not demand:
        raise UserError(no_model_reason(doc))
    known = sorted({f"{d} is {classes.get(d)}" for d, _, _ in demand if classes.get(d) != "unknown"})
    if drive_class and len(known) == len({d for d, _, _ in demand}):
        raise UserError(f"model: --drive-class is for a data tier of class unknown, and {', '.join(known)} "
                        f"(a tier's class is declared with --tier NAME=PATH:CLASS when it is measured)")
    layouts = []
    for (data, temp, cache), figures in sorted(demand.items()):
        _check_drive_class(data, classes.get(data), drive_class, params.drive_tb)
        source = baselines.get(data, doc)
        s_iops, s_bw = supplied(source, data)
        entry = {"data_tier": data, "temp_tier": temp, "cache": cache, "data_class": classes.get(data),
                 "temp_class": classes.get(temp), "measured": {**figures, "supplied_iops": s_iops,
                                                                "supplied_bytes_per_s": s_bw},
                 "baseline_run": source.get("run_id"),
                 "supplied_source": _supplied_source(source, data, doc.get("run_id"))}
        if classes.get(data) == "unknown":
            entry["drive_class"] = drive_class
        if s_iops is None:
            entry["error"] = f"no rand-read-4k measured on tier {data}: the drive's IOPS is unknown"
        else:
            entry.update(evaluate(figures, s_iops, s_bw, params, temp_off_data=temp != data))
        layouts.append(entry)
    return {"run_id": doc.get("run_id"), "params": asdict(params), "assumptions": assumptions(doc, params, given),
            "scope": SCOPE, "layouts": layouts}


def assumption_lines(out: dict) -> list:
    """Printable lines: what was counted, every parameter with its source, and where each layout's drive
    figures come from."""
    lines = [f"counted: {out['scope']}"]
    lines += [f"{a['name']} = {a['value']:g} {a['unit']}: {a['source']}" for a in out["assumptions"]]
    for source in sorted({l["supplied_source"] for l in out["layouts"]}):
        lines.append(f"drive IOPS / bandwidth: {source}")
    for tier, cls in sorted({(l["data_tier"], l["drive_class"]) for l in out["layouts"] if l.get("drive_class")}):
        lines.append(f"drive class of tier {tier}: {cls} (given: detection said unknown)")
    return lines
