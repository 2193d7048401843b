"""After a fleet case whose fio client did not end normally (killed, timed out, a host without results): wait
until every fio server has finished the case's job before the next case starts.

Why: a fio server forks a process per connection and runs the job there; when the client dies, the server's
job goes on until its own end (about 8 s into the next case was seen), and the next case's figures then include
its load. fio's protocol has no "is a job running" question, and each new connection is served by a new fork, so
a probe says nothing. What can be seen is a server on this machine: the process listening at the host's
address and port, and its job processes (its children). A server on another machine cannot be seen from here:
its host's error says so, never that it finished.
"""
from __future__ import annotations

import socket
import time
from typing import Optional

import psutil

__all__ = ["local_server", "drain", "unsure"]

POLL_S = 0.1


def local_server(address: str, port: int) -> Optional[psutil.Process]:
    """The process on this machine listening at address:port (a fio server), or None (another machine, or
    nothing listens)."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for c in connections:
        if c.status == psutil.CONN_LISTEN and c.pid and c.laddr and c.laddr.port == int(port) \
                and c.laddr.ip in (address, "0.0.0.0", "::"):
            try:
                return psutil.Process(c.pid)
            except psutil.NoSuchProcess:
                return None
    return None


def _on_this_machine(address: str) -> bool:
    """Whether `address` is one of this machine's (a socket can bind to it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
        return True
    except OSError:
        return False


def _busy(server: psutil.Process) -> list:
    try:
        return [p for p in server.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []


def drain(hosts: list, deadline_s: float) -> dict:
    """{host name: note} for each host ({"name", "address", "port"}): waits (up to deadline_s seconds in all)
    until the server of every host on this machine has no job process left. The note is "" when its server is
    idle (or gone), else one phrase for the host's error: still running at the deadline, or not on this machine."""
    start = time.monotonic()
    servers = {h["name"]: local_server(h["address"], h["port"]) for h in hosts}
    notes = {name: "" for name in servers}
    waiting = {name: s for name, s in servers.items() if s is not None}
    while waiting and time.monotonic() - start < deadline_s:
        waiting = {name: s for name, s in waiting.items() if _busy(s)}
        if waiting:
            time.sleep(POLL_S)
    waited = time.monotonic() - start
    for h in hosts:
        name, server = h["name"], servers[h["name"]]
        if server is None and _on_this_machine(h["address"]):
            continue            # nothing listens there any more: its server (and its job) is gone
        if server is None:
            notes[name] = ("whether its fio server finished the job cannot be told from here (not on this "
                           "machine): the next case may overlap it")
        elif name in waiting:
            notes[name] = (f"its fio server still ran the job {waited:.0f} s after the client ended: the next "
                           f"case would overlap it")
        elif waited >= 0.5:
            notes[name] = f"its fio server finished the job {waited:.1f} s after the client ended (waited for it)"
    return notes


def unsure(notes: dict) -> dict:
    """The hosts of drain()'s notes whose server may still run the job (still running at the deadline, or not
    visible from here): the fleet run must not start another case on them."""
    return {name: note for name, note in notes.items() if "still ran" in note or "cannot be told" in note}
