"""kernels.ioloop_checksum (the write pattern and the CRC32C each chunk was written with, from tables) against
its reference, kernels.ioloop_checksum_ref, and against the bytes a real write phase left in real files."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from kernels import ioloop, ioloop_checksum, ioloop_checksum_ref, ioloop_ref
from tests.kernels.queued import job_files, scratch_in

KIB = 1024
crc32c_module = importlib.import_module("kernels.crc32c")


@pytest.fixture
def scratch():
    yield from scratch_in("/dev/shm", "tierbench-ioloop-checksum-")


@pytest.mark.parametrize("nbytes", [0, 1, 7, 8, 9, 512, 4097, 64 * KIB])
def test_write_pattern_matches_reference(nbytes):
    rng = np.random.default_rng(nbytes)
    for key in (0, 1, (1 << 64) - 1, int(rng.integers(0, 2**63))):
        want = ioloop_checksum_ref.write_pattern(key, nbytes).tobytes()
        got = ioloop_checksum.write_pattern(key, nbytes)
        assert got == want and len(got) == nbytes
        assert 0 not in got     # no zero bytes: no page of it is zero


@pytest.mark.parametrize("chunk, written_bs", [(512, 512), (512, 4 * KIB), (1 * KIB, 8 * KIB), (4 * KIB, 4 * KIB),
                                               (2 * KIB, 6 * KIB)])
def test_expected_crcs_match_reference(chunk, written_bs):
    rng = np.random.default_rng(chunk + written_bs)
    pattern_key, file_key = (int(x) for x in rng.integers(0, 2**63, 2))
    offsets = [k * chunk for k in range(3 * written_bs // chunk)] + [int(rng.integers(0, 2**20)) * chunk]
    want = ioloop_checksum_ref.expected_crcs(pattern_key, written_bs, chunk, file_key, offsets)
    assert ioloop_checksum.expected_crcs(pattern_key, written_bs, chunk, file_key, offsets) == want


def test_expected_crcs_are_those_of_the_files_a_write_left(scratch):
    """The CRCs the tables give are the CRC32C (kernels.crc32c) of the chunks a real write phase wrote."""
    bs, file_size, chunk, seed = 8 * KIB, 64 * KIB, 1 * KIB, 11
    jobs = job_files(scratch, "w", 2, 2)
    ioloop.run_phase(jobs, "write", bs, file_size, direct=False, seed=seed)
    _, file_keys, pattern_key = ioloop_ref.seed_keys(seed, [2, 2])
    offsets = list(range(0, file_size, chunk))
    for j, job in enumerate(jobs):
        for i, path in enumerate(job):
            data = open(path, "rb").read()
            found = [crc32c_module.crc32c(data[o:o + chunk]) for o in offsets]
            assert ioloop_checksum.expected_crcs(pattern_key, bs, chunk, file_keys[j][i], offsets) == found


@pytest.mark.parametrize("engine", [ioloop_checksum, ioloop_checksum_ref])
@pytest.mark.parametrize("chunk, written_bs, offsets, message", [
    (500, 4 * KIB, [0], "multiple of 512"),
    (128 * KIB, 128 * KIB, [0], "multiple of 512"),
    (1 * KIB, 1536, [0], "whole number of checksum chunks"),
    (1 * KIB, 4 * KIB, [512], "whole number of 1024-byte chunks"),
])
def test_bad_arguments(engine, chunk, written_bs, offsets, message):
    with pytest.raises(ValueError, match=message):
        engine.expected_crcs(1, written_bs, chunk, 2, offsets)
