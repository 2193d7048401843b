"""Environment variables a user sets are input like flags: TIERBENCH_CRC_ISA (the CPU class the CRC32C kernel
may assume, kernels/crc32c_isa.py) with a value it does not know is refused by every command through the real CLI
in a fresh process (the kernels read it at import): exit 2, one line on stderr, no traceback, nothing stored."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD_VALUES = ["avx3", "AVX512", "avx2 ", "avx2\nsse42", "-1", "generic;rm", "é" * 300, "x" * 100_000]


@pytest.mark.parametrize("value", BAD_VALUES, ids=[f"v{i}" for i in range(len(BAD_VALUES))])
@pytest.mark.parametrize("command", [("list",), ("run", "--workload", "hdfs-write", "--engine", "builtin", "--quick"),
                                     ("tiers", "detect")], ids=["list", "run", "tiers-detect"])
def test_a_bad_crc_isa_is_refused_in_one_line(value, command, tmp_path):
    store, tier = tmp_path / "store", tmp_path / "tier"
    tier.mkdir()
    argv = list(command) + (["--tier", f"t={tier}", "--results", str(store)] if command[0] == "run" else [])
    if command[0] == "list":
        argv += ["--results", str(store)]
    done = subprocess.run([sys.executable, "-m", "bench", *argv], env=dict(os.environ, TIERBENCH_CRC_ISA=value),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tierbench: error: TIERBENCH_CRC_ISA="), done.stderr
    assert len(lines[0]) < 300
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not store.exists() and list(tier.iterdir()) == []
