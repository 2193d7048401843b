"""One Spark case's machinery, shared by its jobs (terasort.py, aggregate.py): the cluster started for the case
(or an existing one), the driver program run in its own process group, the device counters around it, the
cluster's and driver's CPU, and where the temp data went — checked, not assumed: each worker's local dir is on the
temp tier's file system, the shuffle data files under them hold at least the shuffle bytes Spark reports writing,
and no Spark scratch folder with shuffle files appeared in the system's temp folder; otherwise CaseError."""
from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import psutil

from bench.core.errors import CaseError
from bench.engines.spark import helper, temp_trace
from bench.engines.spark.cluster import StandaloneCluster, free_port, group_processes
from bench.engines.spark.node_memory import CacheRoom
from bench.engines.spark.stages import disturbed

EXECUTOR_MEMORY_MB = 512
DRIVER_MEMORY = "512m"
WORKER_MEMORY = "1g"
DRIVER_TIMEOUT_S = 3600.0
SHUFFLE_FOUND_SHARE = 0.99  # the shuffle data files must hold at least this share of the shuffle bytes written
# A Spark node's container per worker: the executor's heap and the memory overhead Spark asks YARN for on top of
# it (spark.executor.memoryOverhead: max(384 MiB, 10% of the executor's memory), Spark's configuration docs), and
# the standalone worker daemon's own heap (cluster.DAEMON_MEMORY, 256 MB), which a YARN NodeManager keeps outside
EXECUTOR_OVERHEAD_MB = 384
WORKER_DAEMON_MB = 256


def node_container_mb(page_cache_mb: int, workers: int) -> int:
    """The memory limit (MB) of the container a case's Spark workers and executors run in: each worker's JVMs
    (EXECUTOR_MEMORY_MB + EXECUTOR_OVERHEAD_MB + WORKER_DAEMON_MB) and `page_cache_mb` for the node's page cache.
    The JVMs use less than their allotments; node_memory.CacheRoom keeps what they leave from the page cache."""
    return workers * (EXECUTOR_MEMORY_MB + EXECUTOR_OVERHEAD_MB + WORKER_DAEMON_MB) + page_cache_mb


def self_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def children_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def scratch_dirs() -> set:
    """Spark scratch folders in the system's temp folder (where Spark puts them when no local dir is set)."""
    root = tempfile.gettempdir()
    try:
        return {os.path.join(root, n) for n in os.listdir(root) if re.match(r"(blockmgr|spark)-", n)}
    except OSError:
        return set()


def has_shuffle_files(folder: str) -> bool:
    for _, _, files in os.walk(folder):
        if any(f.startswith(("shuffle_", "temp_shuffle_", "temp_local_")) for f in files):
            return True
    return False


def disk(devices: dict) -> dict:
    counters = psutil.disk_io_counters(perdisk=True) or {}
    return {role: counters.get(dev) for role, dev in devices.items() if dev}


def drive(req: dict, folder: Path, timeout_s: float) -> tuple:
    """Run the driver program in its own process group; (its result, CPU seconds of the driver and its JVM)."""
    req_path, res_path = folder / "driver-request.json", folder / "driver-result.json"
    req_path.write_text(json.dumps(req, indent=1))
    with open(folder / "driver.log", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bench.engines.spark.driver", str(req_path), str(res_path)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    cpu0 = children_cpu()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        raise CaseError(f"spark driver: no result after {timeout_s:.0f} s (log: {folder.name}/driver.log)") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        for p in group_processes({proc.pid}):      # the gateway JVM ends with its Python; make sure
            try:
                p.kill()
            except psutil.NoSuchProcess:        # it ended between the listing and the kill: what we wanted
                pass
    driver_cpu = children_cpu() - cpu0
    if not res_path.exists():
        raise CaseError(f"spark driver exited with status {proc.returncode} and no result "
                        f"(log: {folder.name}/driver.log)")
    result = json.loads(res_path.read_text())
    if result.get("error"):
        raise CaseError(f"spark driver: {result['error']} (log: {folder.name}/driver.log)")
    return result, driver_cpu


def placement(result: dict, temp_dir: str, local: bool) -> dict:
    """Where the temp data went: per worker local dir its bytes by kind; CaseError when it did not land there."""
    shuffle_written = sum(s.get("shuffleWriteBytes") or 0 for s in result["stages"] if s.get("status") == "COMPLETE")
    dirs = result.get("local_dirs") or {}
    if not local:
        return {"verified": False, "reason": "an existing cluster: its workers' local dirs are its own",
                "shuffle_write_bytes": shuffle_written}
    temp_dev = os.stat(temp_dir).st_dev
    for d in dirs:
        if os.stat(d).st_dev != temp_dev:
            raise CaseError(f"spark: worker local dir {d} is not on the temp tier's file system")
    found = sum(max(v["shuffle_data"], v.get("peak_shuffle_data", 0)) for v in dirs.values())
    if shuffle_written <= 0:
        raise CaseError("spark: the job wrote no shuffle data (Spark reports 0 shuffle bytes written)")
    if found < SHUFFLE_FOUND_SHARE * shuffle_written:
        raise CaseError(f"spark: Spark reports {shuffle_written} shuffle bytes written, but only {found} appeared "
                        f"under the workers' local dirs on the temp tier: the temp data went elsewhere")
    return {"verified": True, "shuffle_write_bytes": shuffle_written, "shuffle_data_bytes_found": found,
            "workers": [{"local_dir": os.path.basename(d), **v} for d, v in sorted(dirs.items())]}


@dataclass
class SparkRun:
    result: dict
    driver_cpu_s: float
    placement: dict
    wall_s: float
    disk0: dict
    disk1: dict
    workers: int
    external: Optional[str]
    folder: Path
    local_dirs: list = None      # the workers' local dirs (a cluster started here)
    traced: bool = False         # the workers ran under strace (temp_trace)
    container: Optional[str] = None   # the workers' memory cgroup
    cache_room: Optional[dict] = None  # how its page cache room was held (node_memory.CacheRoom.record)


def run_job(ctx: dict, job: dict, during=None, executor_conf: Optional[dict] = None) -> SparkRun:
    """Start the cluster (unless ctx["spark_master"]), run the driver program for `job` (the request's job part),
    with the context manager `during` (e.g. HDFS readers) around the driver, stop the cluster, check placement."""
    home, jar = helper.require(), helper.helper_jar()
    workers = max(1, int(ctx.get("workers") or 1))
    external = ctx.get("spark_master")
    folder = Path(ctx["raw_dir"]) / f"{ctx['stem']}-spark"      # logs: daemons, executors, driver
    folder.mkdir(parents=True, exist_ok=True)
    local_root = os.path.join(ctx["dirs"]["temp"], "spark-local")
    os.mkdir(local_root)
    driver_local = os.path.join(local_root, "driver")
    os.mkdir(driver_local)
    # every JVM's java.io.tmpdir in the case's directory (Spark makes scratch folders there, spark-*, that a JVM
    # killed before its shutdown hooks would leave behind in the system's temp folder), and no perf-data file
    # (/tmp/hsperfdata_USER/PID, which a killed JVM leaves too)
    java_tmp = os.path.join(local_root, "java-tmp")
    os.makedirs(java_tmp, exist_ok=True)
    tmp_opt = f"-Djava.io.tmpdir={java_tmp} -XX:-UsePerfData"
    # in a node's container the executors' heaps are touched at their start, as a loaded executor's heap is in
    # use: the container's page cache room is then what the JVMs leave (node_memory)
    heap_opt = f" -Xms{EXECUTOR_MEMORY_MB}m -XX:+AlwaysPreTouch" if ctx.get("memory_cgroup") else ""
    executor_conf = {"spark.driver.extraJavaOptions": tmp_opt, "spark.executor.extraJavaOptions": tmp_opt + heap_opt,
                     **(executor_conf or {})}
    traced, container = bool(ctx.get("trace")), ctx.get("memory_cgroup")
    if external and (traced or container):
        raise CaseError("spark: an existing cluster's workers cannot be traced or put in a container by tierbench")
    cluster = None if external else StandaloneCluster(home, workers, local_root, folder, WORKER_MEMORY,
                                                      worker_prefix=temp_trace.worker_prefix(folder, traced,
                                                                                             container))
    scratch0 = scratch_dirs()
    cleanup = []
    with _stopping(cluster, cleanup):
        req = {"master": external or cluster.url, "ui_port": free_port(), "jar": str(jar), "workers": workers,
               "driver_memory": DRIVER_MEMORY, "executor_memory": f"{EXECUTOR_MEMORY_MB}m",
               "driver_local_dir": driver_local, "conf": executor_conf,
               "local_dirs": cluster.local_dirs if cluster else [], "pgids": sorted(cluster.pgids) if cluster else [],
               **job}
        devices = ctx.get("devices") or {}
        disk0, t0 = disk(devices), time.monotonic()
        room = _cache_room(container, ctx.get("memory_mb"), workers, cluster)
        with room or nullcontext(), during if during is not None else nullcontext():
            result, driver_cpu = drive(req, folder, DRIVER_TIMEOUT_S)
        disk1, wall = disk(devices), time.monotonic() - t0
        lost = cluster.lost() if cluster is not None else []
    (folder / "stages.json").write_text(json.dumps(result["stages"], indent=1))
    why = "; ".join(filter(None, [disturbed(result["stages"], result.get("executors") or []), *lost]))
    if why:
        raise CaseError(f"spark: the job was disturbed: {why} (its time is not the tiers'; logs: {folder.name}/)")
    stray = [d for d in scratch_dirs() - scratch0 if has_shuffle_files(d)]
    if stray:
        raise CaseError(f"spark: shuffle files appeared outside the temp tier, in {', '.join(sorted(stray))}")
    where = placement(result, ctx["dirs"]["temp"], cluster is not None)
    if result.get("cleanup"):
        cleanup.insert(0, result["cleanup"])
    if cleanup:
        result["cleanup"] = "; ".join(cleanup)
    return SparkRun(result, driver_cpu, where, wall, disk0, disk1, workers, external, folder,
                    cluster.local_dirs if cluster else [], traced, container, room.record() if room else None)


def _cache_room(container: Optional[str], memory_mb: Optional[int], workers: int,
                cluster: Optional[StandaloneCluster]) -> Optional[CacheRoom]:
    """The node container's page cache held at its room (node_memory): the case's limit less the JVMs'
    allotments (node_container_mb); None without a container."""
    if not container or not memory_mb or cluster is None:
        return None
    room_mb = memory_mb - node_container_mb(0, workers)
    if room_mb < 0:
        raise CaseError(f"spark: a {memory_mb} MB container is smaller than {workers} worker(s)' JVMs "
                        f"({node_container_mb(0, workers)} MB)")
    return CacheRoom(container, room_mb * 1024 ** 2, memory_mb * 1024 ** 2, cluster.local_dirs)


@contextmanager
def _stopping(cluster: Optional[StandaloneCluster], problems: list):
    """Start `cluster` (None: an existing one, nothing to do) and stop it after the block. A cluster that fails
    to stop cleanly after the job finished (a process that survived SIGKILL) is a cleanup problem, added to
    `problems` and recorded with the case, not a failed measurement; when the block itself failed, that error
    stands and the cleanup's is added to it."""
    if cluster is None:
        yield
        return
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    try:
        yield
    except BaseException:
        try:
            cluster.stop()
        except CaseError as e:
            problems.append(str(e))
        raise
    try:
        cluster.stop()
    except CaseError as e:
        problems.append(str(e))


def common_metrics(run: SparkRun, phases: list) -> dict:
    """The figures every Spark case reports: Spark's shuffle, spill and CPU, the temp data found, the devices."""
    m = {"shuffle_write_bytes": sum(r["shuffle_write_bytes"] for r in phases),
         "shuffle_read_bytes": sum(r["shuffle_read_bytes"] for r in phases),
         "spill_disk_bytes": sum(r["spill_disk_bytes"] for r in phases),
         "spill_memory_bytes": sum(r["spill_memory_bytes"] for r in phases),
         "executor_cpu_s": sum(r["cpu_s"] for r in phases), "driver_cpu_s": run.driver_cpu_s,
         "spark_wall_s": run.wall_s}
    if run.placement.get("verified"):
        m["temp_bytes"] = run.placement["shuffle_data_bytes_found"]
        m["local_dir_peak_bytes"] = sum(w["peak"] for w in run.placement["workers"])
    if run.result.get("cluster_cpu_s") is not None:
        m["cluster_cpu_s"] = run.result["cluster_cpu_s"]
    for role in ("temp", "data"):
        a, b = run.disk0.get(role), run.disk1.get(role)
        if a is not None and b is not None:
            m[f"{role}_device_read_bytes"] = b.read_bytes - a.read_bytes
            m[f"{role}_device_write_bytes"] = b.write_bytes - a.write_bytes
    return m


def case_record(run: SparkRun) -> dict:
    """The case's `spark` record (docs/spark.md)."""
    import pyspark
    usage = temp_trace.container_usage(run.container)
    if usage is not None and run.cache_room:
        usage["page_cache"] = run.cache_room
    return {"master": "external " + run.external if run.external else "standalone on 127.0.0.1",
            **({"container": usage} if usage is not None else {}), "workers": run.workers, "app_id": run.result["app_id"], "executors": run.result["executors"],
            "placement": run.placement, "version": pyspark.__version__, "logs": run.folder.name,
            **({"cleanup": run.result["cleanup"]} if run.result.get("cleanup") else {})}


def case_cpu(run: SparkRun, own_cpu_s: float) -> float:
    """The case's CPU: this process (`own_cpu_s`), the driver and its JVM, and the cluster's JVMs (executors and
    daemons, read while they ran); RUSAGE would miss executors the worker never reaped."""
    return own_cpu_s + run.driver_cpu_s + (run.result.get("cluster_cpu_s") or 0.0)


def engine_output(run: SparkRun, phases: list, metrics: dict, own_cpu_s: float, how: str) -> dict:
    """What a Spark job returns to the worker, as every job does: phases, metrics, threads, CPU, the `spark`
    record, the implementation (`how`: the job's Spark plan in a few words) and the raw files."""
    record = case_record(run)
    if run.traced:
        record["trace"] = temp_trace.collect(run.folder, run.local_dirs, metrics)
        t = record["trace"]["totals"]
        metrics["traced_read_bytes"], metrics["traced_write_bytes"] = t["bytes_read"], t["bytes_written"]
    return {"phases": phases, "metrics": metrics, "threads": run.workers, "cpu_s": case_cpu(run, own_cpu_s),
            "spark": record, "implementation": f"spark-{record['version']}[{how}, {run.workers} worker(s) x 1 core]",
            "raw": raw_files(run)}


def raw_files(run: SparkRun) -> list:
    return [f"{run.folder.name}/{n}" for n in sorted(os.listdir(run.folder))]
