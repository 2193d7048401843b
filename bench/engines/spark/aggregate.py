"""The aggregate workload on Spark, one case: the same seeded Parquet input and word-by-word validation as the
replay (workloads/aggregate.py), with the group-by run by a Spark standalone cluster (case.py) as Spark SQL:
`groupBy("word").agg(count, sum(value))`, written as Parquet on the data tier.

  generate  (data tier) workloads.aggregate.generate: the Zipf-distributed words, seeded
  map       (temp tier) the input read, partial aggregates by hash (sorting and spilling when memory runs out),
                        shuffle files written in the workers' local dirs
  reduce    (temp tier) shuffle read, final aggregation (spilling likewise), the output written (data tier)
  validate  (data tier) workloads.aggregate.validate: every word's count and sum equal to the generated ones
The memory budget: `memory_budget_mb` is the executors' unified (execution + storage) memory, all executors
together, set through spark.memory.fraction of the heap Spark may use (executor heap less its 300 MB reserve), so
that the same parameter that makes Polars spill makes Spark spill; spills go to the workers' local dirs on the
temp tier. Spark's inputBytes counts only part of a Parquet read, so the map phase's data-tier read is the input
files' size (Spark's own figure kept as the phase's spark_input_bytes)."""
from __future__ import annotations

import glob
import os

from bench.core.errors import CaseError
from bench.engines.spark import case, stages
from workloads._jobio import PhaseLog, check_free_space
from workloads.aggregate import AggregateParams, generate, space_needed, validate

RESERVED_MB = 300          # Spark's reserved system memory per executor heap
SHUFFLE_PARTITIONS = 8     # spark.sql.shuffle.partitions: fixed, for byte-comparable runs


def memory_fraction(budget_mb: int, executors: int) -> float:
    """spark.memory.fraction giving the executors together `budget_mb` of unified memory (at most all of it),
    as the budget is Polars' whole process's in the replay."""
    usable = case.EXECUTOR_MEMORY_MB - RESERVED_MB
    return max(0.001, min(1.0, budget_mb / executors / usable))


def count_input(phases: list, input_bytes: int) -> None:
    """The map phase read every byte of the input files: Spark's inputBytes counts only part of a Parquet read
    (its footers, here), so the data tier's read is the files' size; Spark's figure is kept as spark_input_bytes."""
    for p in phases:
        if p["name"] == "map":
            data = p["io"]["data"]
            p["spark_input_bytes"] = data["bytes_read"]
            p["bytes_read"] += input_bytes - data["bytes_read"]
            data["bytes_read"] = input_bytes


def run(p: AggregateParams, ctx: dict) -> dict:
    data_dir, temp_dir = ctx["dirs"]["data"], ctx["dirs"]["temp"]
    data_bytes, spill_bytes = space_needed(p)
    needs = {data_dir: data_bytes}
    needs[temp_dir] = needs.get(temp_dir, 0) + spill_bytes
    check_free_space(needs, f"aggregate on spark ({p.rows} rows, about {spill_bytes} bytes of shuffle and spill)")
    cpu0 = case.self_cpu()
    cache = bool(ctx.get("cache"))
    input_dir, output_dir = os.path.join(data_dir, "aggregate-input"), os.path.join(data_dir, "aggregate-output")
    os.mkdir(input_dir)
    log = PhaseLog(ctx["tiers"])
    with log.phase("generate", "data") as (record, io):
        expected = generate(p, input_dir, io, "data", cache)
    fraction = memory_fraction(p.memory_budget_mb, max(1, int(ctx.get("workers") or 1)))
    run_ = case.run_job(ctx, {"job": "aggregate", "input_glob": os.path.join(input_dir, "*.parquet"),
                              "output_dir": output_dir, "partitions": SHUFFLE_PARTITIONS},
                        executor_conf={"spark.memory.fraction": f"{fraction:.4f}"})
    spark_phases = stages.phases(run_.result["stages"], ctx["tiers"])
    count_input(spark_phases, expected["input_bytes"])
    outputs = sorted(glob.glob(os.path.join(output_dir, "part-*.parquet")))
    if not outputs:
        raise CaseError("aggregate on spark: no output Parquet file")
    with log.phase("validate", "data") as (record, io):
        groups = validate(outputs, expected, io, "data")
        record["valid"] = True
    by = {r["name"]: r for r in spark_phases}
    phases = [log.get("generate")] + spark_phases + [log.get("validate")]
    metrics = {"rows_count": p.rows, "groups_count": groups, "input_bytes": expected["input_bytes"],
               "output_bytes": by["reduce"]["io"]["data"]["bytes_written"], "query_s": run_.result["seconds"],
               "memory_budget_bytes": p.memory_budget_mb * 1024 ** 2, **case.common_metrics(run_, spark_phases)}
    if run_.result["seconds"] > 0:
        metrics["aggregated_bytes_per_s"] = expected["input_bytes"] / run_.result["seconds"]
    return case.engine_output(run_, phases, metrics, case.self_cpu() - cpu0,
                              f"sql group-by, memory.fraction {fraction:.3g}")
