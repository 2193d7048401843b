"""The scenario and runs on the user's own tiers (issue 22, point 5): a tmpfs tier with memory-capped containers is
refused before anything runs, saying why and what to pass; a worker the kernel's OOM killer kills in its container
is reported as such, with the container's limit; a failed step is named by its data and temp tier; tiers that
share a device are named in a warning at start and in the run document."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.reporting.table import failures
from bench.scenarios.hadoop_tempdata.scenario import check_memory_tiers
from bench.tiers.detect import detect
from tests.conftest import cli, cli_json

SHM = Path("/dev/shm")
REAL_SCENARIO = Path(__file__).resolve().parents[2] / "data" / "scenario" / "quick-1.json"


def _shm_dir(tmp_path) -> Path:
    if not SHM.is_dir():
        pytest.skip("needs /dev/shm (tmpfs)")
    folder = SHM / f"tierbench-test-{os.getpid()}-{tmp_path.name}"
    folder.mkdir()
    return folder


@pytest.fixture
def shm(tmp_path):
    folder = _shm_dir(tmp_path)
    try:
        yield folder
    finally:
        for p in sorted(folder.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        folder.rmdir()


def test_a_tmpfs_temp_tier_with_containers_is_refused_before_anything_runs(tmp_path, shm):
    hdd, nvme, store = tmp_path / "hdd", tmp_path / "nvme", tmp_path / "results"
    hdd.mkdir(), nvme.mkdir()
    proc = cli("scenario", "hadoop-tempdata", "--hdd", hdd, "--nvme", nvme, "--optane", shm, "--quick",
               "--container-mb", "70", "--results", store)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"tier optane ({shm}) is on tmpfs" in lines[0] and "70 MB container" in lines[0]
    assert "--container-mb 0" in lines[0] and "a directory on a disk for --optane" in lines[0]
    assert not store.exists() and not any(hdd.iterdir()) and not any(shm.iterdir())


def test_without_containers_a_tmpfs_tier_is_accepted(shm):
    tier = detect("optane", str(shm), "optane")
    assert tier.filesystem == "tmpfs"
    check_memory_tiers([tier], None)        # --container-mb 0 (or no memory cgroup): nothing is charged
    with pytest.raises(Exception, match="--container-mb 0"):
        check_memory_tiers([tier], 64)


def _containers_missing() -> str:
    from bench.tiers.cgroups import containers_available
    return "" if containers_available() else "needs root and a memory cgroup controller for a container"


@pytest.mark.skipif(bool(_containers_missing()), reason=_containers_missing() or "ok")
def test_a_case_killed_by_the_oom_killer_says_so_with_its_limit(tmp_path, shm):
    """A case in a 64 MB container writing 256 MiB to tmpfs: its pages are the container's memory, the kernel's
    OOM killer kills a process of the case, and the stored error says out of memory and names the limit."""
    from bench.execution.plan import Case
    from bench.execution.runner import Runner
    from bench.store.runs import Store

    store = Store(tmp_path / "results")
    runner = Runner(store, [detect("m", str(shm), "memory")], progress=False)
    case = Case(0, "seq-write-1m", "pattern", "m", "fio", {"size": 256 * 1024 ** 2, "direct": False,
                                                           "runtime_s": 5.0}, 0, memory_mb=64)
    doc = runner.run([case])
    (stored,) = doc["cases"]
    assert doc["status"] == "failed"
    assert stored["error"].startswith("out of memory: the kernel's OOM killer killed"), stored["error"]
    assert "64 MB container" in stored["error"] and stored["oom_kills"] >= 1
    assert json.loads((store.root / doc["run_id"] / "run.json").read_text())["cases"][0]["oom_kills"] >= 1
    assert not any(shm.iterdir())


def test_a_failed_step_is_named_by_its_data_and_temp_tier():
    doc = json.loads(REAL_SCENARIO.read_text())
    step = next(c for c in doc["cases"] if c.get("label") == "d")
    step["error"] = "worker died: killed by SIGKILL"
    (line,) = failures(doc)
    assert f"case {step['id']} step d terasort on hdd (temp data on optane): worker died" in line


def test_tiers_on_one_device_are_named_at_start_and_stored(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    proc = cli("run", "--tier", f"a={tmp_path / 'a'}", "--tier", f"b={tmp_path / 'b'}", "--workload", "seq-read-1m",
               "--engine", "builtin", "--quick", "--param", "size=1m", "--param", "runtime_s=0.2",
               "--results", tmp_path / "results", "--json", check=0)
    doc = json.loads(proc.stdout)
    device = doc["tiers"][0]["device"] or doc["shared_devices"][0]["device"]
    assert doc["shared_devices"] == [{"device": device, "tiers": ["a", "b"]}]
    assert f"warning: tiers a and b share one device ({device})" in proc.stderr
    alone = cli_json("run", "--tier", f"a={tmp_path / 'a'}", "--workload", "seq-read-1m", "--engine", "builtin",
                     "--quick", "--param", "size=1m", "--param", "runtime_s=0.2", "--results", tmp_path / "results")
    assert alone["shared_devices"] == []
