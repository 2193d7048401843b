"""CRC32C: kernels.crc32c (the CPU path chosen from CPUID) against the `crc32c` PyPI package, same buffers,
same process, at 64 KiB, 1 MiB (in cache) and 64 MiB (from memory).

The machine is shared and noisy, so the two take turns, round after round (the package's turn is
pedantic's untimed setup), and each one's best round counts; a round times a batch of calls (about 64 MiB
of data) so that a timer tick is nothing against it. Every other path this CPU has is timed the same way,
for the record. Targets (issue 16): at least 1.5x the package at 64 KiB and 1 MiB, 1.0x at 64 MiB; reported,
never asserted.

Run with: pytest tests/benchmarks/test_crc32c_bench.py --benchmark-enable --benchmark-only -s
"""
from __future__ import annotations

import importlib
import time

import numpy as np
import pytest

crc32c_pypi = pytest.importorskip("crc32c")
crc_module = importlib.import_module("kernels.crc32c")

ROUNDS = 9
BATCH_BYTES = 64 << 20
TARGETS = {64 << 10: 1.5, 1 << 20: 1.5, 64 << 20: 1.0}


def _rate(fn, data, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn(data)
    return len(data) * calls / (time.perf_counter() - t0)


@pytest.mark.parametrize("size", list(TARGETS), ids=["64KiB", "1MiB", "64MiB"])
def test_crc32c_vs_package(benchmark, size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert crc_module.crc32c(data) == crc32c_pypi.crc32c(data)
    calls = max(1, BATCH_BYTES // size)
    others = [p for p in crc_module.SUPPORTED if p not in (crc_module.PATH, "table")]
    rates = {"package": [], crc_module.PATH: [], **{p: [] for p in others}}

    def others_turn():   # untimed by pytest-benchmark: the package, then the paths not chosen
        rates["package"].append(_rate(crc32c_pypi.crc32c, data, calls))
        for p in others:
            rates[p].append(_rate(lambda d, p=p: crc_module._crc32c_impl(d, p), data, calls))

    def ours():
        rates[crc_module.PATH].append(_rate(crc_module.crc32c, data, calls))

    benchmark.pedantic(ours, setup=others_turn, rounds=ROUNDS, iterations=1)
    best = {name: max(values) for name, values in rates.items()}
    ratio = best[crc_module.PATH] / best["package"]
    benchmark.extra_info.update({
        "bytes": size, "calls_per_round": calls, "path": crc_module.PATH, "ratio_vs_package": ratio,
        "target_vs_package": TARGETS[size], "best_GBps": {k: v / 1e9 for k, v in best.items()},
        "rounds_GBps": {k: [v / 1e9 for v in vs] for k, vs in rates.items()},
    })
    print(f"\ncrc32c {size} B, best of {ROUNDS} interleaved rounds: "
          + ", ".join(f"{k} {v / 1e9:.1f} GB/s" for k, v in best.items())
          + f"; {crc_module.PATH} / package = {ratio:.2f} (target {TARGETS[size]:.1f})")
    assert ratio > 0


@pytest.mark.parametrize("chunk", [512, 4096])
def test_crc32c_chunks_paths(benchmark, chunk):
    """crc32c_chunks on 1 MiB at HDFS's 512-byte chunks (and 4 KiB): each path's rate, to check the choice."""
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
    best = {name: max(values) / 1e9 for name, values in rates.items()}
    benchmark.extra_info.update({"chunk": chunk, "chosen": chosen, "best_GBps": best})
    print(f"\ncrc32c_chunks({chunk}) on 1 MiB, best of {ROUNDS}: chosen {chosen}; "
          + ", ".join(f"{k} {v:.1f} GB/s" for k, v in best.items()))
    assert best[chosen] > 0
