"""Fuzzing the surfaces of issue 21 in-process: job files, hosts files, host-detect files, serve arguments and
pid files, Spark master URLs. The property (harness.assert_refused_or_ok): exit 2 with one line and nothing
stored, or a correct answer; never a traceback or a hang. Beyond it, rules written here from the issue, not
from the code under test: an accepted job file names no path that leaves the tier, runs no command and uses
no engine but a file engine; a file without tierbench's marker is never removed by `serve`, and no process it
names is signalled; no fio server is left by a refused `serve start`."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import psutil
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.harness import assert_refused_or_ok, fuzz_settings, invoke, no_run, run_folders
from tests.fuzz.strategies import (
    JOB_PATH_OPTIONS,
    host_detect_documents,
    hosts_files,
    job_files,
    pid_file_contents,
    serve_addresses,
    spark_master_urls,
)

needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")
FILE_ENGINES = {"", "psync", "libaio", "sync", "pvsync", "pvsync2", "posixaio", "io_uring", "mmap", "null"}


@pytest.fixture
def space(tmp_path, monkeypatch):
    tier, store = tmp_path / "tier", tmp_path / "store"
    tier.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIERBENCH_RESULTS", raising=False)
    with no_run(monkeypatch):
        yield tmp_path, tier, store


def _leaves(value: str, tier: str) -> bool:
    """Whether a path option's value (fio's ':'-separated list) names a place outside the tier."""
    for part in re.split(r"(?<!\\):", value):
        part = part.replace("\\:", ":")
        if not part:
            continue
        if "${" in part or part.startswith("$") and not part.startswith("$job") and not part.startswith("$file"):
            return True
        if os.path.isabs(part):
            if not os.path.normpath(part).startswith(tier.rstrip("/") + "/"):
                return True
        elif os.path.normpath(part).split("/")[0] == "..":
            return True
    return False


@needs_fio
@fuzz_settings(60)
@given(text=job_files())
@example(text="[j0]\nfilename=data\niodepth=1\nioengine=\x00\nsize=1m\n")   # found by this test: fio's argv
def test_job_files(space, text):
    tmp, tier, store = space
    job = tmp / "j.fio"
    job.write_text(text)
    before = run_folders(store)
    answer = invoke(["run", "--tier", f"t={tier}", "--job-file", job, "--quick", "--results", store])
    assert_refused_or_ok(answer, store, before)
    if answer.kind != "would-run":
        return
    for line in text.splitlines():
        key, _, value = line.partition("=")
        key, value = key.strip().lower(), value.strip()
        assert key not in ("exec_prerun", "exec_postrun", "cgroup"), (line, answer.describe())
        if key == "ioengine":
            assert value in FILE_ENGINES, (line, answer.describe())
        if key == "numjobs" and value.isdigit():
            assert int(value) <= 1024
        if key in JOB_PATH_OPTIONS and ";" not in value and "#" not in value:
            assert not _leaves(value, str(tier)), (line, answer.describe())
    assert not any(os.path.exists(p) for p in ("/tmp/tierbench-fuzz-esc", "/tmp/tierbench-fuzz-pwned"))


@needs_fio
@fuzz_settings(60)
@given(data=hosts_files())
def test_hosts_files(space, data):
    tmp, _, store = space
    hosts = tmp / "hosts"
    hosts.write_bytes(data)
    answer = invoke(["run", "--tier", "t=relative", "--hosts", hosts, "--workload", "seq-read-1m", "--results",
                     store])
    assert_refused_or_ok(answer, store, set(), allow_ok=False)


@needs_fio
@fuzz_settings(25)
@given(data=st.data())
def test_host_detect_files(space, data):
    tmp, _, store = space
    doc = data.draw(host_detect_documents("/srv/tier"))
    detect = tmp / "d.json"
    detect.write_bytes(doc)
    answer = invoke(["run", "--host", "127.0.0.1:1", "--tier", "t=/srv/tier", "--host-detect",
                     f"127.0.0.1:1={detect}", "--workload", "seq-read-1m", "--results", store])
    # refused by the file, or else by the probe (nothing listens on port 1)
    assert_refused_or_ok(answer, store, set(), allow_ok=False)


@pytest.fixture
def bystander():
    """A live process a look-alike pid file names: `serve` must never signal it."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _fio_servers(workdir) -> set:
    """fio servers working in `workdir` (others' servers on this machine are theirs)."""
    found = set()
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(a.startswith("--server=") for a in (p.info["cmdline"] or [])) and p.cwd() == str(workdir):
                found.add(p.pid)
        except psutil.Error:
            continue
    return found


@fuzz_settings(80)
@given(action=st.sampled_from(["stop", "status"]), address=serve_addresses(), content=pid_file_contents())
def test_serve_pid_files(tmp_path, bystander, action, address, content):
    pid_file = tmp_path / "s.pid"
    content = content.replace(b'"pid": 1,', f'"pid": {bystander},'.encode())
    pid_file.write_bytes(content)
    answer = invoke(["serve", action, address or "x", "--pid-file", pid_file])
    assert answer.kind == "exit" and answer.code in (0, 1, 2), answer.describe()
    if answer.code == 2:
        assert answer.one_line, answer.describe()
    try:
        marked = json.loads(content).get("tierbench") == "fio-server"
    except (ValueError, AttributeError, RecursionError):    # deep nesting: Python's own json gives up too
        marked = False
    if not marked:
        assert pid_file.read_bytes() == content, answer.describe()
    assert psutil.Process(bystander).status() != psutil.STATUS_ZOMBIE


@needs_fio
@fuzz_settings(40)
@given(address=serve_addresses())
def test_serve_start_refused_leaves_no_server(tmp_path, address):
    answer = invoke(["serve", "start", address or "x", "--pid-file", tmp_path / "missing" / "s.pid", "--dir",
                     tmp_path])
    assert answer.kind == "exit" and answer.code == 2 and answer.one_line, answer.describe()
    assert not _fio_servers(tmp_path)


@fuzz_settings(60)
@given(url=spark_master_urls())
def test_spark_master_urls(space, monkeypatch, url):
    import bench.engines.spark.helper as helper

    monkeypatch.setattr(helper, "helper_jar", lambda: None)    # the build is not what is fuzzed here
    _, tier, store = space
    answer = invoke(["run", "--tier", f"t={tier}", "--workload", "terasort", "--engine", "spark", "--param",
                     "records=1000", "--spark-master", url, "--results", store])
    assert_refused_or_ok(answer, store, set())
    if answer.kind == "would-run":
        match = re.fullmatch(r"spark://([A-Za-z0-9_.\-]+):(\d+)", url)
        assert match and 1 <= int(match.group(2)) <= 65535, url
