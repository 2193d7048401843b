"""Shared fixtures. Tests that need root, loop devices or cgroups (v1 blkio or v2 io) skip with the reason when those are
missing; in CI (root) they run. Emulated tiers are built once per session in a private folder and always
torn down."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def emulation_missing() -> str:
    """Why emulated tiers cannot be built here ('' when they can)."""
    if os.geteuid() != 0:
        return "needs root for loop devices, mounts and blkio cgroups"
    from bench.cgroups import detect
    found = detect()
    if found["version"] == "none":
        return "needs cgroup v1 blkio or cgroup v2 with the io controller: " + "; ".join(found["missing"])
    if shutil.which("losetup") is None or shutil.which("mkfs.ext4") is None:
        return "needs losetup and mkfs.ext4"
    if not any(Path("/dev").glob("loop*")) and not Path("/dev/loop-control").exists():
        return "needs loop devices"
    return ""


needs_emulation = pytest.mark.skipif(bool(emulation_missing()), reason=emulation_missing() or "ok")
needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")


def cli(*args, env=None, check=None, timeout=600):
    """Run the real CLI in a subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "bench", *map(str, args)], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def cli_json(*args, env=None, check=0, timeout=600):
    proc = cli(*args, "--json", env=env, check=check, timeout=timeout)
    return json.loads(proc.stdout)


@pytest.fixture
def store(tmp_path):
    """A private results store; returns its path and sets TIERBENCH_RESULTS for CLI calls through env."""
    path = tmp_path / "results"
    return path


@pytest.fixture(scope="session")
def emulated():
    """Emulated hdd/nvme/optane tiers (512 MiB each) for the whole session; yields the env that points the
    CLI at them."""
    reason = emulation_missing()
    if reason:
        pytest.skip(reason)
    base = tempfile.mkdtemp(prefix="tierbench-test-emul-", dir="/var/tmp")
    env = {"TIERBENCH_EMULATE_DIR": base}
    proc = cli("tiers", "emulate", "--size", "512m", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    try:
        yield {"env": env, "doc": json.loads(proc.stdout), "dir": base}
    finally:
        down = cli("tiers", "teardown", env=env)
        shutil.rmtree(base, ignore_errors=True)
        assert down.returncode == 0, down.stderr
