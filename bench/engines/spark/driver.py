"""The Spark driver program, run in a process of its own (`python -m bench.engines.spark.driver REQUEST RESULT`),
so that its JVM (pyspark's gateway) ends with it: the job (terasort or aggregate) as DataFrame operations, Spark's
stage metrics read from its REST API while the application still runs, and the bytes that appeared under the
workers' local dirs.

The sort: the input files' 100-byte records (RawRecords.read: Hadoop's FixedLengthInputFormat, one split per
`split_bytes`) as one binary column; `repartitionByRange(partitions)` on it (Spark's RangePartitioner: bounds from
a sample of `sample_per_partition` x partitions records, as TeraSort's partitioner samples its input); then
`sortWithinPartitions` and RawRecords.write, one raw output file per partition. The ordering is the whole record's
bytes, unsigned: its first 10 bytes are the key, so this is the key order (ties, which valsort allows in any
order, broken by the rest of the record). Everything runs in the JVM; no Python code touches a record."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback

EXECUTORS_TIMEOUT_S = 120.0
POLL_S = 0.25


def dir_bytes(root: str) -> dict:
    """Bytes of the files under `root` by kind: shuffle_data, shuffle_index, spill (Spark's temp_shuffle_* and
    temp_local_* files, live while a task spills or writes its map output), other."""
    out = {"shuffle_data": 0, "shuffle_index": 0, "spill": 0, "other": 0}
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                size = os.path.getsize(os.path.join(folder, name))
            except OSError:          # deleted between listing and stat: Spark removes spills as it merges
                continue
            if name.startswith("shuffle_") and name.endswith(".data"):
                out["shuffle_data"] += size
            elif name.startswith("shuffle_") and name.endswith(".index"):
                out["shuffle_index"] += size
            elif name.startswith(("temp_shuffle_", "temp_local_")):
                out["spill"] += size
            else:
                out["other"] += size
    return out


class DirPoller:
    """The peak total bytes under each directory, and of its shuffle data files, sampled every POLL_S in a thread."""

    def __init__(self, dirs: list):
        self.dirs, self.peak = list(dirs), {d: 0 for d in dirs}
        self.peak_shuffle = {d: 0 for d in dirs}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while True:
            for d in self.dirs:
                now = dir_bytes(d)
                self.peak[d] = max(self.peak[d], sum(now.values()))
                self.peak_shuffle[d] = max(self.peak_shuffle[d], now["shuffle_data"])
            if self._stop.wait(POLL_S):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


def group_cpu_s(pgids) -> float:
    """CPU seconds (user + system) of the live processes in these process groups (the cluster's JVMs)."""
    import psutil
    total = 0.0
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) in pgids:
                t = proc.cpu_times()
                total += t.user + t.system
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def session(req: dict):
    from pyspark.sql import SparkSession

    conf = {
        "spark.app.name": "tierbench-terasort",
        "spark.ui.port": str(req["ui_port"]), "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": req.get("driver_host", "127.0.0.1"),
        "spark.driver.bindAddress": req.get("driver_host", "127.0.0.1"),
        "spark.driver.memory": req["driver_memory"], "spark.executor.memory": req["executor_memory"],
        "spark.executor.cores": "1", "spark.cores.max": str(req["workers"]),
        "spark.local.dir": req["driver_local_dir"],
        "spark.jars": req["jar"],
        # byte-comparable I/O: nothing compressed, no adaptive re-planning, a fixed number of partitions
        "spark.shuffle.compress": "false", "spark.shuffle.spill.compress": "false", "spark.rdd.compress": "false",
        "spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": str(req["partitions"]),
        # shuffle files stay until the application ends (not removed when the driver's GC collects the job's
        # DataFrame), so that what appeared under the local dirs can be read after the job, while the app runs
        "spark.cleaner.referenceTracking": "false",
    }
    if "sample_per_partition" in req:
        conf["spark.sql.execution.rangeExchange.sampleSizePerPartition"] = str(req["sample_per_partition"])
    if "split_bytes" in req:
        conf["spark.hadoop.mapreduce.input.fileinputformat.split.maxsize"] = str(req["split_bytes"])
        conf["spark.hadoop.mapreduce.input.fileinputformat.split.minsize"] = "1"
    builder = SparkSession.builder.master(req["master"])
    for key, value in {**conf, **req.get("conf", {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def wait_executors(spark, count: int) -> None:
    tracker = spark.sparkContext._jsc.sc().statusTracker()
    deadline = time.monotonic() + EXECUTORS_TIMEOUT_S
    while len(tracker.getExecutorInfos()) < count + 1:          # the driver counts as one
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(tracker.getExecutorInfos()) - 1} of {count} executors registered after "
                               f"{EXECUTORS_TIMEOUT_S:.0f} s")
        time.sleep(0.2)


def terasort(spark, req: dict) -> dict:
    """The sort (see the module's docstring); {"counts": records written per output partition}."""
    from pyspark.sql import DataFrame

    helper = spark.sparkContext._jvm.tierbench.RawRecords
    records = DataFrame(helper.read(spark._jsparkSession, req["input_glob"], 100), spark)
    ordered = records.repartitionByRange(req["partitions"], "record").sortWithinPartitions("record")
    return {"counts": [int(c) for c in helper.write(ordered._jdf, req["output_dir"], bytes.fromhex(req["meta_header"]),
                                                    req["bytes_per_checksum"])]}


def aggregate(spark, req: dict) -> dict:
    """Word count: the input Parquet files grouped by word (count, sum of value), written as Parquet; Spark's
    hash aggregation falls back to sorting and spills when its execution memory runs out."""
    from pyspark.sql import functions as F

    (spark.read.parquet(req["input_glob"]).groupBy("word")
     .agg(F.count(F.lit(1)).alias("count"), F.sum("value").alias("total"))
     .write.option("compression", "none").parquet(req["output_dir"]))
    return {}


JOBS = {"terasort": terasort, "aggregate": aggregate}


EXECUTOR_FIELDS = ("id", "hostPort", "isActive", "removeReason", "totalCores", "totalTasks", "failedTasks",
                   "totalDuration", "totalShuffleRead", "totalShuffleWrite", "totalInputBytes")


def run(req: dict) -> dict:
    from py4j.protocol import Py4JError

    from bench.engines.spark.stages import read_json, read_stages, rest_deadline_s

    spark = session(req)
    result = None
    try:
        spark.sparkContext.setLogLevel("WARN")
        wait_executors(spark, req["workers"])
        with DirPoller(req["local_dirs"]) as poller:
            t0 = time.monotonic()
            out = JOBS[req["job"]](spark, req)
            seconds = time.monotonic() - t0
        app = spark.sparkContext.applicationId
        ui = f"http://{req.get('driver_host', '127.0.0.1')}:{req['ui_port']}"
        deadline = rest_deadline_s(seconds)
        stages = read_stages(ui, app, deadline)            # while the application runs: its UI is live
        # every executor the application had, the lost ones too (isActive false, with Spark's removeReason)
        executors = read_json(f"{ui}/api/v1/applications/{app}/allexecutors", deadline)
        final = {d: dir_bytes(d) for d in req["local_dirs"]}
        cpu = group_cpu_s(set(req.get("pgids", []))) if req.get("pgids") else None
        result = {"app_id": app, "seconds": seconds, **out, "stages": stages,
                  "executors": [{k: e.get(k) for k in EXECUTOR_FIELDS} for e in executors],
                  "local_dirs": {d: {**final[d], "peak": max(poller.peak[d], sum(final[d].values())),
                                     "peak_shuffle_data": max(poller.peak_shuffle[d], final[d]["shuffle_data"])}
                                 for d in req["local_dirs"]},
                  "cluster_cpu_s": cpu, "error": None}
        return result
    finally:
        try:
            spark.stop()
        except (Py4JError, OSError) as e:   # a finished job's result stands; the failed cleanup is said
            if result is None:
                raise
            result["cleanup"] = f"spark.stop(): {type(e).__name__}: {str(e).strip()[:200]}"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        req = json.load(f)
    try:
        result = run(req)
    except Exception as e:   # the driver's top level: the case fails with this reason, the trace kept in the log
        traceback.print_exc()
        result = {"error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"}
    with open(argv[1] + ".part", "w") as f:
        json.dump(result, f)
    os.replace(argv[1] + ".part", argv[1])
    return 0 if result.get("error") is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
