"""TIERBENCH_CRC_ISA: the CRC32C kernel run as a lower CPU class would run it (kernels/crc32c_isa.py), in fresh
processes (the limit is read once, at import): the paths kept, the path chosen, its name in what cases record,
its results against the crc32c package, and a refused value."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernels import crc32c_isa

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import importlib, json, numpy as np, crc32c as pypi, kernels
m = importlib.import_module("kernels.crc32c")
data = np.random.default_rng(3).integers(0, 256, (1 << 20) + 4097, dtype=np.uint8).tobytes()
right = all(kernels.crc32c(memoryview(data)[s:s + n]) == pypi.crc32c(memoryview(data)[s:s + n])
            for s in (0, 1, 7) for n in (0, 100, 4160, 65536 + 3, 1 << 20))
print(json.dumps({"path": m.PATH, "supported": m.SUPPORTED, "hardware": m.HARDWARE, "limit": m.ISA_LIMIT,
                  "implementation": kernels.IMPLEMENTATION["crc32c"], "right": right}))
"""


def _probe(value):
    env = {k: v for k, v in os.environ.items() if k != crc32c_isa.ENV_VAR}
    if value is not None:
        env[crc32c_isa.ENV_VAR] = value
    return subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("level", list(crc32c_isa.LEVELS))
def test_each_level_keeps_only_its_paths_and_picks_the_best(level):
    pytest.importorskip("crc32c")
    done = _probe(level)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    allowed = crc32c_isa.LEVELS[level]
    assert got["limit"] == level
    assert got["supported"] == [p for p in got["hardware"] if p in allowed]
    assert got["path"] == next(p for p in allowed if p in got["supported"])
    assert got["implementation"] == f"cython:crc32c/{got['path']},isa={level}"
    assert got["right"]


def test_avx2_runs_the_fused_256_bit_path_where_the_cpu_has_it():
    pytest.importorskip("crc32c")
    got = json.loads(_probe("avx2").stdout)
    if "fused256" not in got["hardware"]:
        pytest.skip(f"this CPU has no AVX2 VPCLMULQDQ (it has {got['hardware']})")
    assert got["path"] == "fused256"
    assert not {"fused512", "vpclmul512"} & set(got["supported"])


def test_unset_or_empty_is_no_limit():
    pytest.importorskip("crc32c")
    for value in (None, ""):
        got = json.loads(_probe(value).stdout)
        assert got["limit"] is None and got["supported"] == got["hardware"]
        assert got["implementation"] == f"cython:crc32c/{got['path']}"


@pytest.mark.parametrize("value", ["avx3", "AVX2", " avx2", "avx2\n", "native", "x" * 5000])
def test_a_value_it_does_not_know_fails_the_import_in_one_line(value):
    done = _probe(value)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: TIERBENCH_CRC_ISA=") and "choose one of avx512, avx2, sse42, generic" in last
    with pytest.raises(ValueError, match="TIERBENCH_CRC_ISA"):
        crc32c_isa.isa_limit({crc32c_isa.ENV_VAR: value})


def test_isa_limit_reads_the_given_environment():
    assert crc32c_isa.isa_limit({}) is None
    assert crc32c_isa.isa_limit({crc32c_isa.ENV_VAR: ""}) is None
    for level in crc32c_isa.LEVELS:
        assert crc32c_isa.isa_limit({crc32c_isa.ENV_VAR: level}) == level
    assert crc32c_isa.allowed_paths(None) == crc32c_isa.LEVELS["avx512"]


def test_a_builtin_case_records_the_limited_path(tmp_path):
    """An HDFS-write case (checksummed) run under the limit names the path and the limit in its implementation."""
    env = dict(os.environ, TIERBENCH_CRC_ISA="avx2")
    tier = tmp_path / "tier"
    tier.mkdir()
    done = subprocess.run([sys.executable, "-m", "bench", "run", "--tier", f"t={tier}", "--workload", "hdfs-write",
                           "--engine", "builtin", "--quick", "--param", "blocks=1", "--results", str(tmp_path / "store"),
                           "--json"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    got = json.loads(_probe("avx2").stdout)
    [case] = doc["cases"]
    assert case["implementation"].startswith("cython:kernels.ioloop[")
    assert case["implementation"].endswith(f" crc32c={got['path']},isa=avx2]")
