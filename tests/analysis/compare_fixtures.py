"""Run documents with plausible figures from a seeded RNG, written into a temporary Store, for the compare,
history and report tests. They test statistics, gate and report logic, not measurement."""
from __future__ import annotations

import copy
import datetime as dt

import numpy as np

from bench.store.runs import Store

MACHINE = {"hostname": "bench-a", "cpu_model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "cpus": 8,
           "memory_bytes": 32 * 10 ** 9, "kernel": "6.1.0-18-amd64", "product_name": None, "fio_version": "fio-3.33",
           "python": "3.11.2", "pyarrow": "18.1.0", "polars": "2.1.0"}
OTHER_MACHINE = dict(MACHINE, hostname="bench-b", cpu_model="AMD EPYC 7B13", cpus=16)

TIERS = [
    {"name": "hdd", "class": "hdd", "path": "/mnt/tb/hdd", "device": "/dev/loop0", "capacity_bytes": 2 * 2 ** 30,
     "nominal_capacity_bytes": 8 * 10 ** 12,
     "emulated": {"backing": "disk file", "loop": "/dev/loop0", "size_bytes": 2 * 2 ** 30, "iops": 150, "mbps": 180}},
    {"name": "nvme", "class": "nvme", "path": "/mnt/tb/nvme", "device": "/dev/loop1", "capacity_bytes": 2 * 2 ** 30,
     "nominal_capacity_bytes": 3840 * 10 ** 9,
     "emulated": {"backing": "disk file", "loop": "/dev/loop1", "size_bytes": 2 * 2 ** 30, "iops": None, "mbps": None}},
]

# (workload, tier) -> typical iops and p99 latency (us)
BASELINES = {("rand-read-4k", "hdd"): (150.0, 14000.0), ("rand-read-4k", "nvme"): (52000.0, 180.0),
             ("seq-read-1m", "hdd"): (172.0, 9000.0), ("seq-read-1m", "nvme"): (1900.0, 900.0)}


def make_doc(run_id: str, seed: int, repeats: int = 5, machine: dict = MACHINE, tiers=None,
             iops_factor: float = 1.0, lat_factor: float = 1.0, noise: float = 0.02,
             started_at: str = "2026-11-20T10:00:00+00:00", extras: bool = False, terasort_wall_s=None) -> dict:
    """A run document: rand-read-4k and seq-read-1m on hdd and nvme, `repeats` repeats each, lognormal noise."""
    rng = np.random.default_rng(seed)
    tiers = copy.deepcopy(tiers if tiers is not None else TIERS)
    cap = {t["name"]: t["nominal_capacity_bytes"] or t["capacity_bytes"] for t in tiers}
    cases = []
    for (workload, tier), (iops0, p99) in BASELINES.items():
        bs = 4096 if workload.endswith("4k") else 2 ** 20
        for rep in range(repeats):
            iops = iops0 * iops_factor * float(rng.lognormal(0.0, noise))
            lat = p99 * lat_factor * float(rng.lognormal(0.0, noise))
            wall = 10.0
            metrics = {"iops": iops, "read_iops": iops, "read_bytes_per_s": iops * bs,
                       "lat_p50_us": lat / 3.0, "lat_p99_us": lat, "lat_p999_us": lat * 1.8,
                       "iops_per_gb": iops / (cap[tier] / 1e9), "wall_s": wall,
                       "cpu_util": float(rng.uniform(2, 20)), "device_util": float(rng.uniform(60, 99)),
                       "bytes_read": 64 * 2 ** 20, "bytes_written": 0}
            case = {"id": len(cases), "workload": workload, "tier": tier, "engine": "fio",
                    "params": {"bs": bs, "iodepth": 1}, "repeat": rep, "error": None, "metrics": metrics,
                    "bottleneck": "io" if tier == "hdd" else "cpu",
                    "phases": [{"name": workload, "tier": tier, "wall_s": wall, "bytes_read": 64 * 2 ** 20,
                                "bytes_written": 0, "cpu_s": wall * metrics["cpu_util"] / 100, "bottleneck": "io"}],
                    "raw": [f"raw/{workload}-{tier}-{rep}.json"]}
            if extras:
                case["latency_bins_ns"] = {"read": _latency_bins(rng, lat / 3.0 * 1000, 2000)}
            cases.append(case)
    if terasort_wall_s is not None or extras:
        for rep in range(repeats):
            wall = (terasort_wall_s or 120.0) * float(rng.lognormal(0.0, noise))
            phases = [{"name": n, "tier": t, "wall_s": wall * f, "bytes_read": 10 ** 9, "bytes_written": 10 ** 9,
                       "cpu_s": wall * f * 0.8, "bottleneck": b}
                      for n, t, f, b in (("read", "hdd", 0.2, "io"), ("map-spill", "nvme", 0.3, "cpu"),
                                         ("shuffle", "nvme", 0.2, "cpu"), ("reduce-write", "hdd", 0.3, "io"))]
            cases.append({"id": len(cases), "workload": "terasort", "tier": "hdd", "engine": "job",
                          "params": {"size": 10 ** 9, "data": "hdd", "temp": "nvme"}, "repeat": rep, "error": None,
                          "metrics": {"wall_s": wall, "read_bytes_per_s": 2e9 / wall, "write_bytes_per_s": 2e9 / wall,
                                      "cpu_util": 85.0, "bytes_read": 2 * 10 ** 9, "bytes_written": 2 * 10 ** 9},
                          "bottleneck": "cpu", "phases": phases, "raw": []})
    doc = {"schema_version": 1, "run_id": run_id, "status": "complete", "started_at": started_at,
           "finished_at": started_at, "harness_version": "0.1.0", "machine": dict(machine), "tiers": tiers,
           "cases": cases}
    if extras:
        n = 60
        t = [i * 1.0 for i in range(n)]
        doc["monitor"] = {"interval_s": 1.0, "series": {
            "t_s": t,
            "cpu_user_percent": [float(v) for v in np.clip(rng.normal(35, 8, n), 0, 100)],
            "cpu_iowait_percent": [float(v) for v in np.clip(rng.normal(20, 6, n), 0, 100)],
            "hdd_busy_percent": [float(v) for v in np.clip(rng.normal(90, 5, n), 0, 100)],
            "nvme_busy_percent": [float(v) for v in np.clip(rng.normal(30, 10, n), 0, 100)]}}
        doc["scaling"] = []
        for tier, per_worker, knee in (("hdd", 150.0, 1), ("nvme", 50000.0, 4)):
            base = None
            for w in (1, 2, 4, 8):
                thr = per_worker * min(w, knee) * float(rng.lognormal(0, 0.02))
                base = base or thr
                doc["scaling"].append({"workload": "rand-read-4k", "tier": tier, "workers": w, "throughput": thr,
                                       "speedup": thr / base, "efficiency": thr / base / w,
                                       "bottleneck": "io" if w >= knee else "cpu"})
    return doc


def _latency_bins(rng, median_ns: float, n: int) -> dict:
    """fio json+ style bins: {"<ns>": count} from lognormal latencies rounded to 2 significant digits."""
    values = rng.lognormal(np.log(median_ns), 0.6, n)
    bins: dict = {}
    for v in values:
        key = str(int(float(f"{v:.2g}")))
        bins[key] = bins.get(key, 0) + 1
    return bins


def write_run(store: Store, doc: dict) -> str:
    store.create_run(doc["run_id"])
    store.write_document(doc)
    return doc["run_id"]


def started(day: int) -> str:
    return (dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc) + dt.timedelta(days=day)).isoformat()


PYTEST_BENCH_TEST = '''
import os
import time

import pytest


@pytest.mark.parametrize("ms", [1])
def test_sleep(benchmark, ms):
    factor = float(os.environ.get("TB_SLOWDOWN", "1"))
    benchmark.pedantic(time.sleep, args=(ms * factor / 1000.0,), rounds=12, iterations=1, warmup_rounds=1)
'''


def make_pytest_benchmark_json(folder, name: str, slowdown: float = 1.0, save_data: bool = True):
    """A real pytest-benchmark JSON file: runs a tiny sleep benchmark with pytest-benchmark in a subprocess.

    The subprocess runs in `folder` with its own empty pytest.ini, so the checkout's options (which disable
    benchmarks) do not apply. --benchmark-json always writes the rounds (stats.data); save_data=False removes
    them afterwards, as a file from --benchmark-save without --benchmark-save-data would have none."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_tiny_bench.py").write_text(PYTEST_BENCH_TEST)
    out = folder / f"{name}.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-enable",
           f"--benchmark-json={out}", "test_tiny_bench.py"]
    env = dict(os.environ, TB_SLOWDOWN=str(slowdown))
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if not save_data:
        import json

        data = json.loads(out.read_text())
        for bench in data["benchmarks"]:
            bench["stats"].pop("data", None)
        out.write_text(json.dumps(data))
    return out
