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
import time
import urllib.error
import urllib.request
from typing import Optional

from bench.core.errors import CaseError

PHASES = ("sample", "map", "reduce")
COUNTERS = ("inputBytes", "outputBytes", "shuffleWriteBytes", "shuffleReadBytes", "diskBytesSpilled", "memoryBytesSpilled",
            "executorCpuTime", "executorDeserializeCpuTime", "executorRunTime", "numTasks")


REST_ATTEMPT_S = 30.0      # one request's timeout
REST_MIN_DEADLINE_S = 60.0
REST_DEADLINE_PER_JOB_S = 2.0   # x the job's own seconds: a UI slow to answer on a busy machine is slow in step


def rest_deadline_s(job_s: float) -> float:
    """How long the REST reads after a job may keep retrying: at least REST_MIN_DEADLINE_S, and twice the job's
    seconds (the driver's UI answers as slowly as the machine ran the job: a fixed 30 s failed on a busy one)."""
    return max(REST_MIN_DEADLINE_S, REST_DEADLINE_PER_JOB_S * max(0.0, job_s))


def read_json(url: str, deadline_s: float = REST_MIN_DEADLINE_S):
    """The JSON at `url`, retried (timeouts, refused or reset connections, HTTP 5xx, a torn answer) until
    `deadline_s` has passed; then the last error is raised, saying how long and how often it was tried."""
    start = time.monotonic()
    tries, wait = 0, 0.5
    while True:
        tries += 1
        left = deadline_s - (time.monotonic() - start)
        try:
            with urllib.request.urlopen(url, timeout=max(1.0, min(REST_ATTEMPT_S, left))) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code < 500:
                raise
            error = e
        except (urllib.error.URLError, OSError, ValueError) as e:     # timeouts are OSError; ValueError: torn JSON
            error = e
        if time.monotonic() - start + wait >= deadline_s:
            raise TimeoutError(f"{url}: no answer after {tries} tries in {time.monotonic() - start:.0f} s "
                               f"({type(error).__name__}: {error})") from None
        time.sleep(wait)
        wait = min(wait * 2, 5.0)


def read_stages(ui_url: str, app_id: str, deadline_s: float = REST_MIN_DEADLINE_S) -> list:
    """Every stage of the application (every attempt), from the driver's UI while the application runs."""
    return read_json(f"{ui_url}/api/v1/applications/{app_id}/stages", deadline_s)


def disturbed(stages: list, executors: list) -> str:
    """Why the application's run is not an undisturbed measurement ('' when it is): tasks that failed or were
    killed (Spark retried them: their work was done twice), stages run again (attemptId > 0, after a lost
    shuffle output), or executors lost during the job (`/allexecutors` entries no longer active, with Spark's
    removeReason). Spark recovers from all of these and the job's output is right, but its time is not the
    time of the job on these tiers: an executor killed mid map gave 20.1 s against 7.1 s undisturbed."""
    reasons = []
    failed = sum(int(s.get("numFailedTasks") or 0) for s in stages)
    killed = sum(int(s.get("numKilledTasks") or 0) for s in stages)
    if failed or killed:
        reasons.append(f"{failed} failed and {killed} killed task(s) were retried")
    retried = sorted({int(s.get("stageId", -1)) for s in stages if int(s.get("attemptId") or 0) > 0})
    if retried:
        reasons.append(f"stage(s) {', '.join(map(str, retried))} ran again")
    lost = [e for e in executors if e.get("id") != "driver" and e.get("isActive") is False]
    for e in lost:
        reasons.append(f"executor {e.get('id')} was lost ({(e.get('removeReason') or 'no reason given').strip()})")
    return "; ".join(reasons)


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
