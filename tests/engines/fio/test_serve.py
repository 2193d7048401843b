"""`tierbench serve` touches only what it made: pid files with tierbench's marker, fio's own bind error when
the port is taken, no second server on a served port, folders that must exist (and no server left behind when
they do not), IPv6 addresses. Real fio servers on loopback; every one a test starts is stopped at its end."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import psutil
import pytest

from bench.execution.hosts import Host, parse_host
from tests.conftest import cli

pytestmark = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio on PATH (apt-get install fio)")


def free_port(address: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def fio_servers_on(port: int) -> list:
    return [p for p in psutil.process_iter(["cmdline"])
            if any(a.startswith("--server=") and a.endswith(f",{port}") for a in (p.info["cmdline"] or []))]


@pytest.fixture
def serve(tmp_path):
    """start(address, port, pid file name, *extra) -> CompletedProcess; every server started is stopped."""
    pid_files = []

    def start(address, port, name="s.pid", *extra):
        pid_file = tmp_path / name
        pid_files.append(pid_file)
        spec = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        return cli("serve", "start", spec, "--pid-file", pid_file, "--dir", tmp_path, *extra, timeout=60)

    yield start
    for pid_file in pid_files:
        if pid_file.exists():
            cli("serve", "stop", "x", "--pid-file", pid_file, timeout=60)


def one_error_line(proc) -> str:
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_a_file_without_tierbenchs_marker_is_left_alone(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    lookalike = tmp_path / "old.pid"
    lookalike.write_text(json.dumps({"pid": os.getpid(), "start_time": psutil.Process().create_time()}))
    for f in (notes, lookalike):
        for action in ("stop", "status", "start"):
            address = "x" if action != "start" else f"127.0.0.1:{free_port()}"
            assert "no tierbench marker" in one_error_line(cli("serve", action, address, "--pid-file", f))
    assert notes.read_text() == "my notes\n" and lookalike.exists()


def test_a_taken_port_fails_with_fios_bind_error_and_no_server_is_left(serve, tmp_path):
    port = free_port()
    holder = subprocess.Popen([sys.executable, "-c", "import socket,sys,time\n"
                               f"s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); print(1, flush=True)\n"
                               "time.sleep(60)"], stdout=subprocess.PIPE)
    try:
        holder.stdout.readline()
        says = one_error_line(serve("127.0.0.1", port))
        assert f"127.0.0.1:{port} is already served (pid {holder.pid}" in says
        assert not (tmp_path / "s.pid").exists() and not fio_servers_on(port)
    finally:
        holder.kill()
        holder.wait()


def test_a_second_start_on_a_served_port_is_refused(serve, tmp_path):
    port = free_port()
    assert serve("127.0.0.1", port).returncode == 0
    first = json.loads((tmp_path / "s.pid").read_text())
    assert first["tierbench"] == "fio-server" and first["port"] == port
    says = one_error_line(serve("127.0.0.1", port, "other.pid"))
    assert f"is already served (pid {first['pid']}" in says
    assert not (tmp_path / "other.pid").exists() and [p.pid for p in fio_servers_on(port)] == [first["pid"]]
    assert cli("serve", "stop", "x", "--pid-file", tmp_path / "s.pid").returncode == 0
    assert not fio_servers_on(port) and not (tmp_path / "s.pid").exists()


def test_missing_folders_and_bad_logs_leave_no_server(serve, tmp_path):
    port = free_port()
    for name, extra, says in [("nope/s.pid", (), "--pid-file"), ("s.pid", ("--log", tmp_path / "nope" / "l.log"),
                                                                          "--log"),
                              ("s.pid", ("--log", tmp_path), "is a directory"),
                              ("s.pid", ("--log", "/dev/full"), "character device")]:
        assert says in one_error_line(serve("127.0.0.1", port, name, *extra))
        assert not fio_servers_on(port)
    assert not (tmp_path / "s.pid").exists()


def test_ipv6_addresses_are_parsed():
    assert parse_host("::1:18787") == Host("::1", 18787)
    assert parse_host("[::1]:18787") == Host("::1", 18787)
    assert parse_host("fd00::5") == Host("fd00::5")          # a whole address: the default port


def test_serve_on_ipv6_loopback(serve, tmp_path):
    try:
        port = free_port("::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    proc = cli("serve", "start", f"::1:{port}", "--pid-file", tmp_path / "s.pid", "--dir", tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "s.pid").read_text())
    assert info["address"] == "::1" and info["port"] == port
    assert cli("serve", "stop", "x", "--pid-file", tmp_path / "s.pid").returncode == 0
    assert not fio_servers_on(port)
