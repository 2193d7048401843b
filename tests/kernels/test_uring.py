"""The builtin engine's io_uring (kernels/tb_uring.h through kernels.ioloop, ioengine="io_uring"): the same ops
as the reference and as Linux AIO, the same bytes and checksums, failures named; the reference refuses it.

Skips, saying why, where this kernel refuses io_uring to this process (kernels.uring.probe)."""
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kernels import ioloop, ioloop_ref, uring
from tests.kernels.queued import (
    check_queued_matches_reference,
    direct_or_skip,
    files_with_a_flipped_byte,
    job_files,
    scratch_in,
)

KIB = 1024
OK, WHY = uring.probe()
needs_uring = pytest.mark.skipif(not OK, reason=f"io_uring is refused here: {WHY}")


@pytest.fixture
def disk_scratch():
    yield from scratch_in("/var/tmp", "tierbench-uring-")


CASES = [
    # rw, bs, file_size, njobs, nfiles, iodepth, file_service, rwmixread, fixedbufs
    ("randwrite", 4 * KIB, 16 * 4 * KIB, 1, 3, 3, "random", 50, True),
    ("write", 4 * KIB, 12 * 4 * KIB, 2, 2, 4, "roundrobin", 50, False),
    ("read", 8 * KIB, 6 * 8 * KIB, 1, 2, 8, "sequential", 50, True),
    ("randrw", 4 * KIB, 32 * 4 * KIB, 2, 1, 5, "roundrobin", 60, True),
    ("randread", 4 * KIB, 64 * 4 * KIB, 1, 1, 1, "roundrobin", 50, True),
]


@needs_uring
@pytest.mark.parametrize("rw, bs, file_size, njobs, nfiles, iodepth, service, mix, fixed", CASES)
def test_uring_matches_reference(disk_scratch, rw, bs, file_size, njobs, nfiles, iodepth, service, mix, fixed):
    """The ring does the reference's ops (the same split of reads and writes, the same end fsyncs) and leaves
    the same bytes, whatever order its completions come back in, with or without registered buffers."""
    got = check_queued_matches_reference(disk_scratch, rw, bs, file_size, njobs, nfiles, iodepth, service, mix,
                                         ioengine="io_uring", fixedbufs=fixed)
    assert got["ioengine"] == "io_uring"


@needs_uring
@pytest.mark.parametrize("direct", [True, False])
def test_uring_writes_then_verifies_checksums(disk_scratch, direct):
    """Checksummed writes through the ring, then verifying random reads through it (direct and buffered)."""
    jobs = job_files(disk_scratch, "c", 2, 2)
    written = direct_or_skip(lambda: ioloop.run_phase(jobs, "write", 8 * KIB, 256 * KIB, iodepth=4, seed=5,
                                                       checksum_chunk=512, direct=direct, ioengine="io_uring"))
    assert written["write"]["ops"] == 2 * 2 * 32 and written["checksums"] == 2 * 2 * 32 * 16
    read = ioloop.run_phase(jobs, "randread", 8 * KIB, 256 * KIB, iodepth=8, checksum_chunk=1024, written_seed=5,
                            direct=direct, ioengine="io_uring")
    assert read["read"]["ops"] == 128 and read["checksums"] == 128 * 8
    mixed = ioloop.run_phase(jobs, "randrw", 8 * KIB, 256 * KIB, iodepth=6, runtime_s=0.2, direct=direct,
                             ioengine="io_uring")
    assert mixed["read"]["ops"] > 0 and mixed["write"]["ops"] > 0 and 0.2 <= mixed["elapsed_s"] < 5


@needs_uring
def test_uring_flipped_byte_fails_naming_file_and_offset(disk_scratch):
    """A failure with other ops still in flight: the phase stops, the ring is drained, the error names the
    chunk (and the next run on the same files works)."""
    jobs, bad = files_with_a_flipped_byte(disk_scratch)
    with pytest.raises(OSError) as info:
        direct_or_skip(lambda: ioloop.run_phase(jobs, "read", 8 * KIB, 64 * KIB, iodepth=8, checksum_chunk=512,
                                                 written_seed=9, ioengine="io_uring"))
    assert info.value.errno == errno.EIO and info.value.filename == str(bad)
    assert f"512-byte chunk at offset {5 * 8 * KIB + 512} " in str(info.value)
    again = ioloop.run_phase(jobs[:1], "read", 8 * KIB, 64 * KIB, iodepth=8, checksum_chunk=512, written_seed=9,
                             ioengine="io_uring")
    assert again["read"]["ops"] == 8


def test_reference_refuses_io_uring(tmp_path):
    jobs = job_files(tmp_path, "r", 1, 1)
    with pytest.raises(ValueError, match="reference engine has no io_uring"):
        ioloop_ref.run_phase(jobs, "write", 4 * KIB, 16 * KIB, iodepth=4, ioengine="io_uring")
    assert not Path(jobs[0][0]).exists()   # refused before a file is made


@pytest.mark.parametrize("engine", [ioloop, ioloop_ref])
def test_unknown_ioengine_is_a_value_error(tmp_path, engine):
    with pytest.raises(ValueError, match="ioengine must be one of psync, libaio, io_uring"):
        engine.run_phase(job_files(tmp_path, "u", 1, 1), "write", 4 * KIB, 16 * KIB, ioengine="spdk")


@pytest.mark.parametrize("engine", [ioloop, ioloop_ref])
def test_ioengine_psync_and_libaio_run_on_both_engines(tmp_path, engine):
    jobs = job_files(tmp_path, engine.IMPLEMENTATION.replace(":", "-"), 1, 1)
    for name in ("psync", "libaio"):
        result = engine.run_phase(jobs, "write", 4 * KIB, 64 * KIB, iodepth=4, direct=False, ioengine=name)
        assert result["write"]["ops"] == 16


SETPRIV = shutil.which("setpriv")
PRLIMIT = shutil.which("prlimit")


@needs_uring
@pytest.mark.skipif(os.geteuid() != 0, reason="drops CAP_IPC_LOCK from root to meet the locked-memory limit")
@pytest.mark.skipif(not (SETPRIV and PRLIMIT), reason="needs setpriv and prlimit (util-linux)")
def test_registered_buffers_over_the_memlock_limit_fail_saying_so(disk_scratch):
    """A refusal by the kernel fails the phase with the reason, never falls back: without CAP_IPC_LOCK and
    with a 64 KiB locked-memory limit, registering 32 x 2 x 64 KiB of buffers is refused (ENOMEM)."""
    jobs = job_files(disk_scratch, "m", 1, 1)
    ioloop.run_phase(jobs, "write", 64 * KIB, 4 * 64 * KIB, direct=False)
    code = ("import sys; from kernels import ioloop\n"
            "try:\n"
            f"    ioloop.run_phase([[{jobs[0][0]!r}]], 'randread', 65536, 262144, iodepth=32, direct=False,"
            " ioengine='io_uring')\n"
            "except OSError as e:\n"
            "    print(e); sys.exit(3)\n")
    proc = subprocess.run([PRLIMIT, "--memlock=65536:65536", SETPRIV, "--inh-caps=-ipc_lock",
                           "--bounding-set=-ipc_lock", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent.parent)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "io_uring_register failed: Cannot allocate memory (ENOMEM)" in proc.stdout
    assert "locked-memory limit" in proc.stdout


def test_refusal_names_the_sysctl(monkeypatch):
    monkeypatch.setattr(uring, "disabled_sysctl", lambda: 2)
    assert "kernel.io_uring_disabled=2" in uring.refusal(errno.EPERM)
    monkeypatch.setattr(uring, "disabled_sysctl", lambda: None)
    assert "seccomp" in uring.refusal(errno.EPERM) and "seccomp" in uring.refusal(errno.ENOSYS)
