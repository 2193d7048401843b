"""TeraSort end to end on a few thousand records in temporary data/temp directories; corrupted temp runs and
wrong outputs are caught; a tier without room is refused before anything is written."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

import kernels
import workloads
from bench.core.errors import CaseError, UserError
from workloads import terasort
from workloads._jobio import IOCounts, write_block

SMALL = {"records": 5000, "block_size": 100_000, "partitions": 3, "sample_size": 1000}   # 5 blocks of 1000


def make_ctx(tmp_path: Path, workers: int = 2, cache: bool = False, same_tier: bool = False) -> dict:
    data, temp = tmp_path / "data", tmp_path / ("data" if same_tier else "temp")
    for d in {data, temp}:
        d.mkdir(exist_ok=True)
    return {"dirs": {"data": str(data), "temp": str(temp)},
            "tiers": {"data": "hdd", "temp": "hdd" if same_tier else "nvme"},
            "workers": workers, "cache": cache, "raw_dir": tmp_path / "raw", "stem": "case000"}


def params(**overrides):
    return workloads.coerce_params(workloads.get("terasort"), {**SMALL, **overrides})


@pytest.mark.parametrize("overrides,workers,cache", [({}, 2, False), ({"map_tasks": 2}, 1, True),
                                                     ({"block_size": 250_000, "split_size": 40_000}, 2, False)])
def test_terasort_end_to_end(tmp_path, overrides, workers, cache):
    ctx = make_ctx(tmp_path, workers, cache)
    out = workloads.get("terasort").run(params(**overrides), ctx)
    phases = {p["name"]: p for p in out["phases"]}
    assert list(phases) == ["teragen", "map", "reduce", "validate"]
    assert phases["validate"]["valid"] is True
    for p in out["phases"]:
        assert p["wall_s"] > 0 and p["cpu_s"] >= 0
    # each phase counts I/O on the tiers it touched
    assert phases["teragen"]["io"]["data"]["bytes_written"] >= 5000 * 100
    assert phases["map"]["io"]["data"]["bytes_read"] >= 5000 * 100
    assert phases["map"]["io"]["temp"]["tier"] == "nvme"
    assert phases["map"]["io"]["temp"]["bytes_written"] >= 5000 * 100
    assert phases["reduce"]["io"]["temp"]["bytes_read"] >= 5000 * 100
    assert phases["reduce"]["io"]["data"]["bytes_written"] >= 5000 * 100
    assert phases["map"]["tier"] == "nvme" and phases["teragen"]["tier"] == "hdd"
    m = out["metrics"]
    assert m["records_count"] == 5000 and m["input_bytes"] == 500_000
    # one map per 1000-record block, or per split: 40,000 bytes round down to 3 x 12,800 (whole records and
    # checksum chunks) = 384 records, 7 splits in each 2500-record block
    assert m["map_tasks_count"] == overrides.get("map_tasks", 14 if "split_size" in overrides else 5)
    assert m["sorted_bytes_per_s"] > 0
    for name in m:
        assert name.endswith(("_bytes", "_s", "_count")), name
    assert out["threads"] == workers and "cython:" in out["implementation"]
    # the output, concatenated, is the input sorted by an independent call
    outputs = sorted((Path(ctx["dirs"]["data"]) / "terasort-output").glob("part-r-*[0-9]"))
    assert len(outputs) == 3
    got = b"".join(p.read_bytes() for p in outputs)
    want = bytes(kernels.sort_records(kernels.teragen(0, 5000)))
    assert got == want


def test_runs_are_arrow_ipc_files_with_a_batch_per_partition(tmp_path):
    job = terasort.TeraSortJob(params(), make_ctx(tmp_path))
    job.teragen()
    job.map()
    assert job.map_outputs == 5
    counts = 0
    for task in range(job.map_outputs):
        reader = ipc.open_file(pa.memory_map(job.run_path(task)))
        assert reader.num_record_batches == 3
        assert reader.schema.field("record").type == pa.binary(100)
        index = job.read_index(task, IOCounts())
        assert [reader.get_batch(p).num_rows for p in range(3)] == [entry[2] for entry in index]
        for p, (offset, length, count, crc) in enumerate(index):     # each entry names its batch's bytes
            batch = reader.get_batch(p).column(0)
            records = bytes(batch.buffers()[1])[batch.offset * 100:(batch.offset + count) * 100]
            assert kernels.crc32c(records) == crc
            assert records in Path(job.run_path(task)).read_bytes()[offset:offset + length]
        counts += sum(entry[2] for entry in index)
    assert counts == 5000
    assert job.temp_bytes == sum(os.path.getsize(job.run_path(t)) + os.path.getsize(job.run_path(t) + ".index")
                                 for t in range(5))


def _flip_record_byte(path: str, batch: int, offset: int = 50) -> None:
    """Change one byte inside the first record of `batch` of an Arrow run file."""
    reader = ipc.open_file(pa.memory_map(path))
    first = reader.get_batch(batch).column(0)[0].as_py()
    raw = bytearray(Path(path).read_bytes())
    at = raw.find(first)
    assert at >= 0
    raw[at + offset] ^= 0xFF
    Path(path).write_bytes(raw)


@pytest.mark.parametrize("merge", [{}, {"merge_buffer": 300, "merge_factor": 2}])
def test_corrupted_temp_run_is_detected(tmp_path, merge):
    job = terasort.TeraSortJob(params(**merge), make_ctx(tmp_path))
    job.teragen()
    job.map()
    index = job.read_index(2, IOCounts())
    part = next(p for p, entry in enumerate(index) if entry[2])
    _flip_record_byte(job.run_path(2), part)
    with pytest.raises(CaseError, match="run-m-00002.arrow partition .* CRC32C"):
        job.reduce()


def test_corrupted_or_missing_run_index_is_detected(tmp_path):
    job = terasort.TeraSortJob(params(), make_ctx(tmp_path))
    job.teragen()
    job.map()
    index = Path(job.run_path(1) + ".index")
    raw = bytearray(index.read_bytes())
    raw[3] ^= 1
    index.write_bytes(raw)
    with pytest.raises(CaseError, match="run index run-m-00001.arrow.index fails its CRC32C"):
        job.reduce()
    index.write_bytes(raw[:-1])
    with pytest.raises(CaseError, match="is 87 bytes, not 88"):
        job.read_index(1, IOCounts())
    index.unlink()
    with pytest.raises(CaseError, match="missing"):
        job.read_index(1, IOCounts())


@pytest.mark.parametrize("merge", [{"merge_buffer": 100}, {"merge_buffer": 4000, "merge_factor": 2},
                                   {"merge_factor": 4, "map_tasks": 5}])
def test_streaming_merge_and_merge_passes_give_the_same_output(tmp_path, merge):
    """Segments streamed in buffers as small as one record, and merged at most merge_factor at a time
    (passes through the temp tier when there are more runs), sort exactly as the whole sort does; the
    passes' bytes count as temp bytes and their files are gone once merged."""
    ctx = make_ctx(tmp_path)
    out = workloads.get("terasort").run(params(**merge), ctx)
    got = b"".join(p.read_bytes() for p in sorted((Path(ctx["dirs"]["data"]) / "terasort-output")
                                                  .glob("part-r-*[0-9]")))
    assert got == bytes(kernels.sort_records(kernels.teragen(0, 5000)))
    runs_dir = Path(ctx["dirs"]["temp"]) / "terasort-runs"
    assert not list(runs_dir.glob("merge-*"))
    runs = sum(f.stat().st_size for f in runs_dir.glob("run-m-*"))
    reduce_io = {p["name"]: p for p in out["phases"]}["reduce"]["io"]["temp"]
    if merge.get("merge_factor", 100) < 5:
        # 5 runs at 2: passes to 3 then 2 files per partition (at 4: one pass, to 2), then the final merge;
        # each pass rewrites all 500,000 bytes, and each of its files ends in a 4-byte CRC32C
        passes, files = (2, 3 * (3 + 2)) if merge["merge_factor"] == 2 else (1, 3 * 2)
        assert out["metrics"]["temp_bytes"] == runs + passes * 500_000 + 4 * files
        assert reduce_io["bytes_written"] == passes * 500_000 + 4 * files
    else:
        assert out["metrics"]["temp_bytes"] == runs
        assert "bytes_written" not in reduce_io or reduce_io["bytes_written"] == 0
    if merge.get("merge_buffer") == 100:                   # one read per record (+ index and batch headers)
        assert reduce_io["ops_read"] >= 5000


def _sorted_job(tmp_path):
    job = terasort.TeraSortJob(params(), make_ctx(tmp_path))
    job.teragen()
    job.map()
    job.reduce()
    return job


def _rewrite_output(path: str, records: np.ndarray) -> None:
    """Replace an output file and its .meta consistently, as a buggy sort would have written them."""
    write_block(path, records.tobytes(), IOCounts(), "data", cache=True)


def _records(path: str) -> np.ndarray:
    return np.frombuffer(Path(path).read_bytes(), dtype=np.uint8).reshape(-1, 100).copy()


def test_validation_catches_records_out_of_order(tmp_path):
    job = _sorted_job(tmp_path)
    recs = _records(job.outputs[1])
    recs[[0, 1]] = recs[[1, 0]]
    _rewrite_output(job.outputs[1], recs)
    with pytest.raises(CaseError, match="out of order"):
        job.validate()


def test_validation_catches_order_across_files(tmp_path):
    job = _sorted_job(tmp_path)
    a, b = _records(job.outputs[0]), _records(job.outputs[1])
    _rewrite_output(job.outputs[0], np.concatenate([a, b[-1:]]))
    _rewrite_output(job.outputs[1], b[:-1])
    with pytest.raises(CaseError, match="starts below"):
        job.validate()


def test_validation_catches_changed_and_lost_records(tmp_path):
    job = _sorted_job(tmp_path)
    recs = _records(job.outputs[0])
    recs[3, 60] ^= 1                                 # a value byte: order intact, checksum not
    _rewrite_output(job.outputs[0], recs)
    with pytest.raises(CaseError, match="output checksum"):
        job.validate()
    _rewrite_output(job.outputs[0], recs[:-1])      # a record lost
    with pytest.raises(CaseError, match="4999 records"):
        job.validate()


def test_block_checksums_catch_a_corrupted_output_file(tmp_path):
    job = _sorted_job(tmp_path)
    raw = bytearray(Path(job.outputs[2]).read_bytes())
    raw[1234] ^= 0x01
    Path(job.outputs[2]).write_bytes(raw)           # .meta left as it was
    with pytest.raises(CaseError, match="checksum error in chunk 2"):
        job.validate()


def test_refuses_when_the_tier_is_too_small(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 ** 9, 10 ** 9 - 123_456, 123_456))
    ctx = make_ctx(tmp_path)
    with pytest.raises(UserError) as info:
        workloads.get("terasort").run(params(), ctx)
    message = str(info.value)
    assert "123456 bytes" in message and "free" in message
    assert not os.listdir(ctx["dirs"]["data"]) and not os.listdir(ctx["dirs"]["temp"])


def test_free_space_adds_up_on_one_file_system(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from workloads._jobio import check_free_space
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 ** 9, 0, 1000))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    check_free_space({str(a): 400, str(b): 400}, "test", margin=1.0)
    with pytest.raises(UserError, match="1100 bytes"):
        check_free_space({str(a): 600, str(b): 500}, "test", margin=1.0)


def test_space_needed_covers_the_data():
    data, temp = terasort.space_needed(terasort.TeraSortParams())
    assert data >= 2 * 10_000_000 * 100 and temp >= 10_000_000 * 100


def test_bad_params_rejected_when_planned():
    with pytest.raises(ValueError, match="merge_factor"):
        params(merge_factor=1)
    with pytest.raises(ValueError, match="merge_buffer"):
        params(merge_buffer=99)
    with pytest.raises(ValueError, match="map_tasks"):
        params(map_tasks=6)                          # 5 blocks
    with pytest.raises(ValueError, match="block_size"):
        params(block_size=99)


def test_hdfs_read_traffic_alongside(tmp_path):
    ctx = make_ctx(tmp_path, workers=1)
    out = workloads.get("terasort").run(params(hdfs_readers=2, hdfs_read_bytes=300_000), ctx)
    phases = {p["name"]: p for p in out["phases"]}
    assert list(phases) == ["teragen", "hdfs-data", "map", "reduce", "validate"]
    assert phases["hdfs-data"]["io"]["data"]["bytes_written"] >= 300_000
    assert phases["validate"]["valid"] is True
    m = out["metrics"]
    assert m["hdfs_read_bytes"] > 0 and m["hdfs_read_ops_count"] > 0 and m["hdfs_read_bytes_per_s"] > 0
    with pytest.raises(ValueError):
        params(hdfs_readers=-1)


def test_paced_hdfs_readers_keep_their_rate(tmp_path):
    """An open-loop load: with a rate, each reader reads about rate x time, not what the tier could give."""
    from workloads._hdfs_traffic import BackgroundReaders
    path = tmp_path / "blk"
    path.write_bytes(os.urandom(4 << 20))
    import time
    with BackgroundReaders([str(path)], 1, cache=True, rate_bytes_per_s=2e6) as traffic:
        time.sleep(1.0)
    rate = traffic.bytes / traffic.seconds
    assert 1.2e6 < rate < 2.4e6          # 2 MB/s asked; page-cache reads could go 1000x faster
    with pytest.raises(ValueError, match="rate"):
        BackgroundReaders([str(path)], 1, rate_bytes_per_s=-1)
    with pytest.raises(ValueError, match="hdfs_read_mbps"):
        params(hdfs_readers=1, hdfs_read_mbps=-1)


def test_other_hdfs_data_is_whole_blocks_with_their_checksums(tmp_path, monkeypatch):
    """The readers' data: blocks of up to OTHER_BLOCK_SIZE written in pieces, each .meta the block's own."""
    from workloads._jobio import read_block
    monkeypatch.setattr(terasort, "OTHER_BLOCK_SIZE", 100_000)
    monkeypatch.setattr(terasort, "IO_CHUNK", 30_000)        # several pieces per block
    job = terasort.TeraSortJob(params(hdfs_readers=1), make_ctx(tmp_path))
    paths = job.other_hdfs_data(250_000)
    assert [os.path.getsize(p) for p in paths] == [100_000, 100_000, 50_000]
    for p in paths:
        read_block(p, IOCounts(), "data", verify=True)          # raises CaseError on a wrong .meta
    assert job.log.get("hdfs-data")["blocks"] == 3


def test_segment_reads_do_not_read_ahead_or_stay_cached(emulated):
    """A shuffle segment is read as Hadoop's ShuffleHandler serves it: the device reads just the segment, and
    its pages are dropped once read (unless cache); a plain read from the start of the file reads ahead
    (measured on the emulated nvme tier's loop device: sectors read in /sys/block/loopN/stat)."""
    from workloads._jobio import drop_cache, read_range
    tier = next(t for t in emulated["doc"]["tiers"] if t["name"] == "nvme")
    stat = Path(f"/sys/block/{os.path.basename(tier['device'])}/stat")
    path = Path(tier["path"]) / "segment-test"

    def bytes_from_device(cold=True, **kwargs):
        if cold:
            drop_cache([str(path)])
        before = int(stat.read_text().split()[2])
        assert len(read_range(str(path), 0, 32768, IOCounts(), "temp", **kwargs)) == 32768
        return (int(stat.read_text().split()[2]) - before) * 512

    try:
        path.write_bytes(os.urandom(8 << 20))
        assert bytes_from_device() >= 65536                               # readahead: more than asked
        assert 32768 <= bytes_from_device(segment=True) <= 36864          # the segment (+ at most a page)
        assert bytes_from_device(cold=False, segment=True) >= 32768       # dropped: from the device again
        bytes_from_device(segment=True, cache=True)
        assert bytes_from_device(cold=False, segment=True, cache=True) == 0   # kept: from the page cache
    finally:
        path.unlink(missing_ok=True)


def test_a_split_read_checks_just_its_chunks(tmp_path):
    """A map task reading a split checks that split's chunks against the block's .meta: a flipped byte fails
    the split that holds it, naming the chunk, and not its neighbours."""
    from workloads._jobio import read_block
    path = tmp_path / "blk"
    data = bytearray(kernels.teragen(0, 1024))                  # 102,400 bytes = 200 chunks
    write_block(str(path), bytes(data), IOCounts(), "data", cache=True)
    data[51_300] ^= 1                                          # chunk 100 (bytes 51,200..51,711)
    path.write_bytes(bytes(data))
    assert read_block(str(path), IOCounts(), "data", offset=0, length=51_200) == data[:51_200]
    with pytest.raises(CaseError, match="chunk 100 "):
        read_block(str(path), IOCounts(), "data", offset=51_200, length=25_600)
    with pytest.raises(CaseError, match="checksum chunk"):
        read_block(str(path), IOCounts(), "data", offset=100, length=512)
    with pytest.raises(ValueError, match="split_size"):
        params(split_size=1000)                                # less than 12,800: no whole records and chunks


def test_validation_reads_pieces_and_checks_across_them(tmp_path, monkeypatch):
    """Validation reads each output a piece at a time (here 1,024 records): a swap across two pieces'
    boundary is still out of order, and a record repeated across it still a duplicate key."""
    monkeypatch.setattr(terasort, "IO_CHUNK", 12_800)             # pieces of 8 x 12,800 bytes
    job = _sorted_job(tmp_path)
    recs = _records(job.outputs[0])
    assert len(recs) > 1024
    assert job.validate()["duplicate_keys"] == 0
    swapped = recs.copy()
    swapped[[1023, 1024]] = swapped[[1024, 1023]]
    _rewrite_output(job.outputs[0], swapped)
    with pytest.raises(CaseError, match="part-r-00000: 1 records out of order"):
        job.validate()
    repeated = recs.copy()
    repeated[1024, :10] = repeated[1023, :10]                     # a key repeated across the boundary
    _rewrite_output(job.outputs[0], repeated)
    with pytest.raises(CaseError, match="output checksum"):       # (a changed record: checksum differs)
        job.validate()
    assert job.check_file(job.outputs[0], IOCounts())["duplicates"] == 1


def test_peak_memory_does_not_grow_with_the_records(tmp_path):
    """The bound, through the CLI as a user runs it: the case's peak RSS (the run document's peak_rss_bytes)
    with 4x the records grows by far less than the data (one partition, so a reducer that held its
    partition would grow by 2 x 30 MB: its segments and its merged output). Small blocks keep the map's
    share (a split) small; merge_factor 8 makes the 20 and 80 runs go through merge passes."""
    import json
    import subprocess
    import sys
    tier = tmp_path / "tier"
    tier.mkdir()
    peaks = {}
    for records in (100_000, 400_000):
        argv = [sys.executable, "-m", "bench", "run", "--workload", "terasort", "--tier", f"disk={tier}",
                "--data", "disk", "--temp", "disk", "--results", str(tmp_path / "store"), "--json",
                "--param", f"records={records}", "--param", "partitions=1", "--param", "block_size=500000",
                "--param", "merge_factor=8", "--param", "merge_buffer=65536"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        case = json.loads(done.stdout)["cases"][0]
        assert case["error"] is None and case["metrics"]["records_count"] == records
        peaks[records] = case["metrics"]["peak_rss_bytes"]
    grown = peaks[400_000] - peaks[100_000]
    assert grown < 20 * 2 ** 20, f"peak RSS grew {grown} bytes for 30 MB more data: {peaks}"
