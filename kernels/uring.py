"""io_uring on this machine: whether the kernel lets a process set up a ring, and why not.

The builtin engine's io_uring (kernels/tb_uring.h, driven by kernels.ioloop with ioengine="io_uring") fails
a phase when the kernel refuses the ring; `refusal(code, step)` words that failure, naming the likely cause
(sysctl kernel.io_uring_disabled, seccomp, a kernel without io_uring, the locked-memory limit for registered
buffers). `probe()` asks the kernel the same question with one io_uring_setup system call (through ctypes:
Python has no io_uring binding), so tests and `tiers`-style checks can say up front whether it will work.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform

SYSCTL = "/proc/sys/kernel/io_uring_disabled"
# io_uring_setup's system call number (the same on every architecture that has io_uring, since 5.1).
_NR_IO_URING_SETUP = 425


def disabled_sysctl():
    """kernel.io_uring_disabled (0: allowed, 1: only for io_uring_group / CAP_SYS_ADMIN, 2: off), or None
    where the kernel has no such setting (before 6.6)."""
    try:
        with open(SYSCTL) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def refusal(code: int, step: str = "io_uring_setup") -> str:
    """Why `step` (io_uring_setup, io_uring_register) failed with errno `code`, in one line."""
    text = f"{step} failed: {os.strerror(code)} ({errno.errorcode.get(code, code)})"
    setting = disabled_sysctl()
    if step == "io_uring_register" and code == errno.ENOMEM:
        return text + ": the registered buffers exceed the locked-memory limit (ulimit -l)"
    if code == errno.ENOSYS:
        return text + ": this kernel has no io_uring, or a seccomp filter (a container's) blocks it"
    if code == errno.EPERM:
        if setting:
            return text + f": io_uring is disabled by sysctl kernel.io_uring_disabled={setting}"
        return text + ": not permitted (a seccomp filter, or the io_uring group restriction)"
    return text


def probe() -> tuple:
    """(True, "") when this process may set up an io_uring, else (False, the reason)."""
    if platform.system() != "Linux":
        return False, f"io_uring is Linux only, not {platform.system()}"
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)   # struct io_uring_params, zeroed
    fd = libc.syscall(ctypes.c_long(_NR_IO_URING_SETUP), ctypes.c_uint(2), params)
    if fd < 0:
        return False, refusal(ctypes.get_errno())
    os.close(fd)
    return True, ""
