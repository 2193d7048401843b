"""kernels.ioloop_account (the builtin engine's accounting) against its reference, kernels.ioloop_account_ref:
the same ops counted the same way, fio's bins, intervals by completion time, nothing measured as 0."""
from __future__ import annotations

import numpy as np
import pytest

from kernels import ioloop, ioloop_account, ioloop_account_ref

ENGINES = [ioloop_account, ioloop_account_ref]


def _ops(rng, n: int, start_ns: int, span_ns: int) -> list:
    """n ops of both directions, latencies from 0 ns to hours (past fio's last bin, ~17 s; the sums stay within
    the kernel's 64 bits), completion times before, at and after `start_ns`."""
    lats = np.concatenate([rng.integers(0, 200, n // 4), rng.integers(0, 10**6, n // 4),
                           rng.integers(0, 10**12, n // 4), rng.integers(0, 10**13, n - 3 * (n // 4))])
    rng.shuffle(lats)
    t1 = rng.integers(start_ns - span_ns // 10, start_ns + span_ns, n)
    return [(int(rng.integers(0, 2)), int(lat), int(rng.choice([512, 4096, 1 << 20])), int(t))
            for lat, t in zip(lats, t1)]


def _same(got: dict, want: dict) -> None:
    for d in ("read", "write"):
        for key in ("ops", "bytes", "lat_min_ns", "lat_max_ns", "lat_sum_ns"):
            assert got[d][key] == want[d][key], (d, key)
        np.testing.assert_array_equal(np.asarray(got[d]["hist"]), np.asarray(want[d]["hist"]))
    assert got["intervals"].dtype == want["intervals"].dtype == np.uint64
    np.testing.assert_array_equal(got["intervals"], want["intervals"])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("interval_s", [None, 0.001, 0.25])
def test_tally_matches_reference(seed, interval_s):
    rng = np.random.default_rng(seed)
    start_ns = 5 * 10**9
    ops = _ops(rng, 2000, start_ns, 2 * 10**9)
    got = ioloop_account.tally(ops, interval_s, start_ns)
    _same(got, ioloop_account_ref.tally(ops, interval_s, start_ns))
    for d, name in enumerate(("read", "write")):
        mine = [op for op in ops if op[0] == d]
        assert got[name]["ops"] == len(mine) and got[name]["bytes"] == sum(op[2] for op in mine)
        assert got[name]["lat_sum_ns"] == sum(op[1] for op in mine)
        assert int(np.asarray(got[name]["hist"]).sum()) == len(mine)
    if interval_s is None:
        assert got["intervals"].shape == (0, 2, 2 + ioloop_account.PLAT_NR)
    else:
        counts = got["intervals"]
        assert int(counts[:, :, 0].sum()) == len(ops)             # every op in one interval
        assert int(counts[:, :, 2:].sum()) == len(ops)            # and in one latency bin there
        early = sum(1 for op in ops if op[3] < start_ns + int(interval_s * 1e9))
        assert int(counts[0, :, 0].sum()) == early                # before the start: the first interval


def test_an_interval_after_a_gap_and_many_rows():
    """Completions far apart leave empty intervals between them (zeros, not missing rows), and more than the
    first allocation of rows (64) grows the table."""
    ops = [(0, 1000, 4096, 10**6 * k) for k in (0, 3, 200)] + [(1, 5, 512, 10**6 * 3)]
    for engine in ENGINES:
        counts = engine.tally(ops, 0.001, 0)["intervals"]
        assert counts.shape == (201, 2, 2 + ioloop_account.PLAT_NR)
        assert counts[:, 0, 0].tolist() == [1 if k in (0, 3, 200) else 0 for k in range(201)]
        assert counts[3, 1, 0] == 1 and counts[3, 1, 1] == 512


def test_no_ops_is_not_measured_not_zero():
    for engine in ENGINES:
        got = engine.tally([], None)
        for d in ("read", "write"):
            assert got[d]["ops"] == 0 and got[d]["lat_min_ns"] is None and got[d]["lat_max_ns"] is None


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("ops, interval_s, message", [
    ([(2, 1, 1, 1)], None, "direction"),
    ([], 0.0001, "interval_s"),
    ([], True, "interval_s"),
])
def test_bad_arguments(engine, ops, interval_s, message):
    with pytest.raises(ValueError, match=message):
        engine.tally(ops, interval_s)


def test_the_engine_reports_the_accounting_modules_bins():
    """kernels.ioloop's bin functions are this module's (one definition), and agree with the reference's."""
    assert ioloop.bin_value_ns is ioloop_account.bin_value_ns and ioloop.hist_to_bins is ioloop_account.hist_to_bins
    assert ioloop.PLAT_NR == ioloop_account.PLAT_NR == ioloop_account_ref.PLAT_NR
    values = [0, 1, 127, 128, 129, 10**3, 10**6, 10**9, 2**40 + 12345]
    assert [ioloop_account.bin_index_ns(v) for v in values] == [ioloop_account_ref.bin_index_ns(v) for v in values]
