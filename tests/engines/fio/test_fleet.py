"""Fleet runs through fio's client/server mode, with real fio servers started by `tierbench serve` on loopback
addresses (127.0.0.1 and 127.0.0.2: the whole 127.0.0.0/8 is loopback, no root needed), on free ports.

Every server a test starts is stopped by its fixture's finalizer, whatever the test did; the last test checks
that none is left. Figures are checked against fio's own output file of the run (raw/caseNNN.fio.json), read
with the json module alone."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.core.errors import UserError
from bench.execution.hosts import Host, fleet_tiers, hosts_from_args, parse_host
from bench.store.intervals import read_intervals
from kernels.latency_bins import merge_bins, percentile_from_bins
from tests.conftest import ROOT, cli

pytestmark = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")

QUICK = ["--param", "runtime_s=1", "--param", "size=4m", "--param", "iodepth=1"]


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


@pytest.fixture
def servers(tmp_path):
    """start(address) -> (host spec ADDR:PORT, pid file): a fio server started with `tierbench serve start`;
    every one stopped at the end (`serve stop`, and its process group killed if that failed)."""
    yield from serving(tmp_path)


def serving(tmp_path):
    """The `servers` fixture's body (a generator), for other test modules' fixtures."""
    started = []

    def start(address: str):
        port = free_port(address)
        pid_file = tmp_path / f"server-{address}-{port}.pid"
        workdir = tmp_path / f"server-{address}-{port}"
        workdir.mkdir()
        started.append(pid_file)
        cli("serve", "start", f"{address}:{port}", "--pid-file", pid_file, "--dir", workdir, check=0)
        return f"{address}:{port}", pid_file

    yield start
    for pid_file in started:
        pid = json.loads(pid_file.read_text())["pid"] if pid_file.exists() else None
        if pid_file.exists():
            cli("serve", "stop", "x", "--pid-file", pid_file)
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def fio_output(store: Path, doc: dict, plan_id: int) -> dict:
    text = (store / doc["run_id"] / "raw" / f"case{plan_id:03d}.fio.json").read_text()
    return json.loads(text[text.index("{"):])


def by_host(doc: dict) -> dict:
    return {c["host"]: c for c in doc["cases"]}


def test_two_hosts_per_host_and_fleet_figures_match_fios_own(servers, tmp_path, store):
    (a, _), (b, _) = servers("127.0.0.1"), servers("127.0.0.2")
    tier, tier_b = tmp_path / "tier", tmp_path / "tier-b"      # the second host has a path of its own
    tier.mkdir()
    tier_b.mkdir()
    proc = cli("run", "--host", a, "--host", b, "--tier", f"t={tier}", "--tier", f"t={tier_b}@{b}",
               "--workload", "rand-read-4k", *QUICK, "--results", store, "--json", check=0)
    doc = json.loads(proc.stdout)
    assert doc["status"] == "complete"
    assert [h["name"] for h in doc["hosts"]] == [a, b]
    assert [h["tiers"] for h in doc["hosts"]] == [{"t": str(tier)}, {"t": str(tier_b)}]
    assert all(h["fio_version"].startswith("fio-") for h in doc["hosts"])
    jobs = [(Path(store) / doc["run_id"] / "raw" / f"case000.h{i}.fio").read_text() for i in (0, 1)]
    assert f"directory={tier}\n" in jobs[0] and f"directory={tier_b}\n" in jobs[1]
    cases = by_host(doc)
    assert list(cases) == [a, b, "fleet"] and {c["plan_id"] for c in doc["cases"]} == {0}
    raw = fio_output(Path(store), doc, 0)
    entries = {(e["hostname"], e["port"]): e for e in raw["client_stats"] if e["jobname"] != "All clients"}
    [all_clients] = [e for e in raw["client_stats"] if e["jobname"] == "All clients"]
    for spec in (a, b):
        address, port = spec.split(":")
        entry = entries[(address, int(port))]["read"]
        metrics = cases[spec]["metrics"]
        assert metrics["iops"] == pytest.approx(entry["iops"], rel=1e-6)
        assert metrics["ops_read"] == entry["total_ios"]
        assert metrics["lat_p99_us"] == pytest.approx(entry["clat_ns"]["percentile"]["99.000000"] / 1000, rel=1e-9)
    fleet = cases["fleet"]["metrics"]
    assert fleet["iops"] == pytest.approx(all_clients["read"]["iops"], rel=1e-6)          # fio's "All clients"
    assert fleet["read_bytes_per_s"] == pytest.approx(all_clients["read"]["bw_bytes"], abs=1)
    assert fleet["ops_read"] == all_clients["read"]["total_ios"]
    bins = merge_bins(*({int(k): v for k, v in e["read"]["clat_ns"]["bins"].items()} for e in entries.values()))
    assert fleet["lat_p99_us"] == percentile_from_bins(bins, 99.0) / 1000       # merged bins, not an average
    # the files fio made on the tiers are gone (unlink at their last use): nothing is left on the hosts
    assert list(tier.iterdir()) == [] and list(tier_b.iterdir()) == []
    # figures over time per host (issue 22), from the I/Os each server logged, adding up to fio's own totals
    rows = read_intervals(Path(store) / doc["run_id"])
    assert sorted(set(rows["host"])) == sorted([a, b]) and "intervals" not in cases["fleet"]
    for spec in (a, b):
        mine = rows.filter(rows["host"] == spec)
        assert cases[spec]["intervals"]["rows"] == mine.height >= 1
        assert mine["ops"].sum() == cases[spec]["metrics"]["ops_read"] and set(mine["direction"]) == {"read"}
        assert mine["lat_p99_us"].null_count() == 0 and (mine["t_end_s"] > mine["t_start_s"]).all()


# Two reporting groups on each host: a writer, then two readers at once, for per-host intervals by group.
FLEET_JOBS = """\
[global]
directory=/srv/data
size=1m
bs=4k
ioengine=psync

[writer]
rw=write

[seq]
stonewall
rw=read
filename=writer.0.0
runtime=1
time_based=1

[rand]
rw=randread
runtime=1
time_based=1
"""


def test_a_job_file_on_a_fleet_stores_each_hosts_intervals_by_group(servers, tmp_path, store):
    (a, _), (b, _) = servers("127.0.0.1"), servers("127.0.0.2")
    tier = tmp_path / "tier"
    tier.mkdir()
    job = tmp_path / "two.fio"
    job.write_text(FLEET_JOBS)
    proc = cli("run", "--host", a, "--host", b, "--tier", f"t={tier}", "--job-file", job, "--interval", "0.25",
               "--results", store, "--json", check=0)
    doc = json.loads(proc.stdout)
    assert doc["status"] == "complete", proc.stderr
    cases = by_host(doc)
    rows = read_intervals(Path(store) / doc["run_id"])
    for spec in (a, b):
        mine = rows.filter(rows["host"] == spec)
        assert set(mine["phase"]) == {"writer", "seq+rand"} == {p["name"] for p in cases[spec]["phases"]}
        assert mine.filter(mine["direction"] == "write")["ops"].sum() == cases[spec]["metrics"]["ops_written"] == 256
        assert mine.filter(mine["direction"] == "read")["ops"].sum() == cases[spec]["metrics"]["ops_read"]
        assert mine.filter(mine["phase"] == "seq+rand").height >= 3        # about 1 s in 0.25 s intervals
    # fio's logs went to its working directory under raw/, which is gone with them
    assert not list((Path(store) / doc["run_id"] / "raw").glob("*fio-cwd*"))
    # the report draws each host's figures over time, under that host's case
    html = tmp_path / "r.html"
    cli("report", doc["run_id"], "-o", html, "--results", store, check=0)
    page = html.read_text()
    for spec in (a, b):
        assert f'over time {doc["run_id"]} case {cases[spec]["id"]}"' in page
    assert f'over time {doc["run_id"]} case {cases["fleet"]["id"]}"' not in page


def test_host_detect_gives_each_host_its_iops_per_gb(servers, tmp_path, store):
    """`tiers detect --json` run for each host (here: this machine, as `ssh HOST tierbench ...` would) and handed
    over with --host-detect: each host's IOPS per GB over its detected capacity, the fleet's over their sum."""
    (a, _), (b, _) = servers("127.0.0.1"), servers("127.0.0.2")
    tier, tier_b = tmp_path / "tier", tmp_path / "tier-b"
    tier.mkdir()
    tier_b.mkdir()
    for name, path in (("a.json", tier), ("b.json", tier_b)):
        (tmp_path / name).write_text(cli("tiers", "detect", "--tier", f"t={path}", "--json", check=0).stdout)
    capacity = json.loads((tmp_path / "a.json").read_text())["tiers"][0]["capacity_bytes"]
    assert capacity > 0
    base = ["run", "--host", a, "--host", b, "--tier", f"t={tier}", "--tier", f"t={tier_b}@{b}",
            "--workload", "rand-read-4k", *QUICK, "--results", store]
    proc = cli(*base, "--host-detect", f"{a}={tmp_path / 'a.json'}", "--host-detect", f"{b}={tmp_path / 'b.json'}",
               "--json", check=0)
    doc = json.loads(proc.stdout)
    assert doc["status"] == "complete"
    assert [h["detected"]["tiers"]["t"]["path"] for h in doc["hosts"]] == [str(tier), str(tier_b)]
    cases = by_host(doc)
    gb = capacity / 1e9          # both folders are on this machine's disk: the same capacity twice
    for spec in (a, b):
        m = cases[spec]["metrics"]
        assert m["iops_per_gb"] == pytest.approx(m["iops"] / gb, rel=1e-9)
    fleet = cases["fleet"]["metrics"]
    assert fleet["iops_per_gb"] == pytest.approx(fleet["iops"] / (2 * gb), rel=1e-9)
    # without it, a fleet's IOPS per GB is missing, never 0; a detection made at another path is refused
    doc = json.loads(cli(*base, "--json", check=0).stdout)
    assert all("iops_per_gb" not in c["metrics"] for c in doc["cases"])
    proc = cli(*base, "--host-detect", f"{a}={tmp_path / 'b.json'}")
    assert proc.returncode == 2 and "detected at" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli(*base, "--host-detect", f"127.0.0.9:1={tmp_path / 'a.json'}")
    assert proc.returncode == 2 and "HOST=FILE" in proc.stderr


def test_a_host_that_does_not_listen_is_refused_before_the_run(servers, tmp_path, store):
    (a, _) = servers("127.0.0.1")
    dead = f"127.0.0.2:{free_port('127.0.0.2')}"
    proc = cli("run", "--host", a, "--host", dead, "--tier", f"t={tmp_path}", "--workload", "rand-read-4k",
               *QUICK, "--results", store)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{dead} (connection refused)" in proc.stderr and "1 of 2 hosts" in proc.stderr
    assert not Path(store).exists() or not any(Path(store).iterdir())


def test_another_fio_version_is_refused_with_the_list(servers, tmp_path, store):
    """Client and servers must run one fio build: this machine's fio, here a wrapper that reports another
    version (and runs the real fio otherwise), is compared with what each server's probe says."""
    (a, _) = servers("127.0.0.1")
    wrapper = tmp_path / "bin" / "fio"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = --version ] && {{ echo fio-3.99; exit 0; }}\nexec {shutil.which("fio")} "$@"\n')
    wrapper.chmod(0o755)
    proc = cli("run", "--host", a, "--tier", f"t={tmp_path}", "--workload", "rand-read-4k", *QUICK,
               "--results", store, env={"PATH": f"{wrapper.parent}:{os.environ['PATH']}"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"fio versions differ (client and servers must run the same fio): this machine fio-3.99, {a} fio-3." \
        in proc.stderr


def _job_processes(pid: int) -> list:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def break_mid_case(args: list, server_pid: int, tier: Path, address: str, action, timeout: float) -> tuple:
    """Run `tierbench ARGS` in the background; once the case (not the probe) runs on the server at `address`
    (its job processes live and its files on the tier), wait a second, call `action()`, and return the run's
    (returncode, stdout, stderr). The run is killed if the test fails first."""
    run = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not _job_processes(server_pid) or not list(tier.glob(address + "*")):
            assert time.monotonic() < deadline, f"the case never started on {address}"
            time.sleep(0.05)
        time.sleep(1.0)
        action()
        stdout, stderr = run.communicate(timeout=timeout)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    return run.returncode, stdout, stderr


def test_a_server_killed_mid_case_fails_its_host_and_keeps_the_other(servers, tmp_path, store):
    (a, _), (b, b_pid_file) = servers("127.0.0.1"), servers("127.0.0.2")
    b_pid = json.loads(b_pid_file.read_text())["pid"]
    tier = tmp_path / "tier"
    tier.mkdir()
    rc, stdout, stderr = break_mid_case(
        ["run", "--host", a, "--host", b, "--tier", f"t={tier}", "--workload", "rand-read-4k", "--param", "runtime_s=4",
         "--param", "size=4m", "--param", "iodepth=1", "--results", str(store), "--json"],
        b_pid, tier, "127.0.0.2", lambda: os.killpg(b_pid, signal.SIGKILL), timeout=120)   # server and jobs
    assert rc == 1, stderr
    doc = json.loads(stdout)
    assert doc["status"] == "partial"
    cases = by_host(doc)
    assert cases[b]["error"] == f"host {b}: no results: disconnected during the run"
    assert "iops" not in cases[b]["metrics"]
    assert cases[a]["error"] is None and cases[a]["metrics"]["iops"] > 0
    raw = fio_output(Path(store), doc, 0)
    [entry] = [e for e in raw["client_stats"] if e["jobname"] != "All clients"]
    assert cases[a]["metrics"]["iops"] == pytest.approx(entry["read"]["iops"], rel=1e-6)
    assert cases["fleet"]["error"].startswith("fleet incomplete (1 of 2 hosts failed): host " + b)
    shutil.rmtree(tier)      # the killed server's files (no unlink ran for them)


def test_host_specs_and_tier_paths_per_host(tmp_path):
    assert parse_host("node1") == Host("node1", 8765) and parse_host("node1").client == "node1,8765"
    assert parse_host("10.0.0.5:9000").name == "10.0.0.5:9000"
    assert parse_host("[fd00::5]:9000").client == "ip6:fd00::5,9000"
    for bad in ("0.0.0.0", "fleet", "node1:0", "node1:x", "a b", "[fd00::5"):
        with pytest.raises(UserError):
            parse_host(bad)
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("# the rack\nnode1\nnode2:9000  # second\n\n")
    hosts = hosts_from_args(["node0"], str(hosts_file))
    assert [h.name for h in hosts] == ["node0", "node1", "node2:9000"]
    with pytest.raises(UserError, match="given twice"):
        hosts_from_args(["node1", "node1:8765"], None)
    tiers, paths = fleet_tiers(["data=/mnt/d1@node1", "data=/mnt/d0:hdd", "data=/mnt/d2@node2:9000"], hosts)
    assert paths == {"data": {"node0": "/mnt/d0", "node1": "/mnt/d1", "node2:9000": "/mnt/d2"}}
    assert tiers[0].cls == "hdd"
    with pytest.raises(UserError, match="tier data has no path on host node0"):
        fleet_tiers(["data=/mnt/d1@node1", "data=/mnt/d2@node2:9000"], hosts)
    with pytest.raises(UserError, match="system"):
        fleet_tiers(["data=/etc"], hosts)
    with pytest.raises(UserError, match="absolute"):
        fleet_tiers(["data=rel/dir"], hosts)


@pytest.mark.parametrize("args, words", [
    (["--engine", "builtin"], "only --engine fio"),
    (["--workload", "terasort"], "terasort is a job"),
    ([], "give the tiers"),
])
def test_what_cannot_run_on_the_hosts_is_refused(args, words, tmp_path, store):
    tier = [] if not args else ["--tier", f"t={tmp_path}"]
    proc = cli("run", "--host", "127.0.0.1:1", *tier, *args, "--results", store)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr


def test_serve_refuses_every_network_and_stops_what_it_started(tmp_path):
    proc = cli("serve", "start", "0.0.0.0", "--pid-file", tmp_path / "p.pid")
    assert proc.returncode == 2 and "runs any job" in proc.stderr
    port = free_port("127.0.0.1")
    pid_file = tmp_path / "s.pid"
    try:
        cli("serve", "start", f"127.0.0.1:{port}", "--pid-file", pid_file, "--dir", tmp_path, check=0)
        pid = json.loads(pid_file.read_text())["pid"]
        assert "--server=ip:127.0.0.1," in " ".join(psutil.Process(pid).cmdline())
        again = cli("serve", "start", f"127.0.0.1:{port}", "--pid-file", pid_file)
        assert again.returncode == 2 and "already runs" in again.stderr
        assert cli("serve", "status", f"127.0.0.1:{port}", "--pid-file", pid_file).returncode == 0
    finally:
        cli("serve", "stop", f"127.0.0.1:{port}", "--pid-file", pid_file)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not pid_file.exists()
    assert cli("serve", "status", f"127.0.0.1:{port}", "--pid-file", pid_file).returncode == 1


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def namespace_host(tmp_path):
    """A fio server (started with `tierbench serve` inside it) in a network namespace joined to this one by a
    veth pair: (host spec ADDR:PORT, the veth end on this side, the server's pid file). Root only; the server,
    the namespace and the veth pair are removed at the end whatever happened."""
    yield from namespace_serving(tmp_path)


def namespace_serving(tmp_path):
    """The `namespace_host` fixture's body (a generator), for other test modules' fixtures."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("a network namespace needs root and iproute2 (ip)")
    tag = os.getpid() % 100000
    ns, outside, inside = f"tbfleet{tag}", f"tbfh{tag}", f"tbfn{tag}"
    subnet = f"10.231.{tag % 250}"
    pid_file = tmp_path / "ns-server.pid"
    workdir = tmp_path / "ns-server"
    workdir.mkdir()
    try:
        _ip("netns", "add", ns)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", ns)
        _ip("addr", "add", f"{subnet}.1/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("netns", "exec", ns, "ip", "addr", "add", f"{subnet}.2/30", "dev", inside)
        _ip("netns", "exec", ns, "ip", "link", "set", inside, "up")
        _ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")     # the server's own address routes via lo
        spec = f"{subnet}.2:{8765 + tag % 1000}"
        proc = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "bench", "serve", "start", spec,
                               "--pid-file", str(pid_file), "--dir", str(workdir)], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        yield spec, outside, pid_file
    finally:
        if pid_file.exists():
            cli("serve", "stop", "x", "--pid-file", pid_file)
        _kill_namespace_processes(ns)
        subprocess.run(["ip", "link", "del", outside], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def _kill_namespace_processes(ns: str) -> None:
    """SIGKILL every process still in network namespace `ns` (`ip netns pids`) and wait until they are gone:
    `serve stop` may have missed a server or a job it forked (seen once on a busy machine), and deleting the
    namespace does not end its processes."""
    listed = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30)
    procs = []
    for pid in listed.stdout.split():
        try:
            procs.append(psutil.Process(int(pid)))
            procs[-1].kill()
        except (ValueError, psutil.Error):
            pass
    psutil.wait_procs(procs, timeout=30)


def test_a_partition_fails_the_cut_host_and_keeps_the_other(namespace_host, servers, tmp_path, store):
    """The veth link to one host goes down mid-case (packets dropped, no reset): fio gives that host up after
    about 40 s ("timed out") and keeps the other's stats."""
    cut, outside, pid_file = namespace_host
    (a, _) = servers("127.0.0.1")
    pid = json.loads(pid_file.read_text())["pid"]
    tier = tmp_path / "tier"
    tier.mkdir()
    rc, stdout, stderr = break_mid_case(
        ["run", "--host", a, "--host", cut, "--tier", f"t={tier}", "--workload", "rand-read-4k", "--param",
         "runtime_s=3", "--param", "size=4m", "--param", "iodepth=1", "--timeout", "100", "--results", str(store),
         "--json"],
        pid, tier, cut.split(":")[0], lambda: _ip("link", "set", outside, "down"), timeout=150)
    assert rc == 1, stderr
    cases = by_host(json.loads(stdout))
    assert cases[cut]["error"].startswith(f"host {cut}: no results: timed out")
    assert cases[a]["error"] is None and cases[a]["metrics"]["iops"] > 0
    assert cases["fleet"]["error"].startswith("fleet incomplete (1 of 2 hosts failed)")


def test_compare_and_history_keep_hosts_apart(store):
    """The host is part of the case identity: two imports of one client/server output compare host by host and
    the fleet apart, never one host's figures against another's."""
    data = ROOT / "tests" / "data" / "fio" / "client-server.plus.json"
    runs = [json.loads(cli("import", data, "--results", store, "--json", check=0).stdout)["run_id"] for _ in "ab"]
    out = json.loads(cli("compare", *runs, "--results", store, "--json").stdout)
    assert [c["host"] for c in out["cases"]] == ["127.0.0.1", "127.0.0.2", "fleet"]
    assert all(c["case"].endswith("groupid=0") and f"host={c['host']}" in c["case"] for c in out["cases"])
    history = json.loads(cli("history", "--metric", "iops", "--results", store, "--json", check=0).stdout)
    series = history.get("series", history.get("cases", []))
    assert sorted(s["host"] for s in series) == ["127.0.0.1", "127.0.0.2", "fleet"]


def test_a_missing_tier_folder_on_a_host_fails_its_case_in_fios_words(servers, tmp_path, store):
    """The server drops the job ("fio: /x is not a directory" in the output it sends): the case error carries
    fio's reason, not only "no entry in fio's output"."""
    (a, _), (b, _) = servers("127.0.0.1"), servers("127.0.0.2")
    tier, missing = tmp_path / "tier", tmp_path / "not-there"
    tier.mkdir()
    proc = cli("run", "--host", a, "--host", b, "--tier", f"t={tier}", "--tier", f"t={missing}@{b}",
               "--workload", "rand-read-4k", *QUICK, "--results", store, "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["status"] != "complete", proc.stderr
    error = by_host(doc)[b]["error"]
    assert f"fio: {missing} is not a directory" in error, error
    assert by_host(doc)[a]["error"] is None


def test_a_tier_at_a_host_outside_the_run_is_refused(tmp_path, store):
    proc = cli("run", "--host", "127.0.0.1:1", "--tier", f"f={tmp_path}@127.0.0.77", "--workload", "rand-read-4k",
               *QUICK, "--results", store)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "host 127.0.0.77 is not one of this run's hosts" in proc.stderr


def test_zz_no_fio_server_is_left_running():
    """Every server the tests above started was stopped (a server of this session would name pytest's temp)."""
    left = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
            if any(a.startswith("--server") for a in (p.info["cmdline"] or []))
            and any("pytest" in str(a) for a in (p.info["cmdline"] or []) + [_cwd(p)])]
    assert left == []


def _cwd(proc) -> str:
    try:
        return proc.cwd()
    except psutil.Error:
        return ""

