"""TeraSort on Spark, one case: the same teragen input and valsort validation as the replay
(workloads/terasort.py's TeraSortJob), with the sort itself run by a Spark standalone cluster (case.py).

  teragen   (data tier) TeraSortJob.teragen: gensort records as HDFS-like block files with .meta sidecars
  sample    (data tier) Spark's RangePartitioner reading the input for its bounds
  map       (temp tier) input splits read, range-partitioned, shuffle files written in the workers' local dirs
  reduce    (temp tier) shuffle read, sorted within each partition, one raw output block (+ .meta) per partition
  validate  (data tier) TeraSortJob.validate: order within and across files, record count, valsort checksum
The sort itself is the driver's (driver.py, DataFrame operations in the JVM)."""
from __future__ import annotations

import os
from contextlib import nullcontext

from bench.core.errors import CaseError
from bench.core.pagecache import drop_cache
from bench.engines.spark import case, stages
from workloads._hdfs_traffic import BackgroundReaders
from workloads._jobio import check_free_space, meta_header
from workloads.terasort import RECORD_BYTES, TeraSortJob, TeraSortParams, space_needed

SHUFFLE_FRAMING = 1.3      # shuffle bytes per input byte, at most: an UnsafeRow of one binary(100) column is
                           # 120 bytes (null bits 8, offset and length 8, the value padded to 104), plus 4 bytes of
                           # length prefix: 124 per 100-byte record; spills are on top (counted as they happen)


def run(p: TeraSortParams, ctx: dict) -> dict:
    data_bytes, _ = space_needed(p)
    temp_bytes = int(p.records * RECORD_BYTES * SHUFFLE_FRAMING)
    needs = {ctx["dirs"]["data"]: data_bytes}
    needs[ctx["dirs"]["temp"]] = needs.get(ctx["dirs"]["temp"], 0) + temp_bytes
    check_free_space(needs, f"terasort on spark of {p.records} records ({data_bytes} bytes of input and output, "
                            f"about {temp_bytes} bytes of shuffle files)")
    cpu0 = case.self_cpu()
    job = TeraSortJob(p, ctx)
    job.teragen()
    os.mkdir(job.output_dir)
    traffic_paths = job.other_hdfs_data(p.hdfs_read_bytes or p.records * RECORD_BYTES) if p.hdfs_readers else None
    readers = (BackgroundReaders(traffic_paths, p.hdfs_readers, job.cache, p.hdfs_read_mbps * 10 ** 6)
               if traffic_paths else nullcontext())
    request = {"job": "terasort", "input_glob": os.path.join(job.input_dir, "part-m-[0-9][0-9][0-9][0-9][0-9]"),
               "output_dir": job.output_dir, "partitions": p.partitions,
               "meta_header": meta_header(p.bytes_per_checksum).hex(), "bytes_per_checksum": p.bytes_per_checksum,
               "split_bytes": p.split_size or p.block_size, "sample_per_partition": -(-p.sample_size // p.partitions)}
    run_ = case.run_job(ctx, request, during=readers)
    traffic = readers if traffic_paths else None
    counts = run_.result["counts"]
    if len(counts) != p.partitions:
        raise CaseError(f"spark: {len(counts)} output partitions, {p.partitions} asked for")
    job.outputs = [os.path.join(job.output_dir, f"part-r-{i:05d}") for i in range(p.partitions)]
    if not job.cache:
        drop_cache(job.outputs)          # validation reads the output from the device, as the replay's does
    spark_phases = stages.phases(run_.result["stages"], ctx["tiers"], sum(counts) * RECORD_BYTES)
    validated = job.validate()
    phases = [r for r in job.log.records if r["name"] != "validate"] + spark_phases + [job.log.get("validate")]
    by = {r["name"]: r for r in spark_phases}
    input_bytes = p.records * RECORD_BYTES
    sort_s = run_.result["seconds"]
    metrics = {"records_count": p.records, "input_bytes": input_bytes, "output_bytes": sum(counts) * RECORD_BYTES,
               "partitions_count": p.partitions, "map_tasks_count": by["map"]["tasks"], "sort_s": sort_s,
               "sorted_bytes_per_s": input_bytes / sort_s, "duplicate_keys_count": validated["duplicate_keys"],
               **case.common_metrics(run_, spark_phases)}
    if traffic is not None:
        metrics["hdfs_read_bytes"] = traffic.bytes
        metrics["hdfs_read_ops_count"] = traffic.ops
        if traffic.seconds > 0:
            metrics["hdfs_read_bytes_per_s"] = traffic.bytes / traffic.seconds
    return case.engine_output(run_, phases, metrics, case.self_cpu() - cpu0,
                              "dataframe repartitionByRange+sortWithinPartitions")
