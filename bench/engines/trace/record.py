"""Running a command under the file-level tracer (strace), and once without it, for the tracer's overhead.

The command runs twice when the overhead is measured: first untraced, then traced (the trace is from the second
run, whose page cache the first run warmed; say so beside the figures). Wall time is the monotonic clock around
the process; CPU time is the user + system time of the process and every child it waited for (os.wait4's
rusage), for the traced run strace's own CPU included: that is the cost a user pays for recording.
The command's output goes to our stderr, so that `--json` keeps stdout for the document.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.core.errors import UserError
from bench.engines.trace.strace import strace_command

__all__ = ["timed_run", "traced_run", "strace_binary", "strace_version", "INSTALL_HINT"]

INSTALL_HINT = "install it with 'sudo apt-get install strace' (Debian/Ubuntu) or your distribution's package"


def strace_binary() -> str:
    binary = shutil.which("strace")
    if binary is None:
        raise UserError(f"strace is not installed (no 'strace' on PATH): {INSTALL_HINT}")
    return binary


def strace_version(binary: str) -> str:
    proc = subprocess.run([binary, "-V"], capture_output=True, text=True, errors="replace", timeout=30)
    lines = proc.stdout.strip().splitlines()
    return lines[0].strip() if lines else "strace (version unknown)"


def timed_run(argv: list, cwd: str) -> dict:
    """Run argv to its end: {exit_status, wall_s, cpu_s}. exit_status is the exit code, or -N for signal N.
    UserError when the program cannot be started at all (not found, not executable)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(),
                                stderr=sys.stderr.fileno())
    except OSError as e:
        raise UserError(f"cannot run {argv[0]!r}: {e.strerror}") from None
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)     # reaped here: Popen must not wait for it again
    return {"exit_status": proc.returncode, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}


def traced_run(argv: list, cwd: str, out_dir: Path) -> tuple:
    """Run argv under strace, its per-process files written into out_dir (prefix `strace`): ({exit_status,
    wall_s, cpu_s} as timed_run, {pid: text of that process's file})."""
    binary = strace_binary()
    if shutil.which(argv[0], path=os.environ.get("PATH")) is None and not os.access(argv[0], os.X_OK):
        raise UserError(f"cannot run {argv[0]!r}: no such program")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = timed_run(strace_command(str(out_dir / "strace"), argv, binary), cwd)
    files = {}
    for path in sorted(out_dir.glob("strace.*")):
        pid = path.name.rsplit(".", 1)[-1]
        if pid.isdigit():
            files[int(pid)] = path.read_text(errors="surrogateescape")
    return result, files
