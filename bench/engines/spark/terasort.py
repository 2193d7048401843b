"""TeraSort on Spark, one case: the same teragen input and valsort validation as the replay
(workloads/terasort.py's TeraSortJob), with the sort itself run by a Spark standalone cluster.

  teragen   (data tier) TeraSortJob.teragen: gensort records as HDFS-like block files with .meta sidecars
  sample    (data tier) Spark's RangePartitioner reading the input for its bounds
  map       (temp tier) input splits read, range-partitioned, shuffle files written in the workers' local dirs
  reduce    (temp tier) shuffle read, sorted within each partition, one raw output file per partition (data tier)
  validate  (data tier) TeraSortJob.validate: order within and across files, record count, valsort checksum
The cluster (bench/engines/spark/cluster.py) is started for the case with each worker's local dirs on the temp
tier, and stopped at its end (also on failure or Ctrl-C). With `spark_master` an existing cluster runs the sort;
its workers' local dirs are its own, so where its temp data went is recorded as not verified.

Where the temp data went is checked, not assumed: each worker's local dir is on the temp tier's file system,
the shuffle data files under them hold at least the shuffle bytes Spark reports writing, and no Spark scratch
folder with shuffle files appeared in the system's temp folder; otherwise the case fails (CaseError)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import psutil

from bench.core.errors import CaseError
from bench.core.pagecache import drop_cache
from bench.engines.spark import helper, stages
from bench.engines.spark.cluster import StandaloneCluster, free_port, group_processes
from workloads._hdfs_traffic import BackgroundReaders
from workloads._jobio import check_free_space, meta_header
from workloads.terasort import RECORD_BYTES, TeraSortJob, TeraSortParams, space_needed

EXECUTOR_MEMORY = "512m"
DRIVER_MEMORY = "512m"
WORKER_MEMORY = "1g"
SHUFFLE_FRAMING = 1.3      # shuffle bytes per input byte, at most: an UnsafeRow of one binary(100) column is
                           # 120 bytes (null bits 8, offset and length 8, the value padded to 104), plus 4 bytes of
                           # length prefix: 124 per 100-byte record; spills are on top (counted as they happen)
DRIVER_TIMEOUT_S = 3600.0
SHUFFLE_FOUND_SHARE = 0.99  # the shuffle data files must hold at least this share of the shuffle bytes written


def _scratch_dirs() -> set:
    """Spark scratch folders in the system's temp folder (where Spark puts them when no local dir is set)."""
    root = tempfile.gettempdir()
    try:
        return {os.path.join(root, n) for n in os.listdir(root) if re.match(r"(blockmgr|spark)-", n)}
    except OSError:
        return set()


def _has_shuffle_files(folder: str) -> bool:
    for _, _, files in os.walk(folder):
        if any(f.startswith(("shuffle_", "temp_shuffle_", "temp_local_")) for f in files):
            return True
    return False


def _disk(devices: dict) -> dict:
    counters = psutil.disk_io_counters(perdisk=True) or {}
    return {role: counters.get(dev) for role, dev in devices.items() if dev}


def _drive(req: dict, folder: Path, timeout_s: float) -> tuple:
    """Run the driver program in its own process group; (its result, CPU seconds of the driver and its JVM)."""
    req_path, res_path = folder / "driver-request.json", folder / "driver-result.json"
    req_path.write_text(json.dumps(req, indent=1))
    log = folder / "driver.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bench.engines.spark.driver", str(req_path), str(res_path)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    cpu0 = _children_cpu()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        raise CaseError(f"spark driver: no result after {timeout_s:.0f} s (log: {folder.name}/driver.log)") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        for p in group_processes({proc.pid}):      # the gateway JVM ends with its Python; make sure
            p.kill()
    driver_cpu = _children_cpu() - cpu0
    if not res_path.exists():
        raise CaseError(f"spark driver exited with status {proc.returncode} and no result "
                        f"(log: {folder.name}/driver.log)")
    result = json.loads(res_path.read_text())
    if result.get("error"):
        raise CaseError(f"spark driver: {result['error']} (log: {folder.name}/driver.log)")
    return result, driver_cpu


def _children_cpu() -> float:
    import resource
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def _placement(result: dict, temp_dir: str, local: bool) -> dict:
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
    found = sum(v["shuffle_data"] for v in dirs.values())
    if shuffle_written <= 0:
        raise CaseError("spark: the sort wrote no shuffle data (Spark reports 0 shuffle bytes written)")
    if found < SHUFFLE_FOUND_SHARE * shuffle_written:
        raise CaseError(f"spark: Spark reports {shuffle_written} shuffle bytes written, but only {found} appeared "
                        f"under the workers' local dirs on the temp tier: the temp data went elsewhere")
    return {"verified": True, "shuffle_write_bytes": shuffle_written, "shuffle_data_bytes_found": found,
            "workers": [{"local_dir": os.path.basename(d), **v} for d, v in sorted(dirs.items())]}


def run(p: TeraSortParams, ctx: dict) -> dict:
    home, jar = helper.require(), helper.helper_jar()
    data_bytes, _ = space_needed(p)
    temp_bytes = int(p.records * RECORD_BYTES * SHUFFLE_FRAMING)
    needs = {ctx["dirs"]["data"]: data_bytes}
    needs[ctx["dirs"]["temp"]] = needs.get(ctx["dirs"]["temp"], 0) + temp_bytes
    check_free_space(needs, f"terasort on spark of {p.records} records ({data_bytes} bytes of input and output, "
                            f"about {temp_bytes} bytes of shuffle files)")
    workers = max(1, int(ctx.get("workers") or 1))
    external = ctx.get("spark_master")
    folder = Path(ctx["raw_dir"]) / f"{ctx['stem']}-spark"      # logs: daemons, executors, driver
    folder.mkdir(parents=True, exist_ok=True)
    cpu0 = _self_cpu()
    job = TeraSortJob(p, ctx)
    job.teragen()
    os.mkdir(job.output_dir)
    local_root = os.path.join(ctx["dirs"]["temp"], "spark-local")
    os.mkdir(local_root)
    driver_local = os.path.join(local_root, "driver")
    os.mkdir(driver_local)
    cluster = None if external else StandaloneCluster(home, workers, local_root, folder, WORKER_MEMORY)
    traffic_paths = job.other_hdfs_data(p.hdfs_read_bytes or p.records * RECORD_BYTES) if p.hdfs_readers else None
    scratch0 = _scratch_dirs()
    with cluster if cluster is not None else nullcontext():
        req = {"master": external or cluster.url, "ui_port": free_port(), "jar": str(jar), "workers": workers,
               "input_glob": os.path.join(job.input_dir, "part-m-[0-9][0-9][0-9][0-9][0-9]"),
               "output_dir": job.output_dir, "partitions": p.partitions,
               "meta_header": meta_header(p.bytes_per_checksum).hex(), "bytes_per_checksum": p.bytes_per_checksum,
               "split_bytes": p.split_size or p.block_size, "sample_per_partition": -(-p.sample_size // p.partitions),
               "driver_memory": DRIVER_MEMORY, "executor_memory": EXECUTOR_MEMORY, "driver_local_dir": driver_local,
               "local_dirs": cluster.local_dirs if cluster else [], "pgids": sorted(cluster.pgids) if cluster else []}
        disk0, t0 = _disk(ctx.get("devices") or {}), time.monotonic()
        readers = (BackgroundReaders(traffic_paths, p.hdfs_readers, job.cache, p.hdfs_read_mbps * 10 ** 6)
                   if traffic_paths else nullcontext())
        with readers as traffic:
            result, driver_cpu = _drive(req, folder, DRIVER_TIMEOUT_S)
        disk1, spark_wall = _disk(ctx.get("devices") or {}), time.monotonic() - t0
    stray = [d for d in _scratch_dirs() - scratch0 if _has_shuffle_files(d)]
    if stray:
        raise CaseError(f"spark: shuffle files appeared outside the temp tier, in {', '.join(sorted(stray))}")
    placement = _placement(result, ctx["dirs"]["temp"], cluster is not None)
    counts = result["counts"]
    if len(counts) != p.partitions:
        raise CaseError(f"spark: {len(counts)} output partitions, {p.partitions} asked for")
    job.outputs = [os.path.join(job.output_dir, f"part-r-{i:05d}") for i in range(p.partitions)]
    if not job.cache:
        drop_cache(job.outputs)          # validation reads the output from the device, as the replay's does
    spark_phases = stages.phases(result["stages"], ctx["tiers"], sum(counts) * RECORD_BYTES)
    validated = job.validate()
    phases = [r for r in job.log.records if r["name"] != "validate"] + spark_phases + [job.log.get("validate")]
    by = {r["name"]: r for r in spark_phases}
    input_bytes = p.records * RECORD_BYTES
    metrics = {"records_count": p.records, "input_bytes": input_bytes, "output_bytes": sum(counts) * RECORD_BYTES,
               "partitions_count": p.partitions, "map_tasks_count": by["map"]["tasks"], "sort_s": result["sort_s"],
               "sorted_bytes_per_s": input_bytes / result["sort_s"],
               "duplicate_keys_count": validated["duplicate_keys"],
               "shuffle_write_bytes": sum(r["shuffle_write_bytes"] for r in spark_phases),
               "shuffle_read_bytes": sum(r["shuffle_read_bytes"] for r in spark_phases),
               "spill_disk_bytes": sum(r["spill_disk_bytes"] for r in spark_phases),
               "spill_memory_bytes": sum(r["spill_memory_bytes"] for r in spark_phases),
               "executor_cpu_s": sum(r["cpu_s"] for r in spark_phases), "driver_cpu_s": driver_cpu,
               "spark_wall_s": spark_wall}
    if placement.get("verified"):
        metrics["temp_bytes"] = placement["shuffle_data_bytes_found"]
        metrics["local_dir_peak_bytes"] = sum(w["peak"] for w in placement["workers"])
    if result.get("cluster_cpu_s") is not None:
        metrics["cluster_cpu_s"] = result["cluster_cpu_s"]
    for role in ("temp", "data"):
        a, b = disk0.get(role), disk1.get(role)
        if a is not None and b is not None:
            metrics[f"{role}_device_read_bytes"] = b.read_bytes - a.read_bytes
            metrics[f"{role}_device_write_bytes"] = b.write_bytes - a.write_bytes
    if traffic is not None:
        metrics["hdfs_read_bytes"] = traffic.bytes
        metrics["hdfs_read_ops_count"] = traffic.ops
        if traffic.seconds > 0:
            metrics["hdfs_read_bytes_per_s"] = traffic.bytes / traffic.seconds
    import pyspark
    # The case's CPU: this process (teragen, validate), the driver and its JVM, and the cluster's JVMs
    # (executors and daemons, read while they ran); RUSAGE would miss executors the worker never reaped.
    cpu = _self_cpu() - cpu0 + driver_cpu + (result.get("cluster_cpu_s") or 0.0)
    spark_doc = {"master": "external " + external if external else "standalone on 127.0.0.1", "workers": workers,
                 "app_id": result["app_id"], "executors": result["executors"], "placement": placement,
                 "version": pyspark.__version__, "logs": folder.name}
    (folder / "stages.json").write_text(json.dumps(result["stages"], indent=1))
    return {"phases": phases, "metrics": metrics, "threads": workers, "cpu_s": cpu, "spark": spark_doc,
            "implementation": f"spark-{pyspark.__version__}[dataframe repartitionByRange+sortWithinPartitions, "
                              f"{workers} worker(s) x 1 core]",
            "raw": [f"{folder.name}/{n}" for n in sorted(os.listdir(folder))]}


def _self_cpu() -> float:
    import resource
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
