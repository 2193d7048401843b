"""kernels.ioloop (the builtin I/O engine) against its pure-Python reference and fio's definitions.

Buffered runs use a scratch folder on tmpfs (/dev/shm, fast); direct I/O needs a disk filesystem (tmpfs has
no O_DIRECT), so those tests use a scratch folder under /var/tmp and skip, saying why, where O_DIRECT fails.
"""
from __future__ import annotations

import errno
import importlib
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kernels import ioloop, ioloop_ref
from kernels.latency_bins import percentile_from_bins
from tests.kernels.queued import (
    check_queued_matches_reference,
    direct_or_skip,
    files_with_a_flipped_byte,
    job_files,
    scratch_in,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "fio"
KIB, MIB = 1024, 1024 * 1024


@pytest.fixture
def scratch():
    yield from scratch_in("/dev/shm")


@pytest.fixture
def disk_scratch():
    yield from scratch_in("/var/tmp")


def _expected_file(seed: int, njobs_files: list, job: int, index: int, bs: int, file_size: int) -> bytes:
    """What a sequential write phase leaves in file `index` of `job` (ioloop_ref's definition)."""
    _, file_keys, pattern_key = ioloop_ref.seed_keys(seed, njobs_files)
    pattern = ioloop_ref.write_pattern(pattern_key, bs)
    out = bytearray()
    for off in range(0, file_size, bs):
        block = bytearray(pattern.tobytes())
        for s in ioloop_ref.stamp_offsets(bs):
            block[s:s + 8] = ((file_keys[job][index] + off + s) & ioloop_ref.MASK).to_bytes(8, "little")
        out += block
    return bytes(out)


# ---- latency bins: fio's plat_val_to_idx / plat_idx_to_val -------------------------------------------

def test_small_values_are_their_own_bin():
    for value in range(128):  # up to PLAT_BITS + 1 significant bits nothing is rounded
        assert ioloop.bin_index_ns(value) == value
        assert ioloop.bin_value_ns(value) == value


@pytest.mark.parametrize("value, index, middle", [
    (128, 128, 129),              # msb 7: error_bits 1, base (1+1)<<6, offset (128>>1)&63 = 0; 2^7 + 1
    (130, 129, 131),
    (1000, 317, 1004),            # msb 9: error_bits 3, base 4<<6 = 256, (1000>>3)&63 = 61; 2^9 + 123*2^2
    (1_000_000, 954, 1_003_520),  # msb 19: error_bits 13, base 14<<6, (10^6>>13)&63 = 58; 2^19 + 117*2^12
    (1 << 40, 1855, (1 << 33) + (127 << 26)),   # beyond ~17 s: the last bin
])
def test_bins_match_fio_formula(value, index, middle):
    assert ioloop.bin_index_ns(value) == index == ioloop_ref.bin_index_ns(value)
    assert ioloop.bin_value_ns(index) == middle == ioloop_ref.bin_value_ns(index)


def test_bins_agree_with_reference_everywhere():
    assert ioloop.PLAT_NR == ioloop_ref.PLAT_NR == 1856
    assert [ioloop.bin_value_ns(i) for i in range(1856)] == [ioloop_ref.bin_value_ns(i) for i in range(1856)]
    rng = np.random.default_rng(1)
    for value in rng.integers(0, 1 << 36, 2000).tolist():
        index = ioloop.bin_index_ns(value)
        assert index == ioloop_ref.bin_index_ns(value)
        assert index == 1855 or abs(ioloop.bin_value_ns(index) - value) <= value / 64  # < 1/64 of the value
    with pytest.raises(ValueError):
        ioloop.bin_value_ns(1856)


def test_bins_are_fios_own_bin_values():
    """Every bin value in a real fio json+ output is a fixed point of value -> bin -> value."""
    doc = json.loads((DATA / "randread-4k.plus.json").read_text())
    bins = {int(v): c for v, c in doc["jobs"][0]["read"]["clat_ns"]["bins"].items()}
    assert bins
    for value in bins:
        assert ioloop.bin_value_ns(ioloop.bin_index_ns(value)) == value
    hist = np.zeros(1856, dtype=np.uint64)
    for value, count in bins.items():
        hist[ioloop.bin_index_ns(value)] += count
    assert ioloop.hist_to_bins(hist) == bins == ioloop_ref.hist_to_bins(hist)


# ---- kernel vs reference -------------------------------------------------------------------------------

CASES = [
    # rw, bs, file_size, njobs, nfiles, iodepth, file_service, rwmixread
    ("write", 4 * KIB, 4 * KIB, 1, 1, 1, "roundrobin", 50),            # one block
    ("write", 4 * KIB, 7 * 4 * KIB, 2, 3, 3, "roundrobin", 50),        # odd number of blocks
    ("write", 1000, 9 * 1000, 1, 2, 2, "sequential", 50),              # buffered bs that is no sector multiple
    ("write", MIB, 4 * MIB, 1, 1, 2, "roundrobin", 50),                # a few MB
    ("randwrite", 4 * KIB, 13 * 4 * KIB, 1, 2, 2, "random", 50),
    ("read", 8 * KIB, 5 * 8 * KIB, 3, 1, 2, "sequential", 50),
    ("read", 4 * KIB, 11 * 4 * KIB, 1, 3, 2, "random", 50),
    ("randread", 4 * KIB, 2 * MIB, 2, 2, 4, "roundrobin", 50),
    ("randrw", 4 * KIB, MIB, 2, 2, 3, "roundrobin", 70),
    ("rw", 4 * KIB, 11 * 4 * KIB, 1, 3, 2, "random", 30),
]


def _run_both(directory: Path, rw, bs, file_size, njobs, nfiles, iodepth, service, mix, seed=7, **kw):
    results = {}
    for engine in (ioloop, ioloop_ref):
        jobs = job_files(directory, engine.IMPLEMENTATION.replace(":", "-"), njobs, nfiles)
        if rw not in ("write", "randwrite"):
            ioloop.run_phase(jobs, "write", bs, file_size, direct=False, seed=seed)
        results[engine] = (jobs, engine.run_phase(jobs, rw, bs, file_size, iodepth=iodepth, rwmixread=mix,
                                                  direct=False, file_service=service, seed=seed, **kw))
    return results


@pytest.mark.parametrize("rw, bs, file_size, njobs, nfiles, iodepth, service, mix", CASES)
def test_kernel_matches_reference(scratch, rw, bs, file_size, njobs, nfiles, iodepth, service, mix):
    both = _run_both(scratch, rw, bs, file_size, njobs, nfiles, iodepth, service, mix)
    (kjobs, got), (rjobs, want) = both[ioloop], both[ioloop_ref]
    assert got["implementation"] == "cython:ioloop"
    assert set(got) == set(want)
    total_ops = njobs * nfiles * file_size // bs
    assert got["read"]["ops"] + got["write"]["ops"] == total_ops
    for d in ("read", "write"):
        assert got[d]["ops"] == want[d]["ops"]          # the op sequence depends on the seed only
        assert got[d]["bytes"] == want[d]["bytes"] == got[d]["ops"] * bs
        assert got[d]["hist"].dtype == np.uint64 and got[d]["hist"].shape == (1856,)
        assert int(got[d]["hist"].sum()) == got[d]["ops"]
        assert int(want[d]["hist"].sum()) == want[d]["ops"]
        if got[d]["ops"]:
            assert 0 < got[d]["lat_min_ns"] <= got[d]["lat_sum_ns"] / got[d]["ops"] <= got[d]["lat_max_ns"]
        else:
            assert got[d]["lat_min_ns"] is None and got[d]["lat_max_ns"] is None
    if rw == "read" or rw == "randread":
        assert got["write"]["ops"] == 0
    if rw in ("randrw", "rw"):
        assert got["read"]["ops"] and got["write"]["ops"]
    assert got["checksums"] == want["checksums"] == 0
    wrote = got["write"]["ops"] > 0
    assert got["fsyncs"] == want["fsyncs"] == (njobs * nfiles if wrote else 0)   # end_fsync: each written file
    for kpaths, rpaths in zip(kjobs, rjobs):
        for kp, rp in zip(kpaths, rpaths):
            assert os.path.getsize(kp) == os.path.getsize(rp) == file_size
            assert Path(kp).read_bytes() == Path(rp).read_bytes()


def test_written_files_hold_the_pattern(scratch):
    bs, file_size, seed = 4 * KIB, 6 * 4 * KIB, 11
    jobs = job_files(scratch, "w", 2, 2)
    result = ioloop.run_phase(jobs, "write", bs, file_size, iodepth=3, direct=False, seed=seed)
    assert result["write"]["ops"] == 24
    for j, job in enumerate(jobs):
        for i, path in enumerate(job):
            data = Path(path).read_bytes()
            assert data == _expected_file(seed, [2, 2], j, i, bs, file_size)
            assert data.count(0) < len(data) // 64       # random fill; only the stamps hold zero bytes
    blocks = {Path(p).read_bytes()[k:k + 512] for job in jobs for p in job for k in range(0, file_size, 512)}
    assert len(blocks) == 2 * 2 * file_size // 512        # every sector differs: nothing to deduplicate


def test_write_extends_but_never_truncates(scratch):
    path = scratch / "f"
    path.write_bytes(b"x" * (64 * KIB))
    ioloop.run_phase([[str(path)]], "write", 4 * KIB, 16 * KIB, direct=False)
    assert path.stat().st_size == 64 * KIB and path.read_bytes()[16 * KIB:] == b"x" * (48 * KIB)
    fresh = scratch / "g"
    ioloop.run_phase([[str(fresh)]], "randwrite", 4 * KIB, 32 * KIB, direct=False)
    assert fresh.stat().st_size == 32 * KIB


def test_split_does_not_depend_on_threads(scratch):
    jobs = job_files(scratch, "m", 1, 2)
    ioloop.run_phase(jobs, "write", 4 * KIB, MIB, direct=False)
    runs = [ioloop.run_phase(jobs, "randrw", 4 * KIB, MIB, iodepth=qd, rwmixread=25, direct=False, seed=5)
            for qd in (1, 4)]
    assert runs[0]["read"]["ops"] == runs[1]["read"]["ops"]
    assert runs[0]["write"]["ops"] == runs[1]["write"]["ops"]
    other = ioloop.run_phase(jobs, "randrw", 4 * KIB, MIB, rwmixread=25, direct=False, seed=6)
    assert 0.15 < other["read"]["ops"] / 512 < 0.35


def test_fsync_every(scratch):
    both = _run_both(scratch, "write", 4 * KIB, 10 * 4 * KIB, 1, 1, 1, "roundrobin", 50, fsync_every=4)
    assert both[ioloop][1]["fsyncs"] == both[ioloop_ref][1]["fsyncs"] == 2 + 1   # after writes 4, 8; end
    jobs = job_files(scratch, "n", 1, 1)
    result = ioloop.run_phase(jobs, "write", 4 * KIB, 8 * KIB, direct=False, end_fsync=False)
    assert result["fsyncs"] == 0


def test_time_based(scratch):
    jobs = job_files(scratch, "t", 2, 2)
    ioloop.run_phase(jobs, "write", 4 * KIB, 64 * KIB, direct=False)
    for rw in ("read", "randrw"):
        start = time.monotonic()
        result = ioloop.run_phase(jobs, rw, 4 * KIB, 64 * KIB, iodepth=2, direct=False, runtime_s=0.2)
        wall = time.monotonic() - start
        ops = result["read"]["ops"] + result["write"]["ops"]
        assert ops > 2 * 2 * 16            # sequential reads wrapped around the 16-block files
        assert 0.2 <= result["elapsed_s"] <= wall
        for d in ("read", "write"):
            assert int(result[d]["hist"].sum()) == result[d]["ops"]


def test_percentiles_from_bins_are_monotonic(scratch):
    jobs = job_files(scratch, "p", 1, 1)
    ioloop.run_phase(jobs, "write", 4 * KIB, 4 * MIB, direct=False)
    result = ioloop.run_phase(jobs, "randread", 4 * KIB, 4 * MIB, iodepth=2, direct=False)
    bins = ioloop.hist_to_bins(result["read"]["hist"])
    assert sum(bins.values()) == result["read"]["ops"] == 1024
    qs = [1, 5, 10, 50, 90, 95, 99, 99.9, 100]
    values = [percentile_from_bins(bins, q) for q in qs]
    assert values == sorted(values)
    low, high = result["read"]["lat_min_ns"], result["read"]["lat_max_ns"]
    assert low * 63 / 64 <= values[0] and values[-1] <= high * 65 / 64   # bins are < 1/64 wide


def test_gil_is_released(scratch):
    jobs = job_files(scratch, "g", 1, 1)
    ioloop.run_phase(jobs, "write", 4 * KIB, 64 * KIB, direct=False)
    runner = threading.Thread(target=ioloop.run_phase, args=(jobs, "randread", 4 * KIB, 64 * KIB),
                              kwargs={"direct": False, "runtime_s": 0.3})
    spins = 0
    runner.start()
    while runner.is_alive():
        spins += 1
    runner.join()
    assert spins > 10_000


@pytest.mark.parametrize("engine", [ioloop, ioloop_ref])
def test_cpu_seconds_cover_the_timed_part_not_the_setup(scratch, engine):
    """cpu_s is the process's CPU over the timed I/O: a time-based phase that spins on cached reads spends most
    of the CPU of the whole call in its timed part (a share of CPU seconds, which other work on the machine
    cannot flip the way it flips CPU per wall second); a phase of one write with 64 MiB buffers to set up
    (filled before the clock starts) uses less CPU in its timed part than the whole call does."""
    jobs = job_files(scratch, "c", 1, 1)
    ioloop.run_phase(jobs, "write", 4 * KIB, 64 * KIB, direct=False)
    before = time.process_time()
    busy = engine.run_phase(jobs, "randread", 4 * KIB, 64 * KIB, direct=False, runtime_s=0.3)
    spent = time.process_time() - before
    assert 0.5 * spent <= busy["cpu_s"] <= spent * 1.01 + 0.01
    before = time.process_time()
    one = engine.run_phase(job_files(scratch, "big", 1, 1), "write", 64 * MIB, 64 * MIB, direct=False,
                           end_fsync=False)
    whole = time.process_time() - before
    assert 0 <= one["cpu_s"] < whole


# ---- checksums: a CRC32C per chunk, written and verified ------------------------------------------------

CHECKSUM_CASES = [
    # rw, bs, file_size, chunk, written_bs (None: the read's bs), njobs, nfiles, iodepth
    ("read", 8 * KIB, 6 * 8 * KIB, 512, None, 1, 2, 2),
    ("read", 4 * KIB, 8 * 4 * KIB, 512, 16 * KIB, 2, 1, 3),      # laid out in larger blocks than it is read
    ("randread", 8 * KIB, 4 * 8 * KIB, 4 * KIB, 32 * KIB, 1, 2, 2),
    ("read", 64 * KIB, 2 * 64 * KIB, 64 * KIB, None, 1, 1, 1),   # the largest chunk: 128 stamps in one chunk
]


@pytest.mark.parametrize("rw, bs, file_size, chunk, written_bs, njobs, nfiles, iodepth", CHECKSUM_CASES)
def test_checksums_are_computed_and_verified_like_the_reference(scratch, rw, bs, file_size, chunk, written_bs,
                                                                 njobs, nfiles, iodepth):
    ops = njobs * nfiles * file_size // bs
    for engine in (ioloop, ioloop_ref):
        jobs = job_files(scratch, engine.IMPLEMENTATION.replace(":", "-"), njobs, nfiles)
        wrote = engine.run_phase(jobs, "write", written_bs or bs, file_size, iodepth=iodepth, direct=False,
                                 seed=21, checksum_chunk=chunk)
        assert wrote["checksums"] == njobs * nfiles * file_size // chunk
        read = engine.run_phase(jobs, rw, bs, file_size, iodepth=iodepth, direct=False, seed=4,
                                checksum_chunk=chunk, written_seed=21, written_bs=written_bs)
        assert read["read"]["ops"] == ops and read["checksums"] == ops * bs // chunk
        for j, job in enumerate(jobs):   # checksumming changes nothing that is written
            for i, path in enumerate(job):
                assert Path(path).read_bytes() == _expected_file(21, [nfiles] * njobs, j, i, written_bs or bs,
                                                                 file_size)


def test_checksummed_random_writes_match_the_reference(scratch):
    both = _run_both(scratch, "randwrite", 4 * KIB, 16 * 4 * KIB, 2, 2, 2, "random", 50, checksum_chunk=1024)
    (kjobs, got), (rjobs, want) = both[ioloop], both[ioloop_ref]
    assert got["checksums"] == want["checksums"] == 2 * 2 * 16 * 4
    for kpaths, rpaths in zip(kjobs, rjobs):
        for kp, rp in zip(kpaths, rpaths):
            assert Path(kp).read_bytes() == Path(rp).read_bytes()


def test_time_based_verifying_reads_wrap_around(scratch):
    jobs = job_files(scratch, "c", 2, 1)
    ioloop.run_phase(jobs, "write", 4 * KIB, 64 * KIB, direct=False, seed=2)
    result = ioloop.run_phase(jobs, "read", 4 * KIB, 64 * KIB, iodepth=2, direct=False, runtime_s=0.1,
                              checksum_chunk=512, written_seed=2)
    assert result["read"]["ops"] > 2 * 16 and result["checksums"] == result["read"]["ops"] * 8


@pytest.mark.parametrize("engine", [ioloop, ioloop_ref])
@pytest.mark.parametrize("where", [100_001, 3 * 4096 + 512 + 3])   # in the fill; in a sector's stamp
def test_a_flipped_byte_fails_the_verifying_read_naming_file_and_offset(scratch, engine, where):
    crc32c_kernel = importlib.import_module("kernels.crc32c").crc32c
    jobs = job_files(scratch, "x", 2, 2)
    ioloop.run_phase(jobs, "write", 32 * KIB, 128 * KIB, direct=False, seed=9)
    bad = Path(jobs[1][0])
    data = bytearray(bad.read_bytes())
    data[where] ^= 0x10
    bad.write_bytes(bytes(data))
    chunk_at = where // 512 * 512
    with pytest.raises(OSError) as info:
        engine.run_phase(jobs, "read", 8 * KIB, 128 * KIB, iodepth=2, direct=False, checksum_chunk=512,
                         written_seed=9, written_bs=32 * KIB)
    assert info.value.errno == errno.EIO and info.value.filename == str(bad)
    message = str(info.value)
    assert f"CRC32C mismatch in the 512-byte chunk at offset {chunk_at} " in message
    assert f"read: 0x{crc32c_kernel(bytes(data[chunk_at:chunk_at + 512])):08x}" in message
    # the other files and the same file's other chunks verify
    engine.run_phase([jobs[0]], "read", 8 * KIB, 128 * KIB, direct=False, checksum_chunk=512, written_seed=9,
                     written_bs=32 * KIB)


@pytest.mark.parametrize("written, first_bad", [
    ({"written_seed": 10}, 0),
    ({"written_seed": 9, "written_bs": 8 * KIB}, 8 * KIB),   # the blocks' first 8 KiB are alike
])
def test_verifying_against_another_writer_fails(scratch, written, first_bad):
    jobs = job_files(scratch, "o", 1, 1)
    ioloop.run_phase(jobs, "write", 16 * KIB, 64 * KIB, direct=False, seed=9)
    with pytest.raises(OSError, match=f"CRC32C mismatch in the 512-byte chunk at offset {first_bad} "):
        ioloop.run_phase(jobs, "read", 8 * KIB, 64 * KIB, direct=False, checksum_chunk=512, **written)


@pytest.mark.parametrize("kwargs, message", [
    ({"checksum_chunk": 1000}, "multiple of 512"),
    ({"checksum_chunk": 1 << 17, "bs": 1 << 17, "file_size": 1 << 17}, "up to 65536"),
    ({"checksum_chunk": -1}, "checksum_chunk"),
    ({"checksum_chunk": 8192}, "whole number of checksum chunks"),
    ({"checksum_chunk": 512, "rw": "randrw"}, "only reads or only writes"),
    ({"checksum_chunk": 512, "rw": "read"}, "give that phase's seed as written_seed"),
    ({"checksum_chunk": 512, "rw": "read", "written_seed": 0, "written_bs": 1000}, "written_bs=1000"),
    ({"checksum_chunk": 512, "written_seed": 0}, "for read phases"),
    ({"written_seed": 0, "rw": "read"}, "need checksum_chunk"),
])
@pytest.mark.parametrize("engine", [ioloop, ioloop_ref])
def test_bad_checksum_arguments(engine, kwargs, message):
    args = {"jobs": [["/nonexistent/x"]], "rw": "write", "bs": 4096, "file_size": 8192, "direct": False}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        engine.run_phase(args.pop("jobs"), args.pop("rw"), args.pop("bs"), args.pop("file_size"), **args)


# ---- direct I/O (needs a disk filesystem) ----------------------------------------------------------------

def test_direct_io_on_disk(disk_scratch):
    jobs = job_files(disk_scratch, "d", 2, 1)
    try:
        written = ioloop.run_phase(jobs, "write", 4 * KIB, 256 * KIB, iodepth=2, seed=3)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            pytest.skip(f"O_DIRECT is not supported under /var/tmp here: {exc}")
        raise
    assert written["write"]["ops"] == 128
    for j, job in enumerate(jobs):
        assert Path(job[0]).read_bytes() == _expected_file(3, [1, 1], j, 0, 4 * KIB, 256 * KIB)
    read = ioloop.run_phase(jobs, "randread", 4 * KIB, 256 * KIB, iodepth=2)
    ref = ioloop_ref.run_phase(jobs, "randread", 4 * KIB, 256 * KIB, iodepth=2)
    assert read["read"]["ops"] == ref["read"]["ops"] == 128


def test_direct_io_with_a_queue_uses_aio_slots_correctly(disk_scratch):
    """Direct I/O with iodepth > 1 runs each job on one thread with Linux AIO, `iodepth` ops in flight, each in
    its own buffer: what it writes is byte for byte the sequential write phase's content, its reads verify
    every chunk's CRC32C, and a time-based mix does both reads and writes."""
    jobs = job_files(disk_scratch, "q", 2, 2)
    try:
        written = ioloop.run_phase(jobs, "write", 8 * KIB, 512 * KIB, iodepth=4, seed=5, checksum_chunk=512)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            pytest.skip(f"O_DIRECT is not supported under /var/tmp here: {exc}")
        raise
    assert written["write"]["ops"] == 2 * 2 * 64 and written["checksums"] == 2 * 2 * 64 * 16
    for j, job in enumerate(jobs):
        for i, path in enumerate(job):
            assert Path(path).read_bytes() == _expected_file(5, [2, 2], j, i, 8 * KIB, 512 * KIB)
    read = ioloop.run_phase(jobs, "randread", 8 * KIB, 512 * KIB, iodepth=8, checksum_chunk=1024,
                            written_seed=5)
    assert read["read"]["ops"] == 256 and read["checksums"] == 256 * 8
    assert read["read"]["lat_min_ns"] > 0 and sum(read["read"]["hist"]) == 256
    mixed = ioloop.run_phase(jobs, "randrw", 8 * KIB, 512 * KIB, iodepth=6, runtime_s=0.2, rwmixread=50)
    assert mixed["read"]["ops"] > 0 and mixed["write"]["ops"] > 0
    assert 0.2 <= mixed["elapsed_s"] < 5


AIO_CASES = [
    # rw, bs, file_size, njobs, nfiles, iodepth, file_service, rwmixread: direct, iodepth > 1 (the AIO thread)
    ("randwrite", 4 * KIB, 16 * 4 * KIB, 1, 3, 3, "random", 50),
    ("write", 4 * KIB, 12 * 4 * KIB, 2, 2, 4, "roundrobin", 50),
    ("read", 8 * KIB, 6 * 8 * KIB, 1, 2, 8, "sequential", 50),
    ("randrw", 4 * KIB, 32 * 4 * KIB, 2, 1, 5, "roundrobin", 60),
]


@pytest.mark.parametrize("rw, bs, file_size, njobs, nfiles, iodepth, service, mix", AIO_CASES)
def test_aio_matches_reference(disk_scratch, rw, bs, file_size, njobs, nfiles, iodepth, service, mix):
    """The AIO thread does the reference's ops (the same split of reads and writes, the same end fsyncs) and
    leaves the same bytes, whatever order its completions come back in."""
    check_queued_matches_reference(disk_scratch, rw, bs, file_size, njobs, nfiles, iodepth, service, mix)


def test_aio_fsync_every_counts_the_jobs_writes(disk_scratch):
    """With AIO a job's writes are one thread's: fsync_every=5 over 24 writes per job is 4 fsyncs per job,
    then the end fsync of each of its 2 files."""
    jobs = job_files(disk_scratch, "f", 2, 2)
    result = direct_or_skip(lambda: ioloop.run_phase(jobs, "write", 4 * KIB, 12 * 4 * KIB, iodepth=4,
                                                      fsync_every=5))
    assert result["write"]["ops"] == 48 and result["fsyncs"] == 2 * 4 + 4


def test_aio_verifying_read_of_a_flipped_byte_fails_naming_file_and_offset(disk_scratch):
    jobs, bad = files_with_a_flipped_byte(disk_scratch)
    with pytest.raises(OSError) as info:
        direct_or_skip(lambda: ioloop.run_phase(jobs, "read", 8 * KIB, 64 * KIB, iodepth=4, checksum_chunk=512,
                                                 written_seed=9))
    assert info.value.errno == errno.EIO and info.value.filename == str(bad)
    assert f"512-byte chunk at offset {5 * 8 * KIB + 512} " in str(info.value)


def test_direct_io_on_tmpfs_names_the_problem(scratch):
    path = str(scratch / "x")
    try:
        ioloop.run_phase([[path]], "write", 4 * KIB, 8 * KIB, direct=True)
    except OSError as exc:
        assert exc.errno == errno.EINVAL and exc.filename == path and "O_DIRECT" in str(exc)
    else:
        pytest.skip("tmpfs accepts O_DIRECT on this kernel (Linux >= 6.6)")


# ---- errors -----------------------------------------------------------------------------------------------

def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("engine", [ioloop, ioloop_ref])
def test_reading_missing_or_short_files_is_a_value_error(scratch, engine):
    missing = str(scratch / "missing")
    with pytest.raises(ValueError, match="missing"):
        engine.run_phase([[missing]], "read", 4 * KIB, 8 * KIB, direct=False)
    short = scratch / "short"
    short.write_bytes(b"s" * 4096)
    with pytest.raises(ValueError, match="short.*4096 bytes"):
        engine.run_phase([[str(short)]], "randrw", 4 * KIB, 8 * KIB, direct=False)
    assert not (scratch / "missing").exists()


@pytest.mark.parametrize("engine", [ioloop, ioloop_ref])
def test_enospc_stops_every_thread_and_names_the_file(engine):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (writes to it fail with ENOSPC)")
    before = _open_fds()
    with pytest.raises(OSError) as info:
        engine.run_phase([["/dev/full"], ["/dev/full"]], "write", 4 * KIB, MIB, iodepth=3, direct=False)
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == "/dev/full"
    assert _open_fds() == before


def test_unwritable_paths_raise_oserror_naming_the_file(scratch):
    blocker = scratch / "file"
    blocker.write_bytes(b"")
    path = str(blocker / "below")     # a path under a regular file: ENOTDIR, even for root
    before = _open_fds()
    with pytest.raises(OSError) as info:
        ioloop.run_phase([[str(scratch / "ok")], [path]], "write", 4 * KIB, 8 * KIB, direct=False)
    assert info.value.errno == errno.ENOTDIR and info.value.filename == path
    assert _open_fds() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_read_only_file(scratch):
    path = scratch / "ro"
    path.write_bytes(b"r" * 8192)
    path.chmod(0o444)
    with pytest.raises(PermissionError) as info:
        ioloop.run_phase([[str(path)]], "write", 4 * KIB, 8 * KIB, direct=False)
    assert info.value.filename == str(path)


@pytest.mark.parametrize("kwargs, message", [
    ({"rw": "trim"}, "rw must be"),
    ({"file_size": 6000}, "whole number of blocks"),
    ({"bs": 1000, "file_size": 2000, "direct": True}, "multiple of 512"),
    ({"file_service": "zipf"}, "file_service"),
    ({"rwmixread": 101}, "rwmixread"),
    ({"iodepth": 0}, "iodepth"),
    ({"runtime_s": 0}, "runtime_s"),
    ({"jobs": "/dev/null"}, "jobs must be"),
    ({"jobs": [[]]}, "job 0"),
])
def test_bad_arguments(kwargs, message):
    args = {"jobs": [["/nonexistent/x"]], "rw": "write", "bs": 4096, "file_size": 8192, "direct": False}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ioloop.run_phase(args.pop("jobs"), args.pop("rw"), args.pop("bs"), args.pop("file_size"), **args)
