"""`--param ioengine=...` on the device baselines: the same queueing model on both engines (the fio job file
says `ioengine=io_uring` and `fixedbufs` where the builtin engine runs its ring on registered buffers), bad
values refused up front, and a kernel's refusal failing the case with its reason (no fallback)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import workloads
from bench.core.pattern import Phase
from bench.engines.fio.job import render_jobfile
from kernels import uring
from tests.conftest import ROOT, cli, cli_json, needs_fio

SMALL = ["--param", "size=4m", "--param", "runtime_s=0.3", "--param", "direct=false", "--param", "iodepth=4"]
needs_uring = pytest.mark.skipif(not uring.probe()[0], reason=f"io_uring is refused here: {uring.probe()[1]}")


def _options(text: str, section: str) -> dict:
    lines = text.split(f"[{section}]\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return dict((line.split("=", 1) + [None])[:2] for line in lines if line and not line.startswith(";"))


def test_job_file_follows_the_phase_ioengine():
    w = workloads.get("rand-read-4k")
    for value, engine, fixed in (("io_uring", "io_uring", True), ("libaio", "libaio", False),
                                 ("psync", "psync", False), ("auto", "libaio", False)):
        pattern = w.build(workloads.coerce_params(w, {"ioengine": value, "iodepth": 32}))
        opts = _options(render_jobfile(pattern, {"data": "/data"}), "rand-read-4k")
        assert opts["ioengine"] == engine and ("fixedbufs" in opts) == fixed, value
    pattern = w.build(workloads.coerce_params(w, {"iodepth": 1}))
    assert _options(render_jobfile(pattern, {"data": "/data"}), "rand-read-4k")["ioengine"] == "psync"


def test_bad_ioengine_is_refused():
    w = workloads.get("rand-read-4k")
    with pytest.raises(ValueError, match="ioengine must be one of auto, psync, libaio, io_uring"):
        workloads.coerce_params(w, {"ioengine": "spdk"})
    with pytest.raises(ValueError, match="ioengine must be one of"):
        Phase(name="p", rw="read", bs=4096, size=4096, ioengine="posixaio")


def test_bad_ioengine_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    proc = cli("run", "--tier", f"t={tmp_path}", "--workload", "rand-read-4k", "--param", "ioengine=spdk",
               "--results", tmp_path / "results")
    assert proc.returncode == 2 and "ioengine must be one of auto, psync, libaio, io_uring" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@needs_fio
@needs_uring
def test_both_engines_run_io_uring(tmp_path):
    tier = tmp_path / "tier"
    tier.mkdir()
    doc = cli_json("run", "--tier", f"t={tier}", "--workload", "rand-read-4k", "--engine", "fio", "--engine",
                   "builtin", "--param", "ioengine=io_uring", *SMALL, "--results", tmp_path / "results")
    assert doc["status"] == "complete", [c["error"] for c in doc["cases"]]
    assert {c["engine"] for c in doc["cases"]} == {"fio", "builtin"}
    for case in doc["cases"]:
        assert case["params"]["ioengine"] == "io_uring" and case["metrics"]["read_iops"] > 0
    builtin = next(c for c in doc["cases"] if c["engine"] == "builtin")
    assert builtin["implementation"] == "cython:kernels.ioloop[io_uring]"
    job = next((tmp_path / "results" / doc["run_id"] / "raw").glob("*.fio")).read_text()
    assert "ioengine=io_uring\nfixedbufs\n" in job


@needs_uring
@pytest.mark.skipif(os.geteuid() != 0, reason="drops CAP_IPC_LOCK from root to meet the locked-memory limit")
@pytest.mark.skipif(not (shutil.which("setpriv") and shutil.which("prlimit")), reason="needs setpriv and prlimit")
def test_a_refused_ring_fails_the_case_with_the_reason(tmp_path):
    """Without CAP_IPC_LOCK and with a 64 KiB locked-memory limit the kernel refuses the registered buffers of
    an iodepth-32 ring (256 KiB): the builtin case fails saying so; nothing falls back to libaio."""
    tier = tmp_path / "tier"
    tier.mkdir()
    proc = subprocess.run([shutil.which("prlimit"), "--memlock=65536:65536", shutil.which("setpriv"),
                           "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", sys.executable, "-m", "bench",
                           "run", "--tier", f"t={tier}", "--workload", "rand-read-4k", "--engine", "builtin",
                           "--param", "ioengine=io_uring", "--param", "iodepth=32", "--param", "size=4m",
                           "--param", "runtime_s=0.3", "--param", "direct=false",
                           "--results", str(tmp_path / "results"), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed" and "io_uring_register failed" in doc["cases"][0]["error"]
    assert "locked-memory limit" in doc["cases"][0]["error"]
