"""kernels.ioloop_ops (the op stream: which file, block and direction op c of a job uses) against its reference,
kernels.ioloop_ops_ref: the same ops in the same order, for every access order and file service."""
from __future__ import annotations

import itertools

import pytest

from kernels import ioloop_ops, ioloop_ops_ref

KIB = 4096


@pytest.mark.parametrize("random, service, rwmix", list(itertools.product(
    (False, True), ioloop_ops_ref.FILE_SERVICE, (0, 37, 100))))
@pytest.mark.parametrize("nfiles, nb", [(1, 1), (3, 5), (2, 64)])
def test_size_based_ops_match_reference(random, service, rwmix, nfiles, nb):
    job_key = ioloop_ops_ref.seed_keys(7, [nfiles, 1])[0][0]
    args = (job_key, nfiles, nb, KIB, rwmix, random, service, nfiles * nb + 10)
    got = ioloop_ops.op_sequence(*args)
    assert got == ioloop_ops_ref.op_sequence(*args)
    assert len(got) == nfiles * nb                          # size-based: the job's ops, then no more
    assert all(0 <= f < nfiles and 0 <= off < nb * KIB and off % KIB == 0 for f, off, _ in got)
    if not random:                                         # sequential phases touch every block once
        assert sorted((f, off) for f, off, _ in got) == [(f, b * KIB) for f in range(nfiles) for b in range(nb)]
    reads = sum(is_read for _, _, is_read in got)
    if rwmix in (0, 100):
        assert reads == len(got) * rwmix // 100
    elif nfiles * nb >= 128:
        assert 0 < reads < len(got)


@pytest.mark.parametrize("random, service", list(itertools.product((False, True), ioloop_ops_ref.FILE_SERVICE)))
def test_time_based_ops_wrap_around_as_the_reference(random, service):
    args = (12345, 3, 4, KIB, 50, random, service, 3 * 4 * 3 + 5)
    got = ioloop_ops.op_sequence(*args, timed=True)
    assert got == ioloop_ops_ref.op_sequence(*args, timed=True)
    assert len(got) == args[-1]


def test_ops_depend_on_the_job_key():
    a = ioloop_ops.op_sequence(1, 2, 64, KIB, 50, True, "random", 64)
    b = ioloop_ops.op_sequence(2, 2, 64, KIB, 50, True, "random", 64)
    assert a != b and a == ioloop_ops.op_sequence(1, 2, 64, KIB, 50, True, "random", 64)


def test_bad_arguments():
    with pytest.raises(ValueError, match="service"):
        ioloop_ops.op_sequence(1, 1, 1, KIB, 50, False, "nearest", 1)
    with pytest.raises(ValueError, match="rwmix"):
        ioloop_ops.op_sequence(1, 1, 1, KIB, 101, False, "roundrobin", 1)
