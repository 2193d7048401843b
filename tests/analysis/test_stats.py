"""bench.analysis.stats: bootstrap CI of a ratio of medians, Mann-Whitney U, change points (synthetic, seeded data)."""
import numpy as np
import pytest

from bench.analysis import stats


def test_bootstrap_ci_contains_true_ratio_on_lognormal_data():
    # True medians: exp(mu). Ratio of medians = exp(mu_new - mu_base) = exp(-0.2).
    true_ratio = float(np.exp(-0.2))
    covered = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        base = rng.lognormal(np.log(1000.0), 0.1, 15)
        new = rng.lognormal(np.log(1000.0) - 0.2, 0.1, 15)
        ci = stats.bootstrap_ratio_ci(base, new, resamples=2000, seed=seed)
        assert ci.low <= ci.ratio <= ci.high
        covered += ci.low <= true_ratio <= ci.high
    # A 95% percentile bootstrap of medians on n=15 is a little anti-conservative; 85% is a safe floor.
    assert covered >= 34


def test_bootstrap_is_deterministic_with_a_seed_and_handles_edges():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(0, 0.1, 8), rng.lognormal(0, 0.1, 8)
    assert stats.bootstrap_ratio_ci(a, b, seed=3) == stats.bootstrap_ratio_ci(a, b, seed=3)
    assert stats.bootstrap_ratio_ci([], b).ratio is None
    assert stats.bootstrap_ratio_ci([0.0, 0.0], b).ratio is None          # base median 0: no ratio
    single = stats.bootstrap_ratio_ci([2.0], [3.0])
    assert single.ratio == pytest.approx(1.5) and single.low is None      # one value a side: no interval
    assert stats.bootstrap_ratio_ci([1.0, None, float("nan"), 1.0], [2.0, 2.0]).ratio == pytest.approx(2.0)


def test_mann_whitney_small_for_shifted_data_and_large_for_same():
    rng = np.random.default_rng(7)
    base = rng.lognormal(np.log(100), 0.05, 10)
    shifted = rng.lognormal(np.log(80), 0.05, 10)
    same = rng.lognormal(np.log(100), 0.05, 10)
    assert stats.mann_whitney_p(base, shifted) < 0.001
    assert stats.mann_whitney_p(base, same) > 0.05
    assert stats.mann_whitney_p([5.0, 5.0, 5.0], [5.0, 5.0, 5.0]) == 1.0
    assert stats.mann_whitney_p([], [1.0]) is None


def test_one_sided_exact_p_by_hand():
    # NEW completely below BASE: 1 / C(6,3); one overlap: 2 / C(6,3); ties counted by mid-ranks, never below exact
    assert stats.mann_whitney_p([10, 11, 12], [1, 2, 3], "less") == pytest.approx(1 / 20)
    assert stats.mann_whitney_p([10, 11, 12], [1, 2, 10.5], "less") == pytest.approx(2 / 20)
    assert stats.mann_whitney_p([10, 11, 12], [1, 2, 2], "less") == pytest.approx(1 / 20)
    assert stats.mann_whitney_p([10, 11, 12], [1, 2, 3], "greater") == pytest.approx(1.0)
    assert stats.mann_whitney_p([1, 2, 3, 4, 5], [10, 11, 12, 13, 14], "greater") == pytest.approx(1 / 252)


def test_min_attainable_p_says_when_repeats_are_too_few():
    assert stats.min_attainable_p(3, 3, one_sided=True) == pytest.approx(0.05)
    assert stats.min_attainable_p(2, 3, one_sided=True) == pytest.approx(0.1)
    assert stats.min_attainable_p(3, 3) == pytest.approx(0.1)
    assert stats.min_attainable_p(4, 4) < 0.05
    # and scipy agrees: completely separated 3 vs 3 cannot reach 0.05
    assert stats.mann_whitney_p([1, 2, 3], [10, 11, 12]) == pytest.approx(0.1)


@pytest.mark.parametrize("seed", range(5))
def test_change_point_found_at_a_step(seed):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(100, 2, 20), rng.normal(85, 2, 15)])
    cps = stats.change_points(values)
    assert len(cps) == 1
    assert abs(cps[0].index - 20) <= 1
    assert cps[0].relative_change == pytest.approx(-0.15, abs=0.03)


def test_two_steps_are_both_found():
    rng = np.random.default_rng(11)
    values = np.concatenate([rng.normal(100, 1.5, 15), rng.normal(120, 1.5, 15), rng.normal(95, 1.5, 15)])
    assert [cp.index for cp in stats.change_points(values)] == [15, 30]


@pytest.mark.parametrize("seed", range(20))
def test_no_change_point_in_noise(seed):
    rng = np.random.default_rng(100 + seed)
    assert stats.change_points(rng.lognormal(np.log(100), 0.05, 40)) == []


def test_change_points_on_noise_free_and_short_sequences():
    assert [c.index for c in stats.change_points([10.0] * 6 + [12.0] * 6)] == [6]
    assert stats.change_points([10.0] * 12) == []
    assert stats.change_points([1.0, 2.0]) == []
    # a single outlier is not a level shift
    assert stats.change_points([10.0] * 5 + [30.0] + [10.0] * 6) == []
    # below the minimum relative change, even a clean step is ignored
    assert stats.change_points([1000.0] * 8 + [1001.0] * 8) == []


def test_median_is_the_middle_value_and_none_when_nothing_was_measured():
    """The one median of tables, findings, cluster model, report and compare (hand-worked values)."""
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 2.0, 3.0]) == 2.5          # even count: mean of the two middle values
    assert stats.median(v for v in (5.0, 7.0)) == 6.0         # any iterable
    assert stats.median([]) is None                            # not measured: no figure, never 0
