"""A fio server (`fio --server=ip:ADDR,PORT`) started and stopped with a pid file: `tierbench serve`.

A fio server runs any job file it is sent, as the user it runs as: it must listen on a private address only.
So the address is always given, and the wildcard addresses (0.0.0.0, ::) are refused unless asked for.
The server runs in its own session (its pid is its process group: fio forks a process per connection and per
job, and stopping the server stops them too); the pid file records its pid and start time, so that a pid reused
by another process is never signalled.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import psutil

from bench.core.errors import UserError
from bench.engines.fio.run import fio_binary

__all__ = ["server_argument", "default_pid_file", "start_server", "stop_server", "server_status", "WILDCARDS"]

WILDCARDS = ("0.0.0.0", "::", "*", "")
READY_TIMEOUT_S = 10.0
STOP_GRACE_S = 5.0


def server_argument(address: str, port: int) -> str:
    """fio's --server value: `ip:ADDR,PORT` (`ip6:ADDR,PORT`)."""
    return f"{'ip6' if ':' in address else 'ip'}:{address},{port}"


def default_pid_file(address: str, port: int) -> Path:
    return Path(tempfile.gettempdir()) / f"tierbench-fio-server-{address.replace(':', '_')}-{port}.pid"


def check_address(address: str, allow_any: bool) -> None:
    if address in WILDCARDS and not allow_any:
        raise UserError(f"serve: {address or 'an empty address'} listens on every network: a fio server runs any "
                        "job sent to it; bind it to a private address (or give --allow-any-address)")


def start_server(address: str, port: int, pid_file: Path, workdir: Path, log: Path, *, allow_any: bool = False,
                 fio: str = "fio") -> dict:
    """Start `fio --server` in `workdir`, wait until it accepts connections, write the pid file. Returns
    {pid, start_time, address, port, log, workdir}. UserError when one already runs for this pid file, or the
    server exits or does not listen within READY_TIMEOUT_S (with the tail of its log)."""
    check_address(address, allow_any)
    running = server_status(pid_file)
    if running is not None:
        raise UserError(f"serve: a fio server already runs for {pid_file} (pid {running['pid']})")
    if not workdir.is_dir():
        raise UserError(f"serve: --dir {workdir} is not a directory")
    binary = fio_binary(fio)
    with open(log, "ab") as out:
        proc = subprocess.Popen([binary, f"--server={server_argument(address, port)}"], cwd=workdir,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _listening(address, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop_group(proc.pid)
            proc.wait()
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:]) or "no output"
            raise UserError(f"serve: fio --server={server_argument(address, port)} did not start listening: {tail}")
        time.sleep(0.05)
    info = {"pid": proc.pid, "start_time": psutil.Process(proc.pid).create_time(), "address": address,
            "port": port, "log": str(log), "workdir": str(workdir)}
    tmp = pid_file.with_name(pid_file.name + ".tmp")
    tmp.write_text(json.dumps(info) + "\n")
    os.replace(tmp, pid_file)
    return info


def _listening(address: str, port: int) -> bool:
    """Whether something listens at address:port. A bare connect: fio's server drops a connection that sends
    nothing."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((address if address not in WILDCARDS else "127.0.0.1", port)) == 0


def server_status(pid_file: Path) -> Optional[dict]:
    """The pid file's record when its fio server still runs (same pid and start time, a fio --server process),
    else None."""
    try:
        info = json.loads(pid_file.read_text())
        proc = psutil.Process(int(info["pid"]))
        same = abs(proc.create_time() - float(info["start_time"])) < 1.0
        is_server = any(arg.startswith("--server") for arg in proc.cmdline())
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return None
    return info if same and is_server and proc.status() != psutil.STATUS_ZOMBIE else None


def stop_server(pid_file: Path) -> Optional[dict]:
    """Stop the pid file's fio server and its jobs (SIGTERM to its process group, SIGKILL after STOP_GRACE_S);
    remove the pid file. Returns the record of the server stopped, None when none was running (a stale pid
    file is removed too). UserError when there is no pid file."""
    if not pid_file.exists():
        raise UserError(f"serve stop: no pid file {pid_file} (was the server started with `tierbench serve`?)")
    info = server_status(pid_file)
    if info is not None:
        _stop_group(int(info["pid"]))
    pid_file.unlink(missing_ok=True)
    return info


def _stop_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
