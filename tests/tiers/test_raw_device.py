"""Raw block devices as tiers (issue 22, point 4; bench/tiers/raw.py, docs/raw-devices.md), on loop devices the
tests make (losetup on a file under tmp_path) and detach: a blank one measured with --destroy-data (the bytes reach
the device, IOPS per GB uses its size) and refused without it for writes; one with an ext4 signature, one with a
partition table, one that is mounted and one another program holds exclusively, all refused; jobs, patterns that
need a file system and the builtin engine refused on a raw device. Only devices made here are ever named."""
from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import cli, cli_json, needs_fio, nothing_stored, refused

pytestmark = needs_fio

SIZE = 64 * 1024 ** 2
SHORT = ("--quick", "--param", "iodepth=1", "--param", "size=16m", "--param", "runtime_s=0.5")


@contextlib.contextmanager
def loop_device(folder: Path, size: int = SIZE):
    """A loop device over a new sparse file of `size` bytes in `folder`; detached and removed afterwards. Skips,
    saying why, without root or losetup."""
    if os.geteuid() != 0:
        pytest.skip("needs root to attach a loop device")
    if shutil.which("losetup") is None or shutil.which("blkid") is None:
        pytest.skip("needs losetup and blkid (util-linux)")
    image = folder / "device.img"
    with open(image, "wb") as f:
        f.truncate(size)
    proc = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True)
    if proc.returncode != 0:
        image.unlink()
        pytest.skip(f"cannot attach a loop device: {proc.stderr.strip()}")
    device = proc.stdout.strip()
    try:
        yield device, image
    finally:
        subprocess.run(["losetup", "-d", device], check=True)
        image.unlink()


@pytest.fixture
def blank(tmp_path):
    with loop_device(tmp_path) as found:
        yield found


def nonzero_bytes(image: Path) -> int:
    data = image.read_bytes()
    return len(data) - data.count(0)


def test_a_blank_device_is_measured_with_destroy_data_and_refused_without(blank, tmp_path):
    device, image = blank
    store = tmp_path / "results"
    line = refused(cli("run", "--tier", f"n={device}:nvme", "--workload", "rand-write-4k", *SHORT,
                       "--results", store))
    assert f"raw device {device}" in line and "--destroy-data" in line and "rand-write-4k writes" in line
    assert nothing_stored(store) and nonzero_bytes(image) == 0
    # A read-only workload runs without --destroy-data, and writes nothing.
    doc = cli_json("run", "--tier", f"n={device}:nvme", "--workload", "rand-read-4k", *SHORT, "--results", store)
    assert doc["status"] == "complete" and nonzero_bytes(image) == 0
    # With --destroy-data: the writes reach the device, the tier is the device, IOPS per GB is per its size.
    doc = cli_json("run", "--tier", f"n={device}:nvme", "--workload", "rand-write-4k", "--workload", "seq-write-1m",
                   *SHORT, "--destroy-data", "--results", store)
    assert doc["status"] == "complete", [c["error"] for c in doc["cases"]]
    assert nonzero_bytes(image) > 0
    (tier,) = doc["tiers"]
    assert tier["raw"] is True and tier["path"] == device == tier["device"] and tier["class"] == "nvme"
    assert tier["capacity_bytes"] == SIZE and tier["filesystem"] is None
    for case in doc["cases"]:
        m = case["metrics"]
        assert m["write_iops"] > 0 and m["iops_per_gb"] == pytest.approx(m["iops"] / (SIZE / 1e9))
        jobfile = (store / doc["run_id"] / "raw" / f"case{case['id']:03d}.fio").read_text()
        assert f"filename={device}" in jobfile and "directory=" not in jobfile
    assert doc["shared_devices"] == []


def test_a_device_with_a_file_system_signature_is_refused_even_to_read(blank, tmp_path):
    device, _ = blank
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("needs mkfs.ext4")
    subprocess.run(["mkfs.ext4", "-q", "-F", device], check=True, capture_output=True)
    store = tmp_path / "results"
    for extra in ((), ("--destroy-data",)):
        line = refused(cli("run", "--tier", f"n={device}", "--workload", "seq-read-1m", *SHORT, *extra,
                           "--results", store))
        assert f"{device} is refused as a raw device" in line and "file system signature (ext4)" in line
        assert f"wipefs -a {device}" in line
    assert nothing_stored(store)


def test_a_device_with_a_partition_table_is_refused(blank, tmp_path):
    device, _ = blank
    mbr = bytearray(512)       # one Linux partition (type 0x83) from sector 2048, and the MBR's boot signature
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0x83, b"\x00\x00\x00", 2048, 4096)
    mbr[510:512] = b"\x55\xaa"
    with open(device, "r+b") as f:
        f.write(mbr)
    line = refused(cli("run", "--tier", f"n={device}", "--workload", "seq-read-1m", *SHORT, "--destroy-data",
                       "--results", tmp_path / "results"))
    assert "partition table (dos)" in line


def test_a_mounted_device_is_refused(blank, tmp_path):
    device, _ = blank
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("needs mkfs.ext4")
    subprocess.run(["mkfs.ext4", "-q", "-F", device], check=True, capture_output=True)
    mount = tmp_path / "mnt"
    mount.mkdir()
    subprocess.run(["mount", device, str(mount)], check=True)
    try:
        line = refused(cli("run", "--tier", f"n={device}", "--workload", "seq-read-1m", *SHORT, "--destroy-data",
                           "--results", tmp_path / "results"))
        assert f"it is mounted on {mount}" in line
        assert [p.name for p in mount.iterdir()] == ["lost+found"]
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_device_another_program_holds_exclusively_is_refused(blank, tmp_path):
    device, _ = blank
    fd = os.open(device, os.O_RDONLY | os.O_EXCL)       # as mount, md, LVM and ZFS claim a device
    try:
        line = refused(cli("run", "--tier", f"n={device}", "--workload", "seq-read-1m", *SHORT,
                           "--results", tmp_path / "results"))
        assert f"{device} is in use" in line
    finally:
        os.close(fd)


@pytest.mark.parametrize("args,words", [
    (("--workload", "terasort"), "terasort is a job that needs a file system"),
    (("--workload", "hdfs-write"), "hdfs-write needs a file system"),
    (("--workload", "mr-spill"), "mr-spill needs a file system"),
    (("--workload", "seq-read-1m", "--engine", "builtin"), "the builtin engine works on files in a directory"),
    (("--workload", "seq-read-1m", "--param", "size=128m"), "needs 128.0 MiB of it"),
])
def test_what_needs_a_file_system_or_does_not_fit_is_refused(blank, tmp_path, args, words):
    device, image = blank
    store = tmp_path / "results"
    line = refused(cli("run", "--tier", f"n={device}", *args, "--quick", "--destroy-data", "--results", store))
    assert words in line, line
    assert nothing_stored(store) and nonzero_bytes(image) == 0


def test_precondition_and_steady_state_run_on_a_raw_device(blank, tmp_path):
    """--precondition writes the region the workload works on, so it needs --destroy-data even for a read-only
    workload; --steady-state alone only reads. Both run on the device itself (issue 22)."""
    device, image = blank
    store = tmp_path / "results"
    rounds = ("--steady-state", "--round-s", "0.5", "--max-rounds", "5")
    line = refused(cli("run", "--tier", f"n={device}:nvme", "--workload", "rand-read-4k", *SHORT, "--precondition",
                       "--results", store))
    assert f"raw device {device}" in line and "--precondition writes" in line and "--destroy-data" in line
    assert nothing_stored(store) and nonzero_bytes(image) == 0
    doc = cli_json("run", "--tier", f"n={device}:nvme", "--workload", "rand-read-4k", *SHORT, *rounds,
                   "--results", store)
    (case,) = doc["cases"]
    assert doc["status"] == "complete" and nonzero_bytes(image) == 0       # rounds of reads write nothing
    assert 1 <= len(case["steady_state"]["rounds"]) <= 5 and case["steady_state"]["steady"] in (True, False)
    doc = cli_json("run", "--tier", f"n={device}:nvme", "--workload", "rand-read-4k", *SHORT, *rounds,
                   "--precondition", "--destroy-data", "--results", store)
    (case,) = doc["cases"]
    assert doc["status"] == "complete", case["error"]
    assert case["precondition"]["bytes_written"] == 2 * 16 * 1024 ** 2       # two passes over the 16 MiB region
    assert nonzero_bytes(image) > 0 and case["metrics"]["read_iops"] > 0
    raw = store / doc["run_id"] / "raw"
    assert f"filename={device}" in (raw / "case000.pre.fio").read_text()
    assert f"filename={device}" in (raw / "case000.r00.fio").read_text()
