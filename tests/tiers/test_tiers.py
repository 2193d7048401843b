"""Tier specs, detection and classification on this machine's real mounts."""
import os

import pytest

from bench.core.errors import UserError
from bench.tiers.detect import classify, detect, detect_all_devices, parse_tier_spec
from tests.conftest import cli_json


def test_parse_tier_spec():
    assert parse_tier_spec("hdd=/mnt/d:hdd") == ("hdd", "/mnt/d", "hdd")
    assert parse_tier_spec("fast=/mnt/x") == ("fast", "/mnt/x", None)
    assert parse_tier_spec("nvme") == ("nvme", None, None)
    with pytest.raises(UserError, match="unknown tier class"):
        parse_tier_spec("a=/x:floppy")
    with pytest.raises(UserError):
        parse_tier_spec("bad name=/x")


def test_tmpfs_is_memory(tmp_path):
    t = detect("mem", "/dev/shm")
    assert t.cls == "memory" and t.filesystem == "tmpfs" and t.device is None and t.capacity_bytes > 0


def test_declared_class_wins_and_keeps_the_detected_one():
    t = detect("mem", "/dev/shm", "optane")
    assert t.cls == "optane" and t.detected_class == "memory" and "declared optane" in t.reason


def test_bad_paths_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        detect("x", str(tmp_path / "nope"))
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(UserError, match="not a directory"):
        detect("x", str(f))


@pytest.mark.parametrize("fstype,block,info,expected", [
    ("tmpfs", None, {}, "memory"),
    ("nfs4", None, {}, "network"),
    ("ext4", "nvme0n1", {"model": "Samsung SSD 990"}, "nvme"),
    ("ext4", "nvme1n1", {"model": "INTEL SSDPE21D280GA"}, "optane"),
    ("xfs", "pmem0", {}, "pmem"),
    ("ext4", "sda", {"rotational": True, "driver": "sd"}, "hdd"),
    ("ext4", "sdb", {"rotational": False, "driver": "sd"}, "ssd"),
    ("ext4", "vda", {"rotational": True, "driver": "virtio_blk"}, "unknown"),
])
def test_classification_rules(fstype, block, info, expected):
    cls, reason = classify(fstype, block, info)
    assert cls == expected and reason


def test_virtual_disk_claiming_rotational_is_unknown_with_reason():
    for dev in detect_all_devices():
        if dev["device"].startswith("/dev/vd") and dev["rotational"]:
            assert dev["class"] == "unknown" and "virtual" in dev["reason"]


def test_tiers_detect_cli_json(tmp_path):
    doc = cli_json("tiers", "detect", "--tier", f"scratch={tmp_path}", "--tier", "mem=/dev/shm")
    names = {t["name"]: t for t in doc["tiers"]}
    assert names["mem"]["class"] == "memory"
    assert names["scratch"]["path"] == os.path.realpath(tmp_path)
    assert doc["devices"], "at least the root filesystem's device"
