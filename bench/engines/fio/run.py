"""Run fio on a job file and hand back what it wrote; the only module here that runs fio jobs (fio's servers are
started by bench.engines.fio.server).

fio always writes its report to a file (`--output=FILE`), never to stdout: in client/server mode stdout held
only one client's stats (seen with fio 3.33), and notes fio prints on stdout would otherwise be mixed
into the JSON. fio runs in its own session so that a timeout can signal its process group; its job
processes call setsid() and outlive a SIGKILL of fio, so they are found in /proc and killed as well. When the
caller is interrupted (Ctrl-C, or the worker's SIGTERM raised as KeyboardInterrupt) fio is stopped the same way
before the interrupt goes on, since neither signal reaches fio's session.

fio exits 0 when one of its job processes is killed (SIGKILL of a job: "fio: pid=N, got signal=9" on stderr,
and a report with 0 bytes in 0 s for that job, tests/data/fio/killed-job.*): such a run is refused here.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Optional

from bench.core.errors import CaseError, UserError

__all__ = ["run_fio", "run_fio_clients", "check_jobfile", "check_engines", "fio_binary", "fio_version", "fio_command",
           "killed_jobs"]

INSTALL_HINT = ("install it with 'sudo apt-get install fio' (Debian/Ubuntu), 'sudo dnf install fio' "
                "(Fedora/RHEL) or 'brew install fio' (macOS), or run with --engine builtin")
STDERR_TAIL_CHARS = 2000
TERM_GRACE_S = 5.0        # after SIGTERM fio stops its jobs and exits; SIGKILL if it has not by then
INTERRUPT_GRACE_S = 2.0   # the same when the caller is interrupted (the runner waits 10 s for its worker)


def fio_command(jobfile_path: str, output_path: str, fio: str = "fio",
                status_interval_s: Optional[float] = None) -> list:
    """The argument list `run_fio` runs. status_interval_s: fio appends a cumulative report to the output every
    so many seconds (--status-interval, in whole milliseconds), then its final report."""
    argv = [fio, "--output-format=json+", f"--output={output_path}"]
    if status_interval_s is not None:
        argv.append(f"--status-interval={max(1, round(status_interval_s * 1000))}ms")
    return argv + [str(jobfile_path)]


def run_fio(jobfile_path: str, output_path: str, *, timeout_s: float, fio: str = "fio",
            cwd: Optional[str] = None, status_interval_s: Optional[float] = None) -> str:
    """Run `fio --output-format=json+ --output=OUTPUT JOBFILE` and return the text fio wrote to OUTPUT
    (with status_interval_s, every status report before the final one: bench.engines.fio.intervals).

    timeout_s: seconds before fio and its job processes are killed (CaseError "fio timed out after N s").
    Raises UserError when the fio binary or the job file is missing, CaseError when fio exits non-zero,
    is killed by a signal, or writes no output (the message ends with the tail of fio's stderr).
    """
    binary = fio_binary(fio)
    if not Path(jobfile_path).is_file():
        raise UserError(f"fio job file not found: {jobfile_path}")
    rc, stdout, stderr = _run(fio_command(jobfile_path, output_path, binary, status_interval_s), output_path,
                              timeout_s, cwd)
    if rc < 0:
        raise CaseError(f"fio was killed by signal {_signame(-rc)}{_tail(stderr, stdout)}")
    if rc != 0:
        raise CaseError(f"fio exited with status {rc}{_tail(stderr, stdout)}")
    output = Path(output_path)
    if not output.is_file() or output.stat().st_size == 0:
        raise CaseError(f"fio wrote no output to {output_path}{_tail(stderr, stdout)}")
    killed = killed_jobs(stderr)
    if killed:
        raise CaseError("fio exited 0 but " + ", ".join(f"its job process {pid} was killed by signal {_signame(sig)}"
                                                        for pid, sig in killed) + _tail(stderr, stdout))
    return output.read_text(errors="replace")


def run_fio_clients(clients: list, output_path: str, *, timeout_s: float, fio: str = "fio",
                    cwd: Optional[str] = None, output_format: str = "json+") -> tuple:
    """fio's client mode: `fio --output-format=json+ --output=OUTPUT --client=C1 JOB1 --client=C2 JOB2 ...` for
    clients [(fio's client address "host,port", job file)]. Returns (exit status, the text fio wrote to OUTPUT
    or "" when none, stderr): a host that could not be reached or dropped out is judged by the caller from the
    output (fio exits 0 when a host refuses the connection and 1 when one disconnects, keeping the others' stats).
    Raises CaseError when fio times out (killed) or is killed by a signal, UserError when fio is missing."""
    binary = fio_binary(fio)
    argv = [binary, f"--output-format={output_format}", f"--output={output_path}"]
    for client, jobfile in clients:
        argv += [f"--client={client}", str(jobfile)]
    rc, stdout, stderr = _run(argv, output_path, timeout_s, cwd)
    if rc < 0:
        raise CaseError(f"fio was killed by signal {_signame(-rc)}{_tail(stderr, stdout)}")
    output = Path(output_path)
    text = output.read_text(errors="replace") if output.is_file() else ""
    return rc, text, stderr + stdout


def check_jobfile(jobfile_path: str, name: Optional[str] = None, *, fio: str = "fio",
                  timeout_s: float = 60.0) -> None:
    """fio's own judgement of a job file (`fio --parse-only`): UserError with fio's message when it refuses it
    (its own lines; the lists of valid values fio prints after them, indented, are left out). fio checks the
    options, not everything: an engine that fails to load may only say so when the job runs (the case fails)."""
    binary = fio_binary(fio)
    proc = subprocess.run([binary, "--parse-only", str(jobfile_path)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=timeout_s)
    lines = (proc.stderr + proc.stdout).splitlines()
    messages = [line.strip() for line in lines if line.strip() and not line[:1].isspace()]
    if proc.returncode != 0:
        raise UserError(f"fio refuses the job file {name or Path(jobfile_path).name}: "
                        + (" | ".join(messages[:6]) or f"fio --parse-only exited with status {proc.returncode}"))


def check_engines(engines, name: str, *, fio: str = "fio", timeout_s: float = 30.0) -> None:
    """UserError, in fio's words, for an ioengine this fio cannot load (`fio --enghelp=ENGINE` says "not
    loadable" / "not found"; --parse-only does not load every engine). External engines (`external:PATH`) are
    left to the run."""
    binary = fio_binary(fio)
    for engine in sorted(set(engines)):
        if not engine or ":" in engine or "/" in engine:
            continue
        proc = subprocess.run([binary, f"--enghelp={engine}"], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="replace", timeout=timeout_s)
        text = proc.stderr + proc.stdout
        if "not loadable" in text or "not found" in text:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            raise UserError(f"fio refuses the job file {name}: " + " | ".join(lines[:2]))


def fio_binary(fio: str = "fio") -> str:
    """The path of the fio binary; UserError with the install hint when there is none."""
    binary = shutil.which(fio)
    if binary is None:
        raise UserError(f"fio is not installed (no {fio!r} on PATH): {INSTALL_HINT}")
    return binary


def _run(argv: list, output_path: str, timeout_s: float, cwd: Optional[str]) -> tuple:
    """Start fio in its own session, wait at most timeout_s; (exit status, stdout, stderr)."""
    output = Path(output_path)
    if output.exists():
        output.unlink()  # fio appends to nothing, but a stale file must never pass for this run's output
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc, TERM_GRACE_S)
        raise CaseError(f"fio timed out after {_seconds(timeout_s)} s (killed)") from None
    finally:
        # fio runs in its own session (so a timeout can kill its group), so Ctrl-C or the worker's SIGTERM
        # (raised here as KeyboardInterrupt) does not reach it: stop it before the interrupt goes on.
        if proc.poll() is None:
            _kill_group(proc, INTERRUPT_GRACE_S)
    return proc.returncode, stdout, stderr


_GOT_SIGNAL = re.compile(r"^fio: pid=(\d+), got signal=(\d+)\s*$", re.MULTILINE)


def killed_jobs(stderr: str) -> list:
    """[(pid, signal number)] of the job processes fio says were killed ("fio: pid=N, got signal=S")."""
    return [(int(pid), int(sig)) for pid, sig in _GOT_SIGNAL.findall(stderr or "")]


def _signame(sig: int) -> str:
    return signal.Signals(sig).name if sig in _SIGNALS else str(sig)


def fio_version(fio: str = "fio") -> Optional[str]:
    """fio's version string ("fio-3.33"), or None when fio is not installed or does not answer."""
    binary = shutil.which(fio)
    if binary is None:
        return None
    proc = subprocess.run([binary, "--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=30)
    version = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not version:
        return None
    return version[0].strip()


_SIGNALS = {s.value for s in signal.Signals}


def _kill_group(proc: subprocess.Popen, grace_s: float) -> None:
    """Stop fio and its job processes, then reap fio.

    fio's job processes call setsid(), so they are in neither fio's process group nor its session, and they
    outlive a SIGKILL of fio (they run on to the end of their runtime): they are listed from /proc first.
    fio is asked with SIGTERM (it then stops its jobs itself); after grace_s seconds fio's group gets
    SIGKILL, and so does every listed job process that is still the same process.
    """
    jobs = _descendants(proc.pid)
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)  # not communicate(): orphaned jobs would hold its pipes open
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    _signal_group(proc.pid, signal.SIGKILL)
    for pid, started in jobs:
        if _start_time(pid) == started:  # not a new process that reuses the number
            _signal_process(pid, signal.SIGKILL)
    proc.communicate()  # every writer of fio's pipes is gone now: drain and close them


def _descendants(pid: int) -> list:
    """[(pid, start time)] of every process below `pid`, from /proc (empty where there is no /proc)."""
    children: dict = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append((int(stat.parent.name), fields[19]))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def _start_time(pid: int) -> Optional[str]:
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return None if fields is None else fields[19]


def _stat_fields(path: Path) -> Optional[list]:
    """The fields of /proc/PID/stat after the command name (state, ppid, ... start time at 19)."""
    try:
        text = path.read_text()
    except OSError:
        return None  # the process exited while /proc was read
    return text.rsplit(")", 1)[1].split()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return  # every process of the group has exited: nothing to signal


def _signal_process(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return  # exited meanwhile


def _tail(stderr: str, stdout: str) -> str:
    text = (stderr or "").strip() or (stdout or "").strip()
    if not text:
        return " (no output on stderr)"
    tail = text[-STDERR_TAIL_CHARS:]
    lines = [line.rstrip() for line in tail.splitlines() if line.strip()]
    return ": " + " | ".join(lines[-10:])


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
