"""The monitor's device figures, measured on a real (emulated) tier's loop device."""
from __future__ import annotations

import mmap
import os
from pathlib import Path

from bench.execution.monitor import Monitor


def _direct_reads(path: Path, size: int, total: int) -> None:
    buf = mmap.mmap(-1, size)                     # page-aligned, as O_DIRECT needs
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        for offset in range(0, total, size):
            assert os.preadv(fd, [buf], offset) == size
    finally:
        os.close(fd)
        buf.close()


def test_device_request_size_is_what_the_reads_asked_for(emulated):
    """iostat's rareq-sz: 16 KiB and 256 KiB direct reads reach the device as requests of that size
    (a 256 KiB buffer is 64 pages, within the loop device's 128 segments, so the block layer does not split it)."""
    tier = next(t for t in emulated["doc"]["tiers"] if t["name"] == "nvme")
    path = Path(tier["path"]) / "monitor-test"
    try:
        path.write_bytes(os.urandom(4 << 20))
        os.sync()
        sizes = {}  # request bytes by read size
        for size in (16 << 10, 256 << 10):
            with Monitor([tier["device"]], interval_s=0.05) as monitor:
                _direct_reads(path, size, 4 << 20)
            sizes[size] = monitor.summary()["device_read_request_bytes"]
        assert sizes[16 << 10] == 16 << 10
        assert 0.9 * (256 << 10) <= sizes[256 << 10] <= 256 << 10
    finally:
        path.unlink(missing_ok=True)


def test_a_large_direct_read_is_split_into_requests(emulated):
    """A 4 MiB direct read reaches the loop device as several requests, none over its max_sectors_kb: how
    many depends on how physically contiguous the buffer's pages are (see Monitor.summary)."""
    tier = next(t for t in emulated["doc"]["tiers"] if t["name"] == "nvme")
    limit = int(Path(f"/sys/block/{os.path.basename(tier['device'])}/queue/max_sectors_kb").read_text()) << 10
    path = Path(tier["path"]) / "monitor-test-large"
    try:
        path.write_bytes(os.urandom(8 << 20))
        os.sync()
        with Monitor([tier["device"]], interval_s=0.05) as monitor:
            _direct_reads(path, 4 << 20, 8 << 20)
        request = monitor.summary()["device_read_request_bytes"]
        assert request <= limit and request < 4 << 20
    finally:
        path.unlink(missing_ok=True)


def test_a_direction_without_requests_is_missing(tmp_path):
    """No device, so no requests: the request sizes are left out, not 0."""
    with Monitor([], interval_s=0.05) as monitor:
        (tmp_path / "f").write_bytes(b"x")
    summary = monitor.summary()
    assert "cpu_util" in summary
    assert "device_read_request_bytes" not in summary and "device_write_request_bytes" not in summary
