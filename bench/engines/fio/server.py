"""A fio server (`fio --server=ip:ADDR,PORT`) started and stopped with a pid file: `tierbench serve`.

A fio server runs any job file it is sent, as the user it runs as: it must listen on a private address only.
So the address is always given, and the wildcard addresses (0.0.0.0, ::) are refused unless asked for.
The server runs in its own session (its pid is its process group: fio forks a process per connection and per
job, and stopping the server stops them too); the pid file records its pid and start time, so that a pid reused
by another process is never signalled.

A pid file is tierbench's only when it carries the marker {"tierbench": "fio-server", "pid", "start_time",
"address", "port"}: any other file named by --pid-file is neither trusted nor removed (`serve stop x --pid-file
notes.txt` leaves notes.txt alone, exit 2). The pid file and the log are written under bench.core.outpath's
rule (a regular file or a new name in an existing folder), checked before fio starts, so a refused path leaves
no server behind. `start` waits until fio's own process listens on the port: fio exits 0 after "fio: bind:
Address already in use" when the port is taken (fio 3.33), and a bare connect would find the other program.
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
from bench.core.outpath import checked_output_path, open_output_file, write_output_file
from bench.core.userfile import SMALL_FILE, check_json_depth, read_user_text
from bench.engines.fio.run import fio_binary

__all__ = ["server_argument", "default_pid_file", "start_server", "stop_server", "server_status", "WILDCARDS"]

WILDCARDS = ("0.0.0.0", "::", "*", "")
MARKER = "fio-server"          # the value of "tierbench" in a pid file tierbench wrote
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
    checked_output_path(pid_file, what="--pid-file")
    checked_output_path(log, what="--log")
    if pid_file.exists():
        running = server_status(pid_file)
        if running is not None:
            raise UserError(f"serve: a fio server already runs for {pid_file} (pid {running['pid']})")
    if not workdir.is_dir():
        raise UserError(f"serve: --dir {workdir} is not a directory")
    holder = _listener(address, port)
    if holder is not None:      # fio binds with SO_REUSEPORT: a second fio server would share the port
        raise UserError(f"serve: {address}:{port} is already served ({holder}): stop it first, or pick another "
                        "port")
    binary = fio_binary(fio)
    start = log.stat().st_size if log.is_file() else 0
    with open_output_file(log, what="--log", append=True) as out:
        proc = subprocess.Popen([binary, f"--server={server_argument(address, port)}"], cwd=workdir,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _fio_listens(proc.pid, port):
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(log, "rb") as f:
                    f.seek(start)
                    said = f.read(8192).decode(errors="replace")
                tail = " | ".join(said.strip().splitlines()[-3:]) or "no output"
                raise UserError(f"serve: fio --server={server_argument(address, port)} did not start "
                                f"listening: {tail}")
            time.sleep(0.05)
        info = {"tierbench": MARKER, "pid": proc.pid, "start_time": psutil.Process(proc.pid).create_time(),
                "address": address, "port": port, "log": str(log), "workdir": str(workdir)}
        write_output_file(pid_file, json.dumps(info) + "\n", what="--pid-file")
    except BaseException:
        _stop_group(proc.pid)
        proc.wait()
        raise
    return info


def _listener(address: str, port: int) -> Optional[str]:
    """Who listens on address:port already ("pid N: COMMAND", or "a program this user cannot see"), or None.
    A bare connect: fio's server drops a connection that sends nothing."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    target = address if address not in WILDCARDS else "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        if s.connect_ex((target, port)) != 0:
            return None
    try:
        for c in psutil.net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid \
                    and c.laddr.ip in (address, target, *WILDCARDS):
                cmd = " ".join(psutil.Process(c.pid).cmdline())[:80]
                return f"pid {c.pid}: {cmd}"
    except psutil.Error:
        pass        # not allowed to list others' sockets: say so below
    return "a program this user cannot see"


def _fio_listens(pid: int, port: int) -> bool:
    """Whether the process `pid` itself holds a listening socket on `port` (not whoever else may)."""
    try:
        proc = psutil.Process(pid)
        connections = proc.net_connections(kind="inet") if hasattr(proc, "net_connections") \
            else proc.connections(kind="inet")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections)


def read_pid_file(pid_file: Path) -> dict:
    """The record of a pid file tierbench wrote (with its marker); UserError for any other file, which is
    then neither trusted nor touched."""
    text = read_user_text(pid_file, what="--pid-file", limit=SMALL_FILE)
    try:
        check_json_depth(text, where=f"--pid-file {pid_file}")
        info = json.loads(text)
    except (ValueError, UserError):
        info = None
    ok = (isinstance(info, dict) and info.get("tierbench") == MARKER
          and isinstance(info.get("pid"), int) and not isinstance(info.get("pid"), bool) and info["pid"] > 0
          and isinstance(info.get("start_time"), (int, float)) and isinstance(info.get("address"), str)
          and isinstance(info.get("port"), int))
    if not ok:
        raise UserError(f"serve: {pid_file} is not a pid file written by `tierbench serve` (no tierbench marker): "
                        "left as it is")
    return info


def server_status(pid_file: Path) -> Optional[dict]:
    """The pid file's record when its fio server still runs (same pid and start time, a fio --server process),
    else None. UserError when the file is not a pid file tierbench wrote (read_pid_file)."""
    if not os.path.lexists(pid_file):
        return None
    info = read_pid_file(pid_file)
    try:
        proc = psutil.Process(int(info["pid"]))
        same = abs(proc.create_time() - float(info["start_time"])) < 1.0
        is_server = any(arg.startswith("--server") for arg in proc.cmdline())
    except (OSError, ValueError, psutil.Error):
        return None
    return info if same and is_server and proc.status() != psutil.STATUS_ZOMBIE else None


def stop_server(pid_file: Path) -> Optional[dict]:
    """Stop the pid file's fio server and its jobs (SIGTERM to its process group, SIGKILL after STOP_GRACE_S);
    remove the pid file. Returns the record of the server stopped, None when none was running (a stale pid
    file of tierbench's is removed too). UserError when there is no pid file, or it is not tierbench's."""
    if not os.path.lexists(pid_file):
        raise UserError(f"serve stop: no pid file {pid_file} (was the server started with `tierbench serve`?)")
    info = server_status(pid_file)
    if info is not None:
        _stop_group(int(info["pid"]))
    pid_file.unlink(missing_ok=True)
    return info


def _stop_group(pid: int) -> None:
    """SIGTERM to the server's process group, SIGKILL after STOP_GRACE_S to the group and to every process below
    the server found before: the process fio forks to serve a client may have left the group, and one blocked
    sending a job's results (its logs) to a client that is gone does not act on SIGTERM (seen with fio 3.33: a
    server child stuck in tcp_sendmsg after the link to its client was cut)."""
    try:
        below = [(p, p.create_time()) for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        below = []
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
    for proc, started in below:
        try:
            if proc.create_time() == started:      # the same process, not a new one with its number
                proc.kill()
        except psutil.Error:
            pass        # it ended meanwhile
