"""Spark's own stage metrics (its REST API, /api/v1/applications/<id>/stages, read while the application runs)
as tierbench phase records, the shape every engine produces (bench/analysis/metrics.py).

A sort's stages, by what they did (not by their names, which Spark sets from the calling code):
  "sample"  stages that read input and shuffled nothing: the RangePartitioner's sampling pass over the input
  "map"     stages that wrote shuffle data: read the input splits, range-partition, write shuffle files to the
            workers' local dirs (the temp tier)
  "reduce"  stages that read shuffle data: fetch every map output's segment, sort, write the output files
Per phase: wall from the first submission to the last completion; cpu_s = executorCpuTime +
executorDeserializeCpuTime (the executors' task threads; JVM GC threads are not in it); bytes from Spark's
counters: the input read (data tier), shuffle written / read (temp tier), spilled to disk (temp tier, written
once and read back once), and the output (the helper's record count x record size, data tier: Spark does not
count bytes a custom writer writes). Spark gives no operation counts: ops are left out, never 0."""
from __future__ import annotations

import datetime as _dt
import json
import urllib.request
from typing import Optional

from bench.core.errors import CaseError

PHASES = ("sample", "map", "reduce")
COUNTERS = ("inputBytes", "outputBytes", "shuffleWriteBytes", "shuffleReadBytes", "diskBytesSpilled", "memoryBytesSpilled",
            "executorCpuTime", "executorDeserializeCpuTime", "executorRunTime", "numTasks")


def read_json(url: str, timeout: float = 30.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def read_stages(ui_url: str, app_id: str) -> list:
    """Every stage of the application, from the driver's UI while the application runs."""
    return read_json(f"{ui_url}/api/v1/applications/{app_id}/stages")


def _time(text: str) -> float:
    """Spark's REST timestamps ("2026-11-29T09:22:03.536GMT") as POSIX seconds."""
    return _dt.datetime.strptime(text.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def kind(stage: dict) -> Optional[str]:
    if stage.get("shuffleWriteBytes", 0) > 0:
        return "map"
    if stage.get("shuffleReadBytes", 0) > 0:
        return "reduce"
    if stage.get("inputBytes", 0) > 0:
        return "sample"
    return None


def phases(stages: list, tiers: dict, output_bytes: Optional[int] = None) -> list:
    """Phase records (sample, map, reduce) from the completed stages; `tiers`: {"data": name, "temp": name};
    `output_bytes`: what the job wrote (None: Spark's own outputBytes, which its writers count).
    CaseError when a stage failed or the sort's map or reduce stage is missing."""
    failed = [s for s in stages if s.get("status") == "FAILED"]
    if failed:
        raise CaseError(f"spark: stage {failed[0].get('stageId')} failed: "
                        f"{(failed[0].get('failureReason') or '').strip().splitlines()[:1]}")
    groups: dict = {}
    for s in stages:
        if s.get("status") == "COMPLETE" and kind(s):
            groups.setdefault(kind(s), []).append(s)
    for name in ("map", "reduce"):
        if name not in groups:
            raise CaseError(f"spark: no completed {name} stage among the application's {len(stages)} stage(s)")
    out = []
    for name in PHASES:
        group = groups.get(name)
        if not group:
            continue
        total = {c: sum(int(s.get(c) or 0) for s in group) for c in COUNTERS}
        wall = max(_time(s["completionTime"]) for s in group) - min(_time(s["submissionTime"]) for s in group)
        spill = total["diskBytesSpilled"]
        written = (total["outputBytes"] if output_bytes is None else output_bytes) if name == "reduce" else 0
        data = {"bytes_read": total["inputBytes"], "bytes_written": written}
        temp = {"bytes_read": total["shuffleReadBytes"] + spill, "bytes_written": total["shuffleWriteBytes"] + spill}
        io = {"data": {"tier": tiers["data"], **data}}
        if name != "sample":
            io["temp"] = {"tier": tiers["temp"], **temp}
        record = {"name": name, "tier": tiers["data" if name == "sample" else "temp"],
                  "role": "data" if name == "sample" else "temp", "wall_s": max(wall, 1e-3),
                  "cpu_s": (total["executorCpuTime"] + total["executorDeserializeCpuTime"]) / 1e9,
                  "bytes_read": sum(r["bytes_read"] for r in io.values()),
                  "bytes_written": sum(r["bytes_written"] for r in io.values()), "io": io,
                  "shuffle_write_bytes": total["shuffleWriteBytes"], "shuffle_read_bytes": total["shuffleReadBytes"],
                  "spill_disk_bytes": spill, "spill_memory_bytes": total["memoryBytesSpilled"],
                  "executor_run_s": total["executorRunTime"] / 1e3, "tasks": total["numTasks"],
                  "stages": sorted(int(s["stageId"]) for s in group)}
        out.append(record)
    return out
