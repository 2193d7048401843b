"""tierbench run: execute a plan of cases and store the run."""
from __future__ import annotations

import shutil

import workloads
from bench.commands._hdd_flags import add_hdd_arguments, hdd_options
from bench.core.errors import UserError
from bench.core.outpath import checked_output_dir, write_output_file
from bench.core.output import emit_json, stderr_console, stdout_console
from bench.core.tags import parse_tags
from bench.execution import plan
from bench.execution.config import (
    Config,
    check_interval,
    check_timeout,
    from_toml,
    load_toml,
    method_of,
    parse_param_flag,
    parse_workers,
    validate,
)
from bench.execution.datasets import plan_datasets
from bench.execution.runner import Runner
from bench.execution.session import TierSession
from bench.reporting.live import make_view
from bench.reporting.table import print_run
from bench.store.runs import Store
from bench.tiers.guard import check_plan_space
from bench.tiers.raw import check_raw_cases

NAME = "run"
HELP = "run workloads on tiers and store the results"
DEFAULT_WORKLOADS = ["rand-read-4k", "rand-write-4k", "seq-read-1m", "seq-write-1m"]


def add_run_arguments(p, workload_flags: bool = True):
    p.add_argument("--tier", action="append", default=[], metavar="NAME=PATH[:CLASS]",
                   help="a tier (repeatable); NAME alone names a known tier")
    if workload_flags:
        p.add_argument("--workload", action="append", default=[], metavar="NAME",
                       help=f"workload (repeatable): {', '.join(workloads.names())}")
    p.add_argument("--engine", action="append", default=[], choices=("fio", "builtin", "spark"),
                   help="I/O engine for patterns (repeat to run both and see their ratio); spark: run terasort on "
                        "an Apache Spark cluster (docs/spark.md)")
    p.add_argument("--spark-master", metavar="spark://HOST:PORT",
                   help="with --engine spark: use this existing cluster instead of starting one per case")
    p.add_argument("--param", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="set or sweep a workload parameter")
    p.add_argument("--repeat", type=int, metavar="N", help="repeats of every case")
    p.add_argument("--quick", action="store_true", help="small sizes and short runtimes (about a minute)")
    p.add_argument("--emulate", action="store_true", help="build emulated hdd/nvme/optane tiers for this run (root)")
    add_hdd_arguments(p, drives_help="with --emulate: drives behind the emulated hdd tier (default 1)")
    p.add_argument("--results", metavar="DIR", help="results store (default: $TIERBENCH_RESULTS or results/)")
    p.add_argument("--allow-system-path", action="store_true",
                   help="let a tier be a system path (/, /etc, /usr, the store, ...), refused otherwise")
    p.add_argument("--allow-shared-tier", action="store_true",
                   help="run even if another run is using a tier (their figures disturb each other)")
    add_tag_argument(p)
    p.add_argument("--json", action="store_true", help="print the run document as JSON on stdout")
    p.add_argument("--wide", action="store_true", help="print every table column however wide the screen "
                                                        "(by default number columns are left out to fit)")
    p.add_argument("--interval", type=float, default=None, metavar="S",
                   help="seconds per interval of the figures over time (intervals.parquet; default 1)")
    p.add_argument("--no-live", action="store_true",
                   help="no live panel: one line per interval on stderr (the default on a pipe)")


def add_tag_argument(p):
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                   help="a tag stored with the run (repeatable), e.g. --tag build=1234; the git commit and branch "
                        "(or $GITHUB_SHA / $CI_COMMIT_SHA) are stored as tags commit and branch")


def add_arguments(p):
    p.add_argument("config", nargs="?", help="TOML config file")
    add_run_arguments(p)
    p.add_argument("--data", metavar="TIER", help="tier for jobs' input and output")
    p.add_argument("--temp", metavar="TIER", help="tier for jobs' temp data")
    p.add_argument("--workers", metavar="LIST", help="worker counts to scale over, e.g. 1,2,4")
    p.add_argument("--cache", action="store_true", help="keep the page cache (buffered, warm) instead of cold I/O")
    p.add_argument("--export-jobs", metavar="DIR", help="also write each case's fio job file to DIR")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="per-case timeout in seconds")
    p.add_argument("--host", action="append", default=[], metavar="HOST[:PORT]",
                   help="run every case on this fio server too (repeatable; `tierbench serve` starts one): "
                        "a row per host and one for the fleet (docs/fleet.md)")
    p.add_argument("--hosts", metavar="FILE", help="fio servers, one HOST[:PORT] a line")
    p.add_argument("--host-detect", action="append", default=[], metavar="HOST=FILE",
                   help="what `tierbench tiers detect --tier ... --json` said on that host (e.g. through ssh): "
                        "its tiers' devices and capacities, so the host's IOPS per GB can be given")
    p.add_argument("--job-file", metavar="FILE.fio", help="run your own fio job file on each tier, its "
                   "directory pointed at the tier (--quick caps its sizes and runtimes)")
    p.add_argument("--allow-paths", action="store_true",
                   help="--job-file: run it even if it names files or devices outside the tiers")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                   help="what this machine is where it cannot say so itself (repeatable): instance=TYPE, "
                        "provider=, zone=, or any label; recorded as given (docs/machines.md)")
    p.add_argument("--region", metavar="REGION", help="the cloud region this machine runs in (recorded as given)")
    p.add_argument("--price-per-hour", type=float, metavar="USD",
                   help="what this machine costs, in US dollars per hour (compare --machines uses it)")
    p.add_argument("--destroy-data", action="store_true",
                   help="let patterns (and --precondition) write to a raw block device tier (--tier "
                        "NAME=/dev/DEV:CLASS), destroying what it holds; devices in use or holding a file system or "
                        "partition table are refused anyway")
    p.add_argument("--allow-job-commands", action="store_true",
                   help="--job-file: let it run commands (exec_prerun, exec_postrun)")
    p.add_argument("--allow-engine", action="append", default=[], metavar="NAME",
                   help="--job-file: let it use this ioengine that does not do file I/O on the tier (sg, exec, "
                        "external, net, ...; repeatable)")
    p.add_argument("--precondition", action="store_true",
                   help="before each pattern case, write its test region twice in sequential 128 KiB writes "
                        "(SNIA PTS; docs/steady-state.md)")
    p.add_argument("--steady-state", action="store_true",
                   help="run each pattern case in rounds until IOPS is steady by the SNIA PTS rule (5-round window: "
                        "range <= 20%%, fit excursion <= 10%% of the average), at most --max-rounds")
    p.add_argument("--round-s", type=float, default=None, metavar="S", help="seconds per steady-state round (default 60)")
    p.add_argument("--max-rounds", type=int, default=None, metavar="N",
                   help="steady-state rounds before the case is stated not steady (default 25)")


def config_from_args(args) -> Config:
    cfg = from_toml(load_toml(args.config), args.config) if getattr(args, "config", None) else Config()
    if getattr(args, "workload", None):
        repeated = sorted({w for w in args.workload if args.workload.count(w) > 1})
        if repeated:
            raise UserError(f"--workload {repeated[0]} is given twice (use --repeat N for repeats)")
        cfg.workloads = list(args.workload)
    if not cfg.workloads:
        cfg.workloads = list(DEFAULT_WORKLOADS)
    if args.engine:
        cfg.engines = list(dict.fromkeys(args.engine))
    given = set()
    for flag in args.param:
        key, values = parse_param_flag(flag)
        if key in given:
            raise UserError(f"--param {key} is given twice (sweep values in one: --param {key}=V1,V2)")
        given.add(key)
        cfg.params[key] = values
    if args.repeat is not None:
        cfg.repeat = args.repeat
    for attr in ("data", "temp", "export_jobs"):
        if getattr(args, attr, None):
            setattr(cfg, attr, getattr(args, attr))
    if getattr(args, "workers", None):
        cfg.workers = parse_workers(args.workers)
    cfg.cache = cfg.cache or getattr(args, "cache", False)
    cfg.quick = cfg.quick or args.quick
    if getattr(args, "timeout", None) is not None:
        cfg.timeout_s = check_timeout(args.timeout, "--timeout")
    cfg.emulate = args.emulate
    cfg.hdd = hdd_options(args, emulate=args.emulate)
    cfg.results = args.results
    cfg.allow_system_path = args.allow_system_path
    cfg.allow_shared_tier = args.allow_shared_tier
    cfg.spark_master = getattr(args, "spark_master", None)
    cfg.tags = parse_tags(args.tag)
    cfg.raw_devices = True
    cfg.destroy_data = getattr(args, "destroy_data", False)
    if args.interval is not None:
        cfg.interval_s = check_interval(args.interval, "--interval")
    cfg.precondition = getattr(args, "precondition", False)
    cfg.steady_state = getattr(args, "steady_state", False)
    for flag, attr in (("round_s", "round_s"), ("max_rounds", "max_rounds")):
        if getattr(args, flag, None) is not None:
            if not cfg.steady_state:
                raise UserError(f"--{flag.replace('_', '-')} goes with --steady-state")
            setattr(cfg, attr, getattr(args, flag))
    return validate(cfg)


def check_fio(cfg: Config, cases: list) -> None:
    if any(c.engine == "fio" for c in cases) and shutil.which("fio") is None:
        raise UserError("fio is not installed: install it with 'sudo apt-get install fio' (Debian/Ubuntu), "
                        "or use --engine builtin")


def check_spark(cases: list, master=None) -> None:
    """pyspark, Java 17 and javac where a case runs on Spark, and --spark-master answering (UserError: one
    line, exit 2)."""
    if any(c.engine == "spark" for c in cases):
        from bench.engines.spark.cluster import check_master
        from bench.engines.spark.helper import helper_jar
        if master:
            check_master(master)
        helper_jar()


def export_jobs(cases: list, tiers: dict, directory: str, allow_system: bool = False) -> list:
    """Write each pattern case's fio job file into `directory` (made if new; bench.core.outpath's rule)."""
    from bench.engines.fio.job import render_jobfile

    out = checked_output_dir(directory, what="--export-jobs", allow_system=allow_system)
    written = []
    for c in cases:
        if c.kind != "pattern" or c.engine != "fio" or c.repeat:
            continue
        w = workloads.get(c.workload)
        pattern = w.build(workloads.coerce_params(w, c.params))
        dirs = {"data": tiers[c.tier].path, "temp": tiers[c.temp_tier or c.tier].path}
        path = out / f"case{c.id:03d}-{c.workload}-{c.tier}.fio"
        write_output_file(path, render_jobfile(pattern, dirs, device=tiers[c.tier].path if tiers[c.tier].raw else None),
                          what="--export-jobs", allow_system=allow_system)
        written.append(str(path))
    return written


def execute(cfg: Config, tier_flags: list, *, json_out: bool, extra: dict = None, job_file: dict = None,
            machine_given: dict = None, no_live: bool = False) -> dict:
    """Resolve tiers, build the plan, run it, print the table; returns the run document.
    job_file: {"path", "allow_paths"} for `--job-file` (its cases instead of the workloads').
    machine_given: what the user said about this machine (bench.execution.machine.parse_given)."""
    if job_file is None:
        plan.check(cfg, len(tier_flags) or len(cfg.tiers) or 1)   # bad parameters: refused before tiers are resolved
    store = Store(cfg.results)
    with TierSession(cfg, tier_flags, emulate_flag=cfg.emulate, hdd=cfg.hdd) as session:
        tiers = {t.name: t for t in session.tiers}
        loaded = None
        if job_file is not None:
            from bench.execution.jobfile_case import jobfile_cases, load_jobfile

            if any(t.raw for t in session.tiers):
                raise UserError("--job-file on a raw device tier: a job file is pointed at a tier's directory; "
                                "raw devices run the device baselines")
            loaded = load_jobfile(job_file["path"], {t.name: t.path for t in session.tiers}, quick=cfg.quick,
                                  **_job_file_allowances(job_file))
            cases = jobfile_cases(loaded, list(tiers), cfg.repeat)
        else:
            cases = plan.with_method(plan.build(cfg, list(tiers)), method_of(cfg))
            check_raw_cases(cases, tiers, cfg.destroy_data, precondition=cfg.precondition)
            check_plan_space(cases, session.tiers, plan_datasets(cases, session.tiers, precondition=cfg.precondition))
        check_fio(cfg, cases)
        check_spark(cases, cfg.spark_master)
        if cfg.export_jobs:
            for path in export_jobs(cases, tiers, cfg.export_jobs, cfg.allow_system_path):
                stderr_console.print(f"wrote {path}")
        runner = Runner(store, session.tiers, cgroup=session.cgroup, timeout_s=cfg.timeout_s,
                        extra=dict(extra or {}, tags=cfg.tags),
                        job_file=loaded, spark_master=cfg.spark_master, machine_given=machine_given,
                        interval_s=cfg.interval_s, view=make_view(no_live), method=method_of(cfg),
                        other_runs=session.locks.shared_devices)
        stderr_console.print(f"run {runner.run_id}: {len(cases)} cases on "
                             + ", ".join(f"{t.name} ({t.cls}{', emulated' if t.emulated else ''})"
                                         for t in session.tiers))
        try:
            doc = runner.run(cases)
        except KeyboardInterrupt:
            stderr_console.print(f"interrupted: measured cases kept in {runner.folder}")
            raise
    return doc


def execute_fleet(cfg: Config, tier_flags: list, hosts: list, job_file: dict = None, detect_flags=(),
                  machine_given: dict = None) -> dict:
    """A fleet run: every case on every host at once through fio's client mode (bench.execution.hosts).
    Refused before anything is stored: options that cannot run on fio servers, tiers without a path on some
    host, and hosts that do not answer fio's probe or run another fio version."""
    from bench.execution.hosts import check_hosts, fleet_tiers, host_detections

    if cfg.emulate:
        raise UserError("--host with --emulate: emulated tiers are built on this machine, not on the hosts")
    if cfg.engines != ["fio"]:
        raise UserError("--host runs fio's client/server mode: only --engine fio runs on the hosts")
    if cfg.export_jobs:
        raise UserError("--host with --export-jobs: each case's job files per host are kept in the run's raw/")
    tiers, paths = fleet_tiers(tier_flags, hosts, allow_system_path=cfg.allow_system_path)
    loaded = None
    if job_file is not None:
        from bench.execution.jobfile_case import jobfile_cases, load_jobfile

        every = {f"{name}@{host}": path for name, by_host in paths.items() for host, path in by_host.items()}
        loaded = load_jobfile(job_file["path"], every, quick=cfg.quick, local=False, **_job_file_allowances(job_file))
        cases = jobfile_cases(loaded, [t.name for t in tiers], cfg.repeat)
    else:
        cases = plan.build(cfg, [t.name for t in tiers])
    jobs = sorted({c.workload for c in cases if c.kind not in ("pattern", "jobfile")})
    if jobs:
        raise UserError(f"--host: {', '.join(jobs)} {'is a job' if len(jobs) == 1 else 'are jobs'} (PyArrow/Polars "
                        "on this machine), not I/O patterns that fio servers can run")
    check_fio(cfg, cases)
    detected = host_detections(detect_flags, hosts, paths)
    fleet = check_hosts(hosts)
    for host in fleet:
        host["tiers"] = {name: by_host[host["name"]] for name, by_host in paths.items()}
        if host["name"] in detected:
            host["detected"] = detected[host["name"]]
    runner = Runner(Store(cfg.results), tiers, timeout_s=cfg.timeout_s, fleet=fleet, job_file=loaded,
                    extra={"tags": cfg.tags}, machine_given=machine_given, interval_s=cfg.interval_s)
    stderr_console.print(f"run {runner.run_id}: {len(cases)} cases on {len(fleet)} hosts "
                         f"({', '.join(h['name'] for h in fleet)}), fio {fleet[0]['fio_version']}")
    try:
        return runner.run(cases)
    except KeyboardInterrupt:
        stderr_console.print(f"interrupted: measured cases kept in {runner.folder}")
        raise


def _job_file_allowances(job_file: dict) -> dict:
    return {k: job_file[k] for k in ("allow_paths", "allow_commands", "allow_engines")}


def report(doc: dict, json_out: bool, store_root, wide: bool = False) -> int:
    if json_out:
        emit_json(doc)
    else:
        print_run(stdout_console(wide), stderr_console, doc, store_root)
    return 0 if doc["status"] == "complete" else 1


def run(args) -> int:
    from bench.execution.hosts import hosts_from_args
    from bench.execution.machine import instance_identity, parse_given

    job_file = None
    if args.job_file:
        if args.workload or args.param or args.workers:
            raise UserError("--job-file runs the job file as written: --workload, --param and --workers do not "
                            "apply to it")
        job_file = {"path": args.job_file, "allow_paths": args.allow_paths,
                    "allow_commands": args.allow_job_commands, "allow_engines": list(args.allow_engine)}
    else:
        for flag, value in (("--allow-paths", args.allow_paths), ("--allow-job-commands", args.allow_job_commands),
                            ("--allow-engine", args.allow_engine)):
            if value:
                raise UserError(f"{flag} goes with --job-file")
    given = parse_given(args.label, args.region, args.price_per_hour)
    instance_identity(given)     # a given value the machine contradicts is refused before anything runs
    cfg = config_from_args(args)
    if (job_file or args.host or args.hosts) and method_of(cfg):
        raise UserError("--precondition and --steady-state run the workloads' patterns on this machine: not with "
                        "--job-file or --host")
    if job_file and cfg.engines != ["fio"]:
        raise UserError("--job-file is a fio job file: only --engine fio runs it")
    hosts = hosts_from_args(args.host, args.hosts)
    if args.host_detect and not hosts:
        raise UserError("--host-detect goes with --host or --hosts")
    doc = execute_fleet(cfg, args.tier, hosts, job_file, args.host_detect, machine_given=given) if hosts \
        else execute(cfg, args.tier, json_out=args.json, job_file=job_file, machine_given=given, no_live=args.no_live)
    return report(doc, args.json, Store(cfg.results).root, args.wide)
