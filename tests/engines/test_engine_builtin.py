"""bench.engines.builtin: patterns run with kernels.ioloop, checksums included (tiny sizes, on tmpfs when there is
one: the builtin engine is buffered here, and the point is the engine's behaviour, not the device)."""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import workloads
from bench.core.pattern import Pattern, Phase
from bench.engines import builtin as engine_builtin

KiB, MiB = 1024, 1024 ** 2


@pytest.fixture
def dirs():
    base = tempfile.mkdtemp(prefix="tierbench-engine-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        paths = {"data": os.path.join(base, "data"), "temp": os.path.join(base, "temp")}
        for path in paths.values():
            os.mkdir(path)
        yield paths
    finally:
        shutil.rmtree(base)


def _run(pattern: Pattern, dirs: dict) -> dict:
    out = engine_builtin.run(pattern, dirs, {"data": "slow", "temp": "fast"}, Path(dirs["data"]) / "raw",
                             "case000", 60)
    return {r["name"]: r for r in out["phases"]}


def _workload(name: str, **overrides) -> Pattern:
    w = workloads.get(name)
    return w.build(workloads.coerce_params(w, overrides))


def test_hdfs_write_checksums_every_packet_but_not_the_meta_files(dirs):
    records = _run(_workload("hdfs-write", block_size="1m", blocks=2), dirs)
    blocks, meta = records["blocks"], records["meta"]
    assert blocks["bytes_written"] == 3 * 2 * MiB
    assert blocks["checksums"] == blocks["bytes_written"] // 512
    assert "checksums" not in meta and meta["bytes_written"] > 0


def test_hdfs_read_verifies_the_files_it_laid_out(dirs):
    records = _run(_workload("hdfs-read", block_size="1m", blocks=4, readers=2, bytes_per_checksum=4096), dirs)
    read = records["read"]
    assert read["bytes_read"] == 4 * MiB and read["ops_written"] == 0
    assert read["checksums"] == 4 * MiB // 4096


def test_a_read_verifies_what_the_earlier_write_phase_wrote(dirs):
    pattern = Pattern("wr", (
        Phase("w", "write", bs=16 * KiB, size=256 * KiB, nrfiles=2, numjobs=2, fileset="f", direct=False,
              checksum_chunk=512),
        Phase("r", "randread", bs=4 * KiB, size=256 * KiB, nrfiles=2, numjobs=2, fileset="f", direct=False,
              iodepth=2, checksum_chunk=1024),
    ))
    records = _run(pattern, dirs)
    assert records["w"]["checksums"] == 2 * 256 * KiB // 512
    assert records["r"]["checksums"] == 2 * 256 * KiB // 1024


def test_a_corrupted_block_fails_the_read_naming_file_and_offset(dirs, monkeypatch):
    flip_at = 300_000
    drop_cache = engine_builtin.drop_cache

    def corrupt_then_drop(paths):      # between the layout and the read phase: a bit rots on the "disk"
        paths = list(paths)
        victim = sorted(paths)[-1]
        with open(victim, "r+b") as f:
            f.seek(flip_at)
            byte = f.read(1)[0]
            f.seek(flip_at)
            f.write(bytes([byte ^ 0x01]))
        drop_cache(paths)
        corrupt_then_drop.victim = victim

    monkeypatch.setattr(engine_builtin, "drop_cache", corrupt_then_drop)
    with pytest.raises(OSError) as info:
        _run(_workload("hdfs-read", block_size="1m", blocks=4, readers=2), dirs)
    assert info.value.errno == errno.EIO and info.value.filename == corrupt_then_drop.victim
    assert f"CRC32C mismatch in the 512-byte chunk at offset {flip_at // 512 * 512} " in str(info.value)


def test_reads_of_files_without_one_known_writer_are_refused(dirs):
    pattern = Pattern("rr", (
        Phase("w", "randwrite", bs=4 * KiB, size=64 * KiB, fileset="f", direct=False),
        Phase("r", "read", bs=4 * KiB, size=64 * KiB, fileset="f", direct=False, checksum_chunk=512),
    ))
    with pytest.raises(ValueError, match="phase r: cannot verify the checksums of fileset f"):
        _run(pattern, dirs)


def test_without_checksum_chunk_nothing_is_checksummed(dirs):
    pattern = _workload("hdfs-write", block_size="1m", blocks=2).replace_phases(checksum_chunk=0)
    records = _run(pattern, dirs)
    assert all("checksums" not in r for r in records.values())


def test_its_phases_pass_the_checks_and_a_phase_that_moved_nothing_fails(dirs):
    """The worker checks every engine's phase records (bench.analysis.metrics.check_phases) and metrics
    (check_metrics) before storing them: real builtin records pass; the same records with nothing moved, a
    0 s or non-finite wall time, or a negative rate fail with the reason."""
    import math

    from bench.analysis.metrics import case_metrics, check_metrics, check_phases
    from bench.core.errors import CaseError

    pattern = _workload("rand-read-4k", size=1 * MiB, runtime_s=0.2, direct=False)
    out = engine_builtin.run(pattern, dirs, {"data": "t"}, Path(dirs["data"]) / "raw", "case000", 60)
    check_phases(out["phases"], pattern)
    metrics = case_metrics(out["phases"], 10 ** 9)
    check_metrics(metrics)
    (rec,) = out["phases"]
    for change, reason in (({"bytes_read": 0, "ops_read": 0}, "moved no data"), ({"wall_s": 0.0}, "ran 0.0 s"),
                           ({"wall_s": math.nan}, "ran nan s"), ({"ops_read": -1}, "ops_read is -1")):
        with pytest.raises(CaseError, match=reason):
            check_phases([{**rec, **change}], pattern)
    with pytest.raises(CaseError, match="no measurement"):
        check_phases([{**rec, "name": "other"}], pattern)
    check_phases(out["phases"], None)    # as a job's phases
    with pytest.raises(CaseError, match="the job moved no data"):
        check_phases([{**rec, "bytes_read": 0}], None)
    for change, reason in (({"iops_per_gb": -1.0}, "iops_per_gb is -1.0, below 0"),
                           ({"lat_p99_us": math.inf}, "lat_p99_us is inf, not a finite number"),
                           ({"read_iops": "many"}, "not a number"), ({"speed": 1.0}, "has no unit")):
        with pytest.raises(CaseError, match=reason):
            check_metrics({**metrics, **change})
