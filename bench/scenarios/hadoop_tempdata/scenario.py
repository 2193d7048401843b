"""The hadoop-tempdata scenario (docs/case.md): one command that measures every finding of the case on the
user's tiers. Steps (labels, see bench/scenarios/hadoop_tempdata/findings.py):

  iops-<tier>  rand-read-4k QD32 on each tier: the IOPS per GB each supplies
  a            terasort, HDFS data and MapReduce temp data both on hdd, with HDFS read traffic alongside
  b            a with the page cache left on (--cache)
  c, d         temp data on nvme, on optane
  a-half, e    a and d with the hdd tier at half its drive bandwidth (emulated: the throttle halved;
               real hardware: --hdd-half PATH, a data directory on half the drives)
  scale-<n>    the best of c/d with n workers (1, 2, ... up to the CPUs)
With --engine spark, a, c, d and scale-<n> again on Spark, then:
  spark-rec    a on Spark with its workers under strace: their temp I/O recorded (not a measured step)
  rec-a/c/d    that recording replayed by fio on hdd, nvme, optane (the fidelity section's `recorded` column)
With --container-mb every terasort runs in a memory-capped cgroup, as a YARN container does: its page cache
is what the limit leaves, so temp data larger than that cannot stay cached (the case's situation). The recorded
replays run in the same container; Spark's workers and executors in one sized like a node's (their JVMs and the
same page cache room, bench/engines/spark/node_memory.py).
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Optional

from bench.core.errors import UserError
from bench.engines.spark.case import node_container_mb
from bench.execution.plan import Case
from bench.execution.runner import Runner
from bench.scenarios.hadoop_tempdata.findings import engines_of, findings
from bench.scenarios.hadoop_tempdata.settings import (
    CACHE_SHARE,
    CONTAINER_JOB_MB,
    HDFS_READ_MBPS,
)
from bench.tiers import cgroups
from bench.tiers import emulate as emu
from bench.tiers.guard import MEMORY_FS


def default_container_mb(records: int, available: Optional[bool] = None) -> Optional[int]:
    """The memory limit each sort runs under by default where containers can be made (`available`; default:
    root and a memory cgroup, v1 or v2): the sort's own CONTAINER_JOB_MB plus page cache for 1/CACHE_SHARE of its temp
    data, as a YARN container can cache only a small part of a node's temp data; None where they cannot."""
    if available is None:
        available = cgroups.containers_available()
    if not available:
        return None
    return CONTAINER_JOB_MB + -(-records * 100 // (CACHE_SHARE * 1024 ** 2))


FLAGS = {"hdd": "--hdd", "nvme": "--nvme", "optane": "--optane", "hdd-half": "--hdd-half"}


def check_memory_tiers(tiers: list, container_mb: Optional[int]) -> None:
    """Refuse, before anything runs, a scenario whose sorts run in containers while one of its tiers (every tier
    of the scenario holds some step's temp or HDFS data) is a RAM file system: the pages of files written to
    tmpfs are memory, charged to the memory group of the process that writes them, so a sort's temp files there
    count against its container's limit and the kernel's OOM killer kills the sort (seen: `worker died: exit code
    -9` in step d with --optane /dev/shm/x and a 70 MB container). A container sized to hold the temp data would
    no longer model a YARN container's page cache; the user chooses instead."""
    if not container_mb:
        return
    for t in tiers:
        if t.filesystem in MEMORY_FS:
            flag = FLAGS.get(t.name, f"tier {t.name}")
            raise UserError(f"scenario: tier {t.name} ({t.path}) is on {t.filesystem}, whose file pages are memory "
                            f"charged to each sort's {container_mb} MB container, so the kernel would kill the sort "
                            f"for memory: give --container-mb 0 (no container) or a directory on a disk for {flag}")


def _terasort(label: str, data: str, temp: str, records: int, workers: int = 1, cache: bool = False,
              memory_mb: Optional[int] = None, engine: str = "job") -> Case:
    # A scaled-down sort keeps a cluster's shuffle geometry: many map tasks (1 MiB input splits of 128 MiB HDFS
    # blocks) and 32 partitions, so that each reduce fetches many small segments (M x R medium-sized reads), as
    # at scale. One HDFS reader streams other blocks off the data tier meanwhile, as other clients do.
    params = {"records": records, "split_size": 1024 ** 2, "partitions": 32, "hdfs_readers": 1,
              "hdfs_read_mbps": HDFS_READ_MBPS}
    return Case(0, "terasort", "job", data, engine, params, 0,
                temp_tier=temp, workers=workers, cache=cache, label=label, memory_mb=memory_mb)


def _iops(tier: str, quick: bool) -> Case:
    params = {"iodepth": 32, "runtime_s": 2.0 if quick else 10.0, "size": (64 if quick else 256) * 1024 ** 2}
    return Case(0, "rand-read-4k", "pattern", tier, "fio", params, 0, label=f"iops-{tier}")


def stages(tier_names: list, records: int, quick: bool, half_tier: Optional[str]) -> dict:
    """{stage: [Case template]}; the runner numbers them. Stage "half" runs with the hdd tier halved."""
    first = [_iops(t, quick) for t in tier_names if not t.endswith("-half")]
    first += [_terasort("a", "hdd", "hdd", records), _terasort("b", "hdd", "hdd", records, cache=True),
              _terasort("c", "hdd", "nvme", records), _terasort("d", "hdd", "optane", records)]
    out = {"main": first}
    if half_tier:
        out["half"] = [_terasort("a-half", half_tier, half_tier, records),
                       _terasort("e", half_tier, "optane", records)]
    return out


def spark_stage(records: int) -> list:
    """Steps a, c and d on Spark (bench/engines/spark): the same records, tiers and shuffle geometry."""
    return [_terasort(label, "hdd", temp, records, engine="spark") for label, temp in SPARK_STEPS]


SPARK_STEPS = (("a", "hdd"), ("c", "nvme"), ("d", "optane"))


RECORD_STEP = "spark-rec"     # Spark's sort with its workers under strace: the trace the rec-* steps replay
RECORDED_STEPS = (("rec-a", "hdd"), ("rec-c", "nvme"), ("rec-d", "optane"))   # its temp I/O replayed on each


def record_stage(records: int) -> list:
    """Step a once more on Spark, its workers' temp I/O recorded (bench/engines/spark/temp_trace.py): not one of
    Spark's measured steps, as strace slows the JVMs it traces."""
    return [_terasort(RECORD_STEP, "hdd", "hdd", records, engine="spark")]


def recorded_stage(trace: str, tier_names: list) -> list:
    """The recorded Spark temp I/O replayed (bench/engines/trace/replay.py, exact in ops and bytes) on each temp
    tier of steps a, c, d: the rec-a, rec-c, rec-d steps."""
    return [Case(0, "replay:spark-temp", "replay", tier, "fio", {"trace": trace, "timed": False}, 0, label=label)
            for label, tier in RECORDED_STEPS if tier in tier_names]


def _recorded_trace(runner: Runner) -> tuple:
    """(case name, trace file) of the run's recording step; (None, None) when it failed (its case says why, and
    the fidelity section repeats it)."""
    rec = [c for c in runner.doc["cases"] if c.get("label") == RECORD_STEP and not c.get("error")]
    if not rec:
        return None, None
    return f"{runner.run_id}/case{rec[-1]['id']:03d}", rec[-1]["spark"]["trace"]["file"]


def scale_stage(best_temp: str, records: int, max_workers: int, engine: str = "job") -> list:
    counts, n = [], 1
    while n <= max_workers:
        counts.append(n)
        n *= 2
    if len(counts) == 1:
        counts.append(2)
    return [_terasort(f"scale-{w}", "hdd", best_temp, records, workers=w, engine=engine) for w in counts]


def best_temp(doc: dict, engine: str = "job") -> str:
    walls = {}
    for c in doc["cases"]:
        if c.get("label") in ("c", "d") and not c.get("error") and c.get("engine", "job") == engine:
            walls.setdefault(c["temp_tier"], []).append(c["metrics"]["wall_s"])
    if not walls:
        return "optane"
    return min(walls, key=lambda t: sorted(walls[t])[len(walls[t]) // 2])


def _memory_mb(case: Case, container_mb: Optional[int]) -> Optional[int]:
    """The container a step runs in: the replay's sorts and the recorded replays `container_mb`; Spark's workers
    and executors one with the JVMs' memory and the same page cache room (engines/spark/case.node_container_mb)."""
    if not container_mb:
        return None
    if case.engine == "spark":
        return node_container_mb(container_mb - CONTAINER_JOB_MB, case.workers or 1)
    return container_mb if case.workload == "terasort" or case.kind == "replay" else None


def run_scenario(runner: Runner, tier_names: list, *, records: int, quick: bool, repeats: int,
                 emulation: Optional[emu.Emulation], half_path_tier: Optional[str],
                 container_mb: Optional[int] = None, hdd_drives: Optional[int] = None, spark: bool = False) -> dict:
    """Run every stage (repeats interleaved), halving the hdd throttle around the "half" stage; with `spark`,
    then steps a, c, d and scale-N on Spark, and the replay-fidelity comparison."""
    half_tier = "hdd" if emulation is not None else half_path_tier
    plan = stages(tier_names, records, quick, half_tier)
    number = iter(range(10 ** 6))

    def numbered(cases, repeat):
        # Spark's JVMs (executors of 512 MB heap) do not fit a container sized for the replay's 64 MB sort: its
        # workers and executors run in one sized like a node's (the JVMs' own and the same page cache room)
        return [replace(c, id=next(number), repeat=repeat, memory_mb=_memory_mb(c, container_mb)) for c in cases]

    for repeat in range(repeats):
        runner.run(numbered(plan["main"], repeat), finish=False)
        if "half" in plan:
            if emulation is not None:
                with emu.half_the_drives(emulation):
                    runner.run(numbered(plan["half"], repeat), finish=False)
            else:
                runner.run(numbered(plan["half"], repeat), finish=False)
    scale = scale_stage(best_temp(runner.doc), records, max(2, os.cpu_count() or 1))
    for repeat in range(repeats):
        runner.run(numbered(scale, repeat), finish=False)
    if spark:
        for repeat in range(repeats):
            runner.run(numbered(spark_stage(records), repeat), finish=False)
        scale = scale_stage(best_temp(runner.doc, "spark"), records, max(2, os.cpu_count() or 1), engine="spark")
        for repeat in range(repeats):
            runner.run(numbered(scale, repeat), finish=False)
        runner.spark_trace = True
        try:
            runner.run(numbered(record_stage(records), 0), finish=False)
        finally:
            runner.spark_trace = False
        trace, file = _recorded_trace(runner)
        if trace is not None:
            runner.replay = {"trace": trace, "trace_path": str(runner.raw / file), "timed": False}
            try:
                for repeat in range(repeats):
                    runner.run(numbered(recorded_stage(trace, tier_names), repeat), finish=False)
            finally:
                runner.replay = None
    runner.doc["findings"] = findings(runner.doc)
    if spark:
        from bench.scenarios.hadoop_tempdata.fidelity import fidelity
        runner.doc["findings_by_engine"] = {e: findings(runner.doc, e) for e in engines_of(runner.doc)}
        runner.doc["fidelity"] = fidelity(runner.doc)
    runner.doc["scenario"] = {"name": "hadoop-tempdata", "records": records, "quick": quick, "repeats": repeats,
                              "engines": ["replay", "spark"] if spark else ["replay"],
                              "container_mb": container_mb, "hdd_drives": hdd_drives,
                              "half": emu.halving(emulation) if emulation is not None else
                              (f"tier {half_path_tier}" if half_path_tier else None)}
    runner.finish()
    return runner.doc
