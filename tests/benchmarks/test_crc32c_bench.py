"""CRC32C: kernels.crc32c against the `crc32c` PyPI package, same buffers, same process, at 64 KiB, 1 MiB (in
cache) and 64 MiB (from memory), for this CPU's best path ("native"), for the path an AVX2 CPU without AVX-512 runs
("avx2": a fresh process with TIERBENCH_CRC_ISA=avx2, kernels/crc32c_isa.py) and for the 128-bit paths of one
without VPCLMULQDQ as well ("sse42": Haswell to Skylake, Zen 1 / 2).

The machine may be shared and noisy, so the two take turns, round after round (which goes first alternates),
each turn a batch of calls on about 32 MiB of data (one call at 64 MiB), timed by the thread's CPU time (a turn
preempted by other work is not charged for the time the others ran; wall time is kept too); the figure is the
median over the rounds of each round's ratio (ours / package), with the medians of each one's rate, and the
load average and CPU pressure (PSI) seen around the rounds: other work on the same core (an SMT sibling) still
takes more from one than from the other (the fused paths need both the scalar and the vector ports).
Targets (issue 26): at least 1.5x the package at 64 KiB and 1 MiB, 1.0x at 64 MiB, on the AVX2 path;
reported, never asserted. The other paths this CPU has are timed the same way on the native run, for the record.

    pytest tests/benchmarks/test_crc32c_bench.py --benchmark-enable --benchmark-only     (`make bench` runs it)
    python -m tests.benchmarks.test_crc32c_bench SIZE [ROUNDS]     one measurement as JSON, in this process
"""
from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 41
BATCH_BYTES = 32 << 20
TARGETS = {64 << 10: 1.5, 1 << 20: 1.5, 64 << 20: 1.0}
CPU_CLASSES = ("native", "avx2", "sse42")


def _rate(fn, data, calls: int, clock=time.thread_time) -> float:
    """Bytes per second of `clock`: by default this thread's CPU time, so that a turn the scheduler
    preempted (on a shared machine, most of them) is not charged for the time others ran."""
    t0 = clock()
    for _ in range(calls):
        fn(data)
    return len(data) * calls / (clock() - t0)


def _load() -> dict:
    """Load average (1 min) and CPU pressure (PSI `some` avg10, percent; None where /proc/pressure is absent)."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        psi = float(dict(f.split("=") for f in some[1:])["avg10"])
    except (OSError, IndexError, KeyError, ValueError):
        psi = None
    return {"loadavg_1m": os.getloadavg()[0], "cpu_psi_some_avg10": psi, "cpus": os.cpu_count()}


def measure(size: int, rounds: int = ROUNDS, others: bool = False) -> dict:
    """kernels.crc32c (the path chosen at import in this process) and the package, `rounds` interleaved turns
    on `size` bytes; with `others`, every other path this CPU runs takes a turn too (through _crc32c_impl)."""
    import crc32c as pypi

    import kernels
    crc_module = importlib.import_module("kernels.crc32c")
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    if kernels.crc32c(data) != pypi.crc32c(data):
        raise AssertionError(f"crc32c differs from the package on {size} bytes")
    calls = max(1, BATCH_BYTES // size)
    extra = [p for p in crc_module.SUPPORTED if p not in (crc_module.PATH, "table")] if others else []
    rates = {"ours": [], "package": [], **{p: [] for p in extra}}
    wall = {"ours": [], "package": []}
    ratios, wall_ratios = [], []
    before = _load()
    for r in range(rounds):
        turns = [("package", pypi.crc32c), ("ours", kernels.crc32c)]
        for name, fn in turns if r % 2 else turns[::-1]:
            rates[name].append(_rate(fn, data, calls))
            wall[name].append(_rate(fn, data, calls, time.perf_counter))
        ratios.append(rates["ours"][-1] / rates["package"][-1])
        wall_ratios.append(wall["ours"][-1] / wall["package"][-1])
        for p in extra:
            rates[p].append(_rate(lambda d, p=p: crc_module._crc32c_impl(d, p), data, calls))
    return {"bytes": size, "rounds": rounds, "calls_per_round": calls, "path": crc_module.PATH,
            "implementation": kernels.IMPLEMENTATION["crc32c"], "ratio_median": statistics.median(ratios),
            "ratio_quartiles": statistics.quantiles(ratios, n=4) if rounds > 1 else None,
            "median_GBps": {k: statistics.median(v) / 1e9 for k, v in rates.items()},
            "wall_ratio_median": statistics.median(wall_ratios),
            "wall_median_GBps": {k: statistics.median(v) / 1e9 for k, v in wall.items()},
            "best_GBps": {k: max(v) / 1e9 for k, v in rates.items()},
            "load_before": before, "load_after": _load()}


def _measure_as(cpu_class: str, size: int) -> dict:
    """measure() in a fresh process run as `cpu_class` (TIERBENCH_CRC_ISA is read once, at import)."""
    env = dict(os.environ, TIERBENCH_CRC_ISA=cpu_class)
    done = subprocess.run([sys.executable, "-m", "tests.benchmarks.test_crc32c_bench", str(size)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise AssertionError(f"the {cpu_class} measurement failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def _say(capsys, line: str) -> None:
    """A figure on the terminal even under -q and output capture (`make bench` prints it)."""
    with capsys.disabled():
        print("\n" + line)


@pytest.mark.parametrize("size", list(TARGETS), ids=["64KiB", "1MiB", "64MiB"])
@pytest.mark.parametrize("cpu_class", CPU_CLASSES)
def test_crc32c_vs_package(benchmark, capsys, cpu_class, size):
    pytest.importorskip("crc32c")
    if cpu_class == "native":
        out = benchmark.pedantic(measure, args=(size, ROUNDS, True), rounds=1, iterations=1)
    else:
        out = benchmark.pedantic(_measure_as, args=(cpu_class, size), rounds=1, iterations=1)
    benchmark.extra_info.update(out, cpu_class=cpu_class, target_vs_package=TARGETS[size])
    q1, _, q3 = out["ratio_quartiles"]
    _say(capsys, f"crc32c {cpu_class} ({out['implementation']}) {size} B: {out['ratio_median']:.2f}x the crc32c "
                  f"package (median of {ROUNDS} interleaved rounds, quartiles {q1:.2f}-{q3:.2f}; by wall time "
                  f"{out['wall_ratio_median']:.2f}x; target {TARGETS[size]:.1f}x); median GB/s of CPU time "
                  + ", ".join(f"{k} {v:.1f}" for k, v in out["median_GBps"].items())
                  + f"; load {out['load_before']['loadavg_1m']:.1f}->{out['load_after']['loadavg_1m']:.1f}"
                  f" on {out['load_after']['cpus']} CPUs, cpu PSI {out['load_after']['cpu_psi_some_avg10']}%")
    assert out["ratio_median"] > 0


@pytest.mark.parametrize("chunk", [512, 4096])
def test_crc32c_chunks_paths(benchmark, capsys, chunk):
    """crc32c_chunks on 1 MiB at HDFS's 512-byte chunks (and 4 KiB): each path's rate, to check the choice."""
    crc_module = importlib.import_module("kernels.crc32c")
    data = np.random.default_rng(chunk).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    calls = BATCH_BYTES // len(data)
    chosen = crc_module.chunks_path(chunk)
    others = [p for p in crc_module.SUPPORTED if p not in (chosen, "table")]
    rates = {chosen: [], **{p: [] for p in others}}

    def others_turn():
        for p in others:
            rates[p].append(_rate(lambda d, p=p: crc_module._crc32c_chunks_impl(d, chunk, p), data, calls))

    def ours():
        rates[chosen].append(_rate(lambda d: crc_module.crc32c_chunks(d, chunk), data, calls))

    benchmark.pedantic(ours, setup=others_turn, rounds=ROUNDS, iterations=1)
    median = {name: statistics.median(values) / 1e9 for name, values in rates.items()}
    benchmark.extra_info.update({"chunk": chunk, "chosen": chosen, "median_GBps": median})
    _say(capsys, f"crc32c_chunks({chunk}) on 1 MiB, median of {ROUNDS}: chosen {chosen}; "
                  + ", ".join(f"{k} {v:.1f} GB/s" for k, v in median.items()))
    assert median[chosen] > 0


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS)))
