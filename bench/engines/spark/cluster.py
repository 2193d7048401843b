"""A Spark standalone cluster on this machine: a master and N workers of one core each on 127.0.0.1, every
daemon in a process group of its own (its executors, which the worker starts, join that group), each worker's
SPARK_LOCAL_DIRS its own folder (on the temp tier: where Spark writes shuffle files and spills), its logs and
executors' logs under `log_dir`. `stop()` ends every group (SIGTERM, then SIGKILL) and checks that no process of
any group is left; the context manager stops it also on an exception or Ctrl-C.

Ports: the master's, each worker's and their web UIs' are free ports picked here (other tools on the machine may
hold Spark's defaults, 7077 and 8080)."""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import psutil

from bench.core.errors import CaseError, UserError

HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0
DAEMON_MEMORY = "256m"     # the master's and workers' own heaps (they schedule; the executors sort)


MASTER_PROBE_S = 5.0       # --spark-master must accept a connection within this (Spark itself retries for ~60 s)


def check_master(url: str, timeout_s: float = MASTER_PROBE_S) -> None:
    """UserError unless `url` (spark://HOST:PORT, checked by bench.execution.config.validate) accepts a TCP
    connection within `timeout_s` and answers like a Spark master (_answers_like_spark). Run before any case
    starts, so that a wrong URL costs seconds, not the ~60 s Spark's registration retries take."""
    host, _, port = url[len("spark://"):].rpartition(":")
    deadline = time.monotonic() + timeout_s
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise UserError(f"--spark-master {url}: cannot resolve {host} ({e.strerror or e})") from None
    reason = "no address"
    for family, kind, proto, _, address in infos:
        left = deadline - time.monotonic()
        if left <= 0:
            reason = f"no answer within {timeout_s:g} s"
            break
        with socket.socket(family, kind, proto) as s:
            s.settimeout(left)
            try:
                s.connect(address)
                verdict = _answers_like_spark(s, timeout_s)
                if verdict is None:
                    return
                raise UserError(f"--spark-master {url}: {host}:{port} accepts connections but {verdict}: is it "
                                "the master's RPC port (7077 by default)?")
            except socket.timeout:
                reason = f"no answer within {timeout_s:g} s"
            except OSError as e:
                reason = (e.strerror or str(e)).lower()
    raise UserError(f"--spark-master {url}: cannot connect to {host}:{port} ({reason}): is the master running?")


def _answers_like_spark(s: socket.socket, timeout_s: float) -> Optional[str]:
    """None when the peer behaves as Spark's RPC server (spark network-common's TransportServer): sent a frame
    it cannot decode (length 9, an unknown message type), it closes the connection; measured on a Spark 4
    master: closed after ~1 s, logging one warning ("Unexpected message type") and "got disassociated".
    Otherwise why not: it says something (another protocol) or stays silent for `timeout_s`."""
    s.settimeout(timeout_s)
    try:
        s.sendall(struct.pack(">qb", 9, 0x7F))
        data = s.recv(64)
    except socket.timeout:
        return f"stays silent for {timeout_s:g} s where a Spark master closes a connection it cannot decode"
    except ConnectionError:
        return None         # reset: closed, as Spark does
    return None if not data else "answers in another protocol than Spark's"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def group_processes(pgids) -> list:
    """The live processes whose process group is one of `pgids`."""
    out = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) in pgids and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return out


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


class StandaloneCluster:
    def __init__(self, spark_home: Path, workers: int, local_root: str, log_dir: Path,
                 worker_memory: str = "1g", env: Optional[dict] = None, worker_prefix: Optional[list] = None):
        self.home, self.workers = Path(spark_home), workers
        self.worker_prefix = list(worker_prefix or [])   # command words before each worker's (a tracer, a cgroup)
        self.local_dirs = [os.path.join(local_root, f"spark-worker-{i}") for i in range(1, workers + 1)]
        self.log_dir = Path(log_dir)
        self.worker_memory = worker_memory
        self.env = dict(env if env is not None else os.environ)
        self.port, self.ui_port = free_port(), free_port()
        self.procs: list = []        # (name, Popen), the master first
        self.logs: list = []

    @property
    def url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    @property
    def pgids(self) -> set:
        return {p.pid for _, p in self.procs}

    def _spawn(self, name: str, args: list, env: dict, prefix: tuple = ()) -> None:
        log = self.log_dir / f"{name}.log"
        self.logs.append(log)
        with open(log, "wb") as out:
            proc = subprocess.Popen([*prefix, str(self.home / "bin" / "spark-class"), *args], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append((name, proc))

    def start(self) -> "StandaloneCluster":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        java_tmp = os.path.join(os.path.dirname(self.local_dirs[0]), "java-tmp")   # scratch of the JVMs
        os.makedirs(java_tmp, exist_ok=True)
        base = {**self.env, "SPARK_HOME": str(self.home), "SPARK_LOCAL_IP": HOST, "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
                "SPARK_NO_DAEMONIZE": "1", "SPARK_DAEMON_JAVA_OPTS": f"-Djava.io.tmpdir={java_tmp} -XX:-UsePerfData"}
        self._spawn("master", ["org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(self.port),
                               "--webui-port", str(self.ui_port)], base)
        for i, local in enumerate(self.local_dirs, 1):
            os.mkdir(local)
            work = self.log_dir / f"worker-{i}-work"       # executors' stdout/stderr, per application
            work.mkdir()
            self._spawn(f"worker-{i}", ["org.apache.spark.deploy.worker.Worker", "--host", HOST,
                                        "--port", str(free_port()), "--webui-port", str(free_port()),
                                        "--cores", "1", "--memory", self.worker_memory, "--work-dir", str(work),
                                        self.url], {**base, "SPARK_LOCAL_DIRS": local}, self.worker_prefix)
        self._wait_alive()
        return self

    def state(self) -> Optional[dict]:
        """The master's JSON state (its web UI's /json/), None while it does not answer."""
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.ui_port}/json/", timeout=5) as r:
                return json.load(r)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def _wait_alive(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise CaseError(f"spark {name} exited with status {proc.returncode} while starting: "
                                    f"{_tail(self.log_dir / f'{name}.log')}")
            state = self.state()
            alive = sum(1 for w in (state or {}).get("workers", []) if w.get("state") == "ALIVE")
            if alive >= self.workers:
                return
            time.sleep(0.5)
        raise CaseError(f"spark cluster: {self.workers} worker(s) not registered with the master after "
                        f"{START_TIMEOUT_S:.0f} s; see the logs in {self.log_dir.name}/")

    def lost(self) -> list:
        """What the cluster lost while it ran: daemons whose process ended (a killed worker or master JVM), and
        workers the master no longer lists ALIVE (when it answers). Each as one phrase."""
        out = [f"{name} exited with status {proc.returncode}" for name, proc in self.procs if proc.poll() is not None]
        state = self.state()
        if state is not None:
            alive = sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")
            if alive < self.workers:
                out.append(f"the master lists {alive} of {self.workers} workers alive")
        return out

    def stop(self) -> None:
        """End every daemon's process group (executors included) and check that none is left: CaseError if a
        process survives SIGKILL."""
        pgids = self.pgids
        for _, proc in reversed(self.procs):        # workers first, then the master
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE_S
        for _, proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for pgid in pgids:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _, proc in self.procs:
            proc.wait()
        left, deadline = group_processes(pgids), time.monotonic() + 5
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = group_processes(pgids)
        self.procs = []
        if left:
            raise CaseError(f"spark cluster: {len(left)} process(es) survived SIGKILL: "
                            + ", ".join(str(p.pid) for p in left))

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False
