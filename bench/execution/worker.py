"""The worker: runs one Case in a fresh process (`python -m bench.execution.worker SPEC.json RESULT.json`).

It joins the emulation's blkio group (so throttles apply to it and to fio, its child), makes a private
directory for the case on each tier it uses, runs the engine, and removes those directories at the end —
also on SIGTERM or Ctrl-C. Its result (phases, metrics, or the error) goes to RESULT.json.

It dies with the runner: the kernel sends it SIGTERM when its parent exits (PR_SET_PDEATHSIG), which stops fio
and removes its directories as Ctrl-C does. A tier root is never made here: only the case's own directory,
inside a root that must exist (os.mkdir); a root gone by the end of the case fails it ("tier root … vanished").
Success is checked, not assumed: the phases (bench.analysis.metrics.check_phases) and every metric
(bench.analysis.metrics.check_metrics) before the result is written.
"""
from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import stat
import sys
import time
import traceback
from pathlib import Path

import workloads
from bench.analysis.intervals import check_interval_sums, interval_figures
from bench.analysis.metrics import case_metrics, check_metrics, check_phases, demanded_iops_per_gb, latency_bins
from bench.analysis.verdict import bottleneck
from bench.core.errors import CaseError, TierbenchError
from bench.core.pattern import Pattern
from bench.engines.layout import lay_out_pattern
from bench.execution.rounds import run_method
from bench.execution.runqueue import RunQueueWait
from bench.store.runs import atomic_write_text
from bench.tiers import hdd_model
from bench.tiers.emulate import join_cgroup


def case_dir_name(run_id: str, case_id: int) -> str:
    return f"tierbench-{run_id}-c{case_id}"


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children (fio)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _threads(case: dict, pattern) -> int:
    if pattern is None:
        return case.get("workers") or 1
    if case["engine"] == "builtin":
        return max(p.numjobs * p.iodepth for p in pattern.phases)
    return max(p.numjobs for p in pattern.phases)


def _on_signal(signum, frame):
    # The first SIGINT/SIGTERM stops the case; later ones (Ctrl-C reaches the whole process group, then the
    # runner sends SIGTERM) must not interrupt the cleanup that the first one started.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


PR_SET_PDEATHSIG = 1   # prctl(2)


def die_with_parent(parent_pid) -> None:
    """Ask the kernel for SIGTERM when the runner exits (Linux; elsewhere nothing), and raise KeyboardInterrupt
    when it has already exited (then this process has been reparented)."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if parent_pid is not None and os.getppid() != parent_pid:
        raise KeyboardInterrupt("the runner exited before the case started")


def tier_root_check(roots: dict) -> None:
    """CaseError "tier root PATH vanished" when a tier root of the case is gone or replaced by another
    directory (roots: {path: (st_dev, st_ino) at the start})."""
    for root, ident in roots.items():
        try:
            st = os.stat(root)
        except FileNotFoundError:
            raise CaseError(f"tier root {root} vanished during the case") from None
        if (st.st_dev, st.st_ino) != ident:
            raise CaseError(f"tier root {root} vanished during the case (a different directory is there now)")


def _tier_dirs(spec: dict) -> dict:
    """({role: the case's directory on its tier}, {role: tier}); a raw device tier's "directory" is the device
    itself (bench.tiers.raw: the case makes nothing there)."""
    case = spec["case"]
    roles = {"data": case["tier"], "temp": case.get("temp_tier") or case["tier"]}
    return {role: spec["tiers"][tier]["path"] if spec["tiers"][tier].get("raw") else
            os.path.join(spec["tiers"][tier]["path"], case_dir_name(spec["run_id"], case["id"]))
            for role, tier in roles.items()}, roles


def _raw_device(spec: dict) -> str:
    """The raw block device the case runs on, or None (a directory tier)."""
    tier = spec["tiers"][spec["case"]["tier"]]
    return tier["path"] if tier.get("raw") else None


def _pattern_for(case: dict):
    workload = workloads.get(case["workload"])
    params = workloads.coerce_params(workload, case["params"])
    pattern = workload.build(params)
    if case.get("cache"):
        pattern = pattern.replace_phases(direct=False, cold=False)
    return pattern


def execute(spec: dict) -> dict:
    case = spec["case"]
    dirs, roles = _tier_dirs(spec)
    raw_dir = Path(spec["raw_dir"])
    stem = f"case{case['id']:03d}"
    capacity = spec["tiers"][case["tier"]].get("iops_capacity_bytes")
    roots = {}
    for d in dict.fromkeys(dirs.values()) if not _raw_device(spec) else ():
        root = os.path.dirname(d)
        try:
            st = os.stat(root)
        except FileNotFoundError:
            raise CaseError(f"tier root {root} vanished (it does not exist; tierbench never creates one)") from None
        roots[root] = (st.st_dev, st.st_ino)
    made = []
    shared = (spec.get("dataset") or {}).get("dir")    # the run's data for this case (bench.execution.datasets)
    if shared:
        dirs["data"] = shared
    try:
        for d in dict.fromkeys(dirs.values()) if not _raw_device(spec) else ():
            try:
                os.mkdir(d)      # only the case's directory, inside the existing root
            except FileNotFoundError:
                raise CaseError(f"tier root {os.path.dirname(d)} vanished before the case started") from None
            except FileExistsError:
                if d != shared:
                    raise
                if not stat.S_ISDIR(os.lstat(d).st_mode):     # a link or a file planted there: never followed
                    raise CaseError(f"{d} is not a directory (the run's dataset is one it made itself)") from None
                continue         # the run's dataset, laid out by an earlier case
            if d != shared:      # the run's dataset stays for its other cases (the runner removes it)
                made.append(d)
        dataset = _prepare_dataset(spec, dirs, roles) if shared else None
        try:
            with RunQueueWait(os.getpid()) as runqueue:
                out, pattern, cpu_s, engine_wall = _run_engine(spec, case, dirs, roles, raw_dir, stem)
        except Exception:
            tier_root_check(roots)   # a vanished root is the reason, not the engine's ENOENT that followed
            raise
        tier_root_check(roots)
        phases = out["phases"]
        check_phases(phases, pattern)
        threads = out.get("threads") or _threads(case, pattern)
        for p in phases:
            if p.get("cpu_s") is not None:
                p["bottleneck"] = bottleneck(p["cpu_s"], p["wall_s"], threads)
        metrics = case_metrics(phases, capacity)
        if out.get("spark"):     # Spark counts no operations: totals over the phases that did would mislead
            for key in ("ops_read", "ops_written", "iops", "read_iops", "write_iops", "iops_per_gb",
                        "read_bytes_per_s", "write_bytes_per_s"):
                metrics.pop(key, None)
        metrics.update(out.get("metrics", {}))
        _add_demanded(metrics, pattern)
        metrics["cpu_s"] = cpu_s
        metrics["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        check_metrics(metrics)
        extra = {key: out[key] for key in ("precondition", "steady_state") if out.get(key)}
        if "figures" in out:      # rounds (bench.execution.rounds): each round's checked against that round
            extra["intervals"] = out["figures"]
        elif "intervals" in out:
            extra["intervals"] = interval_figures(out["intervals"])
            check_interval_sums(extra["intervals"], metrics["ops_read"], metrics["ops_written"])
        return {**extra, "phases": _stored_phases(phases), "metrics": metrics, "latency_bins_ns": latency_bins(phases),
                "bottleneck": bottleneck(cpu_s, engine_wall, threads), "threads": threads, "engine_wall_s": engine_wall,
                "run_queue_wait_s": runqueue.wait_s, "run_queue_window_s": runqueue.window_s,
                "implementation": out.get("implementation"), "raw": out.get("raw", []), "error": None,
                **({"spark": out["spark"]} if out.get("spark") else {}),
                **({"replay": out["replay"]} if out.get("replay") else {}),
                **({"dataset": dataset} if dataset else {})}
    except BaseException:
        if shared:      # failed or stopped (also when the runner died): nothing half-written is read again
            shutil.rmtree(shared, ignore_errors=True)
        raise
    finally:
        for d in made:
            shutil.rmtree(d, ignore_errors=True)
        if shared and spec["dataset"]["last_use"]:      # no later case of this run reads it
            shutil.rmtree(shared, ignore_errors=True)


def _prepare_dataset(spec: dict, dirs: dict, roles: dict) -> dict:
    """Lay out the files of the case's data-role phases in the run's shared dataset directory where they are
    not there yet (bench.execution.datasets), before the case's engine runs; then read the counters of a
    modelled hdd drive, so that the case's drive figures cover what it measures and not the layout, on the
    first case as on the repeats. Returns {"dir", "laid_out", "drive_stats"}."""
    case = spec["case"]
    pattern = _pattern_for(case)
    data_only = Pattern(pattern.name, tuple(p for p in pattern.phases if p.role == "data"))
    laid_out = lay_out_pattern(data_only, {"data": dirs["data"]}, {"data": roles["data"]})
    stats = {}
    for name in dict.fromkeys(roles.values()):
        emulated = spec["tiers"][name].get("emulated")
        if (emulated or {}).get("daemon"):
            stats[name] = hdd_model.read_stats(emulated)
    return {"dir": os.path.basename(dirs["data"]), "laid_out": bool(laid_out), "drive_stats": stats}


def execute_fleet(spec: dict) -> dict:
    """A fio case on every host of the fleet at once (bench.engines.fio.fleet): each host's phases checked and
    turned into metrics as a local case's are; the fleet's from the hosts' records merged per phase
    (bench.engines.fio.records.fleet_records). A host without results fails alone, naming itself; the fleet
    fails while any host failed (no fleet figure from part of the fleet). Remote CPUs are not known here, so the
    bottleneck verdicts are `unknown`; fio's own CPU seconds stay in the phases."""
    from bench.engines.fio import fleet as fio_fleet
    from bench.engines.fio.records import fleet_records
    from bench.execution.hosts import host_capacity

    case = spec["case"]
    roles = {"data": case["tier"], "temp": case.get("temp_tier") or case["tier"]}
    hosts = [dict(h, dirs={role: h["tiers"][tier] for role, tier in roles.items()}) for h in spec["fleet"]["hosts"]]
    # IOPS per GB on a fleet: each host's from what `tiers detect` said on it (--host-detect); the fleet's over
    # the hosts' capacities summed, given only where every host's is known
    capacities = {h["name"]: host_capacity(h, case["tier"]) for h in hosts}
    fleet_capacity = sum(capacities.values()) if all(capacities.values()) else None
    stem = f"case{case['id']:03d}"
    if case["kind"] == "jobfile":
        from bench.engines.fio.engine import group_names, jobfile_records

        pattern, threads = None, spec["job_file"]["threads"]
        texts = {h["name"]: _jobfile_text(spec, h["dirs"]["data"]) for h in hosts}
        out = fio_fleet.run_texts(texts, hosts, Path(spec["raw_dir"]), stem, spec["timeout_s"],
                                  lambda report, h: jobfile_records(report, case["tier"], h["address"], h["port"]),
                                  interval_s=spec.get("interval_s"),
                                  phases_of=lambda report, h: group_names(report, h["address"], h["port"]))
    else:
        pattern = _pattern_for(case)
        threads = _threads(case, pattern)
        out = fio_fleet.run(pattern, hosts, roles, Path(spec["raw_dir"]), stem, spec["timeout_s"],
                            file_prefix=case_dir_name(spec["run_id"], case["id"]), interval_s=spec.get("interval_s"))
    results, measured = {}, {}
    for name, host in out["hosts"].items():
        if host["error"]:
            results[name] = {"error": host["error"]}
            continue
        try:
            check_phases(host["phases"], pattern)
            results[name] = _fleet_member(host["phases"], capacities.get(name), pattern, threads)
            if "intervals" in host:     # bench.engines.fio.fleet_logs: checked against the host's totals
                figures = interval_figures(host["intervals"])
                check_interval_sums(figures, results[name]["metrics"]["ops_read"],
                                    results[name]["metrics"]["ops_written"])
                results[name]["intervals"] = figures
            measured[name] = host["phases"]
        except CaseError as e:
            results[name] = {"error": f"host {name}: {e}"}
    failed = [results[name]["error"] for name in results if name not in measured]
    if failed:
        fleet = {"error": f"fleet incomplete ({len(failed)} of {len(results)} hosts failed): " + "; ".join(failed)}
    else:
        try:
            fleet = _fleet_member(fleet_records(measured), fleet_capacity, pattern, threads)
        except CaseError as e:
            fleet = {"error": f"fleet: {e}"}
    from bench.engines.fio.drain import unsure

    busy = unsure(out.get("drained") or {})
    return {"hosts": results, "fleet": fleet, "implementation": out.get("implementation"), "raw": out.get("raw", []),
            "threads": threads, "error": None if measured else "no host gave results: " + "; ".join(failed),
            **({"servers_unsure": busy} if busy else {})}


def _add_demanded(metrics: dict, pattern) -> None:
    """The IOPS per GB a pattern demands of its tier, where it can be said (bench.analysis.metrics)."""
    demanded = demanded_iops_per_gb(pattern, metrics) if pattern is not None else None
    if demanded is not None:
        metrics["demanded_iops_per_gb"] = demanded


def _stored_phases(phases: list) -> list:
    """The phases as stored: without their latency bins and percentiles (those go into the case's merged bins)."""
    return [{k: v for k, v in p.items() if not k.startswith(("bins_", "pct_", "lat_"))} for p in phases]


def _fleet_member(phases: list, capacity, pattern, threads: int) -> dict:
    check_phases(phases, pattern)
    metrics = case_metrics(phases, capacity)
    _add_demanded(metrics, pattern)
    check_metrics(metrics)
    return {"phases": _stored_phases(phases), "metrics": metrics, "latency_bins_ns": latency_bins(phases), "bottleneck": "unknown",
            "threads": threads, "error": None}


def _jobfile_text(spec: dict, directory: str) -> str:
    """The user's job file (spec["job_file"]: name, text, quick, allow_paths, roots) pointed at `directory`."""
    from bench.engines.fio.jobfile import point_at_tier, read_jobfile

    job = spec["job_file"]
    return point_at_tier(read_jobfile(job["name"], job["text"]), directory, job["roots"], quick=job["quick"],
                         allow_paths=job["allow_paths"])


def _live_sink(spec: dict):
    """The callback that appends interval figures (bench.analysis.intervals), as the engine reports them while it
    runs, to the case's live file (spec["live_path"], one JSON object a line), which the runner shows; None
    without one."""
    path = spec.get("live_path")
    if not path or not spec.get("interval_s"):
        return None

    def sink(figures: list) -> None:
        text = "".join(json.dumps(fig) + "\n" for fig in figures)
        with open(path, "a") as f:
            f.write(text)
    return sink


def _run_engine(spec: dict, case: dict, dirs: dict, roles: dict, raw_dir: Path, stem: str) -> tuple:
    """(engine output, pattern or None, CPU seconds, wall seconds) of the case's engine or job."""
    pattern = None
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    if case["engine"] == "spark":
        import importlib
        job = importlib.import_module(f"bench.engines.spark.{case['workload']}")    # terasort, aggregate
        workload = workloads.get(case["workload"])
        params = workloads.coerce_params(workload, case["params"])
        devices = {role: (spec["tiers"][tier].get("device") or "").rsplit("/", 1)[-1] or None
                   for role, tier in roles.items()}
        out = job.run(params, {"dirs": dirs, "tiers": roles, "workers": case.get("workers") or 1,
                                          "cache": case.get("cache", False), "raw_dir": raw_dir, "stem": stem,
                                          "devices": devices, "spark_master": spec.get("spark_master"),
                                          "memory_cgroup": spec.get("memory_cgroup"), "memory_mb": case.get("memory_mb"),
                                          "trace": spec.get("spark_trace")})
        # Spark's executors are not this process's children: the engine counts the whole cluster's CPU itself
        return out, pattern, out["cpu_s"], time.monotonic() - wall0
    if case["kind"] == "replay":
        from bench.engines.trace import replay

        out = replay.run(spec["replay"], dirs["data"], case["tier"], raw_dir, stem, spec["timeout_s"],
                         spec.get("memory_cgroup"))
    elif case["kind"] == "jobfile":
        from bench.engines.fio import engine

        sink = _live_sink(spec)
        out = engine.run_jobfile(_jobfile_text(spec, dirs["data"]), case["tier"], raw_dir, stem, spec["timeout_s"],
                                 interval_s=spec.get("interval_s"),
                                 on_interval=(lambda rows: sink(interval_figures(rows))) if sink else None)
        out["threads"] = spec["job_file"]["threads"]
    elif case["kind"] == "pattern":
        pattern = _pattern_for(case)
        if case["engine"] == "fio":
            from bench.engines.fio import engine
        else:
            from bench.engines import builtin as engine
        device = _raw_device(spec)
        if device and case["engine"] != "fio":     # refused before the run (bench.tiers.raw.check_raw_cases)
            raise CaseError(f"tier {case['tier']} is a raw device: the {case['engine']} engine cannot run on it")
        if spec.get("method"):
            out = run_method(spec["method"], pattern, engine, dirs, roles, raw_dir, stem, spec["timeout_s"],
                             spec.get("interval_s"), _live_sink(spec), device=device)
        else:
            sink = _live_sink(spec)
            out = engine.run(pattern, dirs, roles, raw_dir, stem, spec["timeout_s"], interval_s=spec.get("interval_s"),
                             on_interval=(lambda rows: sink(interval_figures(rows))) if sink else None,
                             **({"device": device} if device else {}))
    else:
        workload = workloads.get(case["workload"])
        params = workloads.coerce_params(workload, case["params"])
        out = workload.run(params, {"dirs": dirs, "tiers": roles, "workers": case.get("workers") or 1,
                                    "cache": case.get("cache", False), "raw_dir": raw_dir, "stem": stem})
    return out, pattern, cpu_seconds() - cpu0, time.monotonic() - wall0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec_path, result_path = argv
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    spec = json.loads(Path(spec_path).read_text())
    try:
        die_with_parent(spec.get("parent_pid"))
        join_cgroup(spec.get("cgroup"))
        # Spark: only its workers join it (bench.engines.spark.temp_trace); a replay: fio (bench.engines.trace.replay)
        if spec["case"]["engine"] != "spark" and spec["case"]["kind"] != "replay":
            join_cgroup(spec.get("memory_cgroup"))
        result = execute_fleet(spec) if spec.get("fleet") else execute(spec)
    except KeyboardInterrupt as e:
        result = {"error": f"interrupted ({e or 'Ctrl-C'})"}
    except (TierbenchError, OSError, ValueError) as e:
        result = {"error": f"{type(e).__name__}: {e}"}
    except Exception as e:  # the worker's top level: any crash fails this case only, with its trace kept
        result = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    write_result(Path(result_path), json.dumps(result, default=str) + "\n")
    return 0 if not result.get("error") else 1


RESULT_RESERVE_BYTES = 256 * 1024   # room the runner sets aside in raw/ for a case's result (a few KiB; json+
                                    # latency bins of several phases make the largest, well under this)


def reserve_name(result_name: str) -> str:
    """The file the runner fills with RESULT_RESERVE_BYTES before the case starts, beside its result."""
    return result_name + ".reserve"


def write_result(path: Path, text: str) -> None:
    """The case's result in raw/, atomically. When the store's disk filled up during the case (ENOSPC,
    EDQUOT), the result is written into the room the runner reserved (overwriting blocks already allocated
    needs no new ones) and renamed into place: the measured case reaches raw/, and a later read recovers it."""
    try:
        atomic_write_text(path, text)
    except OSError as e:
        reserve = path.with_name(reserve_name(path.name))
        data = text.encode()
        if e.errno not in (errno.ENOSPC, errno.EDQUOT) or not reserve.is_file() \
                or len(data) > reserve.stat().st_size:
            raise
        with open(reserve, "r+b") as f:
            f.write(data)
            f.truncate(len(data))
            f.flush()
            os.fsync(f.fileno())
        os.replace(reserve, path)


if __name__ == "__main__":
    raise SystemExit(main())
