"""tierbench scenario hadoop-tempdata: the case of docs/case.md, reproduced on your tiers in one command."""
from __future__ import annotations

from rich.markup import escape

from bench.commands._hdd_flags import add_hdd_arguments, hdd_options
from bench.commands.run import add_tag_argument
from bench.core.errors import UserError
from bench.core.output import emit_json, stderr_console, stdout_console
from bench.core.tags import parse_tags
from bench.execution.config import Config, TierDecl, check_interval
from bench.execution.datasets import plan_datasets
from bench.execution.runner import Runner
from bench.execution.session import TierSession
from bench.reporting.findings_table import engines_findings_table, fidelity_table, findings_table
from bench.reporting.live import make_view
from bench.reporting.table import failures, run_table
from bench.scenarios.hadoop_tempdata.scenario import (
    check_memory_tiers,
    default_container_mb,
    run_scenario,
    stages,
)
from bench.scenarios.hadoop_tempdata.settings import DEFAULT_RECORDS, EMULATED_HDD_DRIVES, QUICK_RECORDS
from bench.store.runs import Store
from bench.tiers.guard import check_plan_space

NAME = "scenario"
HELP = "reproduce a case study: hadoop-tempdata (temp data on HDD vs NVMe vs Optane, cache, CPU scaling)"
SCENARIOS = ("hadoop-tempdata",)


def add_arguments(p):
    p.add_argument("name", choices=SCENARIOS)
    p.add_argument("--emulate", action="store_true", help="build emulated hdd/nvme/optane tiers (root)")
    p.add_argument("--hdd", metavar="PATH", help="the HDFS data tier (real hardware)")
    p.add_argument("--nvme", metavar="PATH", help="an NVMe tier for temp data")
    p.add_argument("--optane", metavar="PATH", help="an Optane-class tier for temp data")
    p.add_argument("--hdd-half", metavar="PATH", help="a data directory on half of the hdd tier's drives")
    add_hdd_arguments(p, drives_help=f"with --emulate: data drives behind the emulated hdd tier "
                                     f"(default {EMULATED_HDD_DRIVES})")
    p.add_argument("--records", type=int, help=f"terasort records (default {DEFAULT_RECORDS}, quick {QUICK_RECORDS})")
    p.add_argument("--repeat", type=int, help="repeats of every step (default 3, quick 1)")
    p.add_argument("--quick", action="store_true", help="one repeat of a small sort: a few minutes")
    p.add_argument("--container-mb", type=int, metavar="MB",
                   help="memory limit of the container each sort runs in (page cache included), like YARN's; "
                        "default as root: 64 MB for the sort plus page cache for 1/16 of its temp data; 0: none")
    p.add_argument("--engine", choices=("spark",),
                   help="also run steps a, c, d and scale-N on Apache Spark (docs/spark.md): findings per engine and "
                        "the replay's fidelity")
    p.add_argument("--results", metavar="DIR")
    p.add_argument("--allow-system-path", action="store_true", help="let a tier be a system path (refused otherwise)")
    p.add_argument("--allow-shared-tier", action="store_true", help="run even if another run is using a tier")
    add_tag_argument(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--interval", type=float, default=None, metavar="S",
                   help="seconds per interval of the figures over time (intervals.parquet; default 1)")
    p.add_argument("--no-live", action="store_true",
                   help="no live panel: one line per interval on stderr (the default on a pipe)")
    p.add_argument("--wide", action="store_true", help="every table column however wide the screen")


def _print_model(con, doc: dict) -> None:
    """The cluster model of the run with its default assumptions (the run's own drive count), as `model` prints it."""
    from bench.commands.model import table
    from bench.scenarios.hadoop_tempdata.cluster_model import assumption_lines, model
    try:
        out = model(doc)
    except UserError as e:
        stderr_console.print(f"cluster model: not computed: {e}", highlight=False, markup=False)
        return
    con.print(table(out))
    for line in assumption_lines(out):
        con.print("  " + line, highlight=False, markup=False)


def run(args) -> int:
    real = {"hdd": args.hdd, "nvme": args.nvme, "optane": args.optane}
    if args.emulate and any(real.values()):
        raise UserError("scenario: give either --emulate or the tier paths (--hdd, --nvme, --optane), not both")
    if not args.emulate and not all(real.values()):
        raise UserError("scenario: give --emulate (root) or all of --hdd PATH --nvme PATH --optane PATH")
    records = args.records if args.records is not None else (QUICK_RECORDS if args.quick else DEFAULT_RECORDS)
    repeats = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    if records < 1000 or not 1 <= repeats <= 100:
        raise UserError("scenario: --records must be at least 1000 and --repeat from 1 to 100")
    if args.container_mb is not None and (args.container_mb < 0 or 0 < args.container_mb < 64):
        raise UserError("scenario: --container-mb must be at least 64 (or 0: no container)")
    container_mb = default_container_mb(records) if args.container_mb is None else (args.container_mb or None)
    if args.hdd_drives is not None and (not args.emulate or args.hdd_drives < 1):
        raise UserError("scenario: --hdd-drives is for --emulate and must be at least 1")
    tags = parse_tags(args.tag)
    hdd_flags = hdd_options(args, EMULATED_HDD_DRIVES, emulate=args.emulate)
    cfg = Config(results=args.results, emulate=args.emulate, allow_system_path=args.allow_system_path,
                 allow_shared_tier=args.allow_shared_tier,
                 interval_s=1.0 if args.interval is None else check_interval(args.interval, "--interval"))
    tier_flags = []
    if not args.emulate:
        cfg.tiers = [TierDecl(name, path, name) for name, path in real.items()]
        if args.hdd_half:
            cfg.tiers.append(TierDecl("hdd-half", args.hdd_half, "hdd"))
    if args.engine == "spark":
        from bench.engines.spark.helper import helper_jar
        from bench.engines.trace.record import strace_binary
        helper_jar()        # pyspark, Java 17, javac: UserError (exit 2) before any tier is built
        strace_binary()     # Spark's temp I/O is recorded with strace (step spark-rec): the same
    store = Store(args.results)
    with TierSession(cfg, tier_flags, emulate_flag=args.emulate, hdd=hdd_flags) as session:
        check_memory_tiers(session.tiers, container_mb)
        planned = [c for stage in stages([t.name for t in session.tiers], records, args.quick,
                                         "hdd" if args.emulate else ("hdd-half" if args.hdd_half else None)
                                         ).values() for c in stage]
        check_plan_space(planned, session.tiers, plan_datasets(planned, session.tiers))
        runner = Runner(store, session.tiers, cgroup=session.cgroup, extra={"scenario": {"name": args.name},
                                                                                "tags": tags},
                        interval_s=cfg.interval_s, view=make_view(args.no_live),
                        other_runs=session.locks.shared_devices)
        setup = [f"terasort of {records} records", f"{repeats} repeat(s)",
                 "tiers " + ", ".join(t.name for t in session.tiers),
                 f"each sort in a {container_mb} MB container" if container_mb else "no container"]
        hdd = session.emulation.tier("hdd").emulated if args.emulate and session.emulation else None
        if hdd:
            drive = hdd.get("drive")
            setup.append(f"emulated hdd: {hdd.get('drives') or 1} drive(s), "
                         + (f"seek model: {drive['rpm']:g} rpm, seek {drive['seek_ms']:g} ms, {drive['mbps']:g} MB/s"
                            if drive else f"throttle: {hdd['iops']} IOPS, {hdd['mbps']:g} MB/s"))
        stderr_console.print(f"scenario {args.name}, run {runner.run_id}: " + "; ".join(setup))
        doc = run_scenario(runner, [t.name for t in session.tiers], records=records, quick=args.quick,
                           repeats=repeats, emulation=session.emulation if args.emulate else None,
                           half_path_tier="hdd-half" if args.hdd_half else None,
                           container_mb=container_mb,
                           hdd_drives=(hdd.get("drives") or 1) if hdd else None, spark=args.engine == "spark")
    if args.json:
        emit_json(doc)
    else:
        con = stdout_console(args.wide)
        con.print(run_table(doc, con.width))
        for line in failures(doc):
            con.print(f"[red]failed[/red] {escape(line)}")
        if doc.get("findings_by_engine"):
            con.print(engines_findings_table(doc["findings_by_engine"], con.width))
        else:
            con.print(findings_table(doc["findings"], con.width))
        if doc.get("fidelity"):
            con.print(fidelity_table(doc["fidelity"]))
            for line in doc["fidelity"]["summary"]:
                con.print("  " + line, highlight=False, markup=False)
        _print_model(con, doc)
        stderr_console.print(f"stored in {store.root / doc['run_id']}; cluster model with other assumptions: "
                             f"tierbench model {doc['run_id']} --help")
    return 0 if doc["status"] == "complete" else 1
