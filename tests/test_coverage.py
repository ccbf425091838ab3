"""Each of the ledger's instruments checked by simulation: on synthetic data with a known truth, its 95% interval
covers the truth 93-97% of the time (or at least 95% where the procedure is exact and so conservative), its verdict
errs at the null at most 5% of the time, and it comes out the other way when the claim is false. The percentile
bootstrap the ledger used before fails the same check, so these tests can tell the two apart."""
import numpy as np
import pytest
from scipy.stats import norm, rankdata

from anatomy_utils import stats

DATASETS = 1000
SE = np.sqrt(0.95 * 0.05 / DATASETS)  # Monte Carlo error of a coverage estimate near 95%: 0.7 pt


def _covers(intervals, truth) -> float:
    intervals = np.asarray(intervals)
    return float(np.mean((intervals[:, 0] <= truth) & (truth <= intervals[:, 1])))


def _pairs(rng, n, p_up, p_down):
    """Discordant counts of ``n`` paired 0/1 outcomes: a right and b wrong with ``p_up``, the reverse with
    ``p_down``."""
    cells = rng.multinomial(n, [p_up, p_down, 1 - p_up - p_down], DATASETS)
    return cells[:, 0], cells[:, 1]


def _naive(rng, up, down, n):
    """The percentile bootstrap over reviews of a paired difference (what the ledger must not fall back to)."""
    diff = np.r_[np.ones(up), -np.ones(down), np.zeros(n - up - down)]
    means = diff[rng.integers(0, n, (200, n))].mean(axis=1)
    return np.percentile(means, [2.5, 97.5])


def test_tangos_interval_covers_the_paired_difference_where_the_bootstrap_does_not():
    rng = np.random.default_rng(0)
    n, p_up, p_down = 400, 0.03, 0.01  # about 16 discordant pairs, as with a mild pruning against dense
    up, down = _pairs(rng, n, p_up, p_down)
    assert 0.93 <= _covers([stats.tango(u, d, n) for u, d in zip(up, down)], p_up - p_down) <= 0.97
    n, p_up, p_down = 150, 0.02, 0.005  # about 4: the bootstrap gives a zero width whenever none is discordant
    up, down = _pairs(rng, n, p_up, p_down)
    assert _covers([stats.tango(u, d, n) for u, d in zip(up, down)], p_up - p_down) >= 0.93
    assert _covers([_naive(rng, u, d, n) for u, d in zip(up, down)], p_up - p_down) < 0.93


def test_tangos_verdict_errs_at_the_null_at_most_5_percent_and_finds_a_true_difference():
    rng = np.random.default_rng(1)
    n = 400
    null_up, null_down = _pairs(rng, n, 0.04, 0.04)
    rejected = np.mean([(lambda ci: ci[0] > 0 or ci[1] < 0)(stats.tango(u, d, n)) for u, d in zip(null_up, null_down)])
    assert rejected <= 0.05 + 2 * SE
    up, down = _pairs(rng, n, 0.08, 0.02)  # a true gain of 6 pt
    assert np.mean([stats.tango(u, d, n)[0] > 0 for u, d in zip(up, down)]) > 0.8


def test_the_two_level_interval_carries_the_spread_between_masks():
    rng = np.random.default_rng(2)
    n, masks, truth = 120, 10, 0.05
    intervals = []
    for _ in range(DATASETS):
        mask_effects = rng.normal(0, 0.04, masks)  # random masks differ from each other, not only by review noise
        rule = (rng.random(n) < 0.80).astype(float)
        outcomes = (rng.random((masks, n)) < (0.75 + mask_effects)[:, None]).astype(float)
        found = stats.two_level(rule, outcomes, resamples=300, seed=int(rng.integers(1 << 30)))
        intervals.append((found["ci_low"], found["ci_high"]))
    assert 0.93 <= _covers(intervals, truth) <= 0.985  # resampling both levels is known to be slightly conservative


def test_the_pair_mean_interval_covers_the_mean_overlap_of_two_inputs():
    rng = np.random.default_rng(3)
    n, truth = 200, 1 / np.sqrt(5)  # E exp(-(x - y)^2) for independent standard normal inputs x, y
    intervals = []
    for _ in range(DATASETS):
        x = rng.normal(size=n)
        found = stats.pair_mean(np.exp(-(x[:, None] - x[None, :]) ** 2))  # values in [0, 1]
        intervals.append((found["ci_low"], found["ci_high"]))
    assert 0.93 <= _covers(intervals, truth) <= 0.97


def test_the_pair_mean_of_ten_identical_inputs_is_not_a_point():
    found = stats.pair_mean(np.ones((10, 10)))  # ten inputs that happen to agree: the population need not
    assert found["delta"] == 1.0 and found["ci_high"] == 1.0 and 0.5 < found["ci_low"] < 0.95
    assert stats.pair_mean(np.ones((200, 200)))["ci_low"] > 0.95  # many identical inputs: a narrow interval
    varied = np.random.default_rng(4).random((10, 10))
    varied = (varied + varied.T) / 2
    found = stats.pair_mean(varied)
    assert found["ci_low"] < found["delta"] < found["ci_high"]


def test_the_permutation_trend_errs_at_most_5_percent_at_the_null_and_finds_a_steep_fall():
    rng = np.random.default_rng(5)
    rho = lambda c: np.corrcoef(np.arange(len(c)), rankdata(c))[0, 1]  # noqa: E731  Spearman, fast
    null = [stats.permutation_trend(rng.normal(size=6), rho, 0.0) for _ in range(300)]
    assert np.mean([f["ci_low"] > 0 or f["ci_high"] < 0 for f in null]) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 300)
    falling = [stats.permutation_trend(np.linspace(3, 0, 6) + rng.normal(0, 0.3, 6), rho, 0.0) for _ in range(100)]
    assert np.mean([f["ci_high"] < 0 for f in falling]) > 0.8
    assert all(f["exact"] and f["permutations"] == 720 for f in falling[:3])
    flat = stats.permutation_trend(np.array([1, 1, 2, 1, 0, 0.0]), rho, 0.0)  # the encoder's probe counts
    assert flat["p_below"] == pytest.approx(4 / 60) and flat["ci_high"] > 0  # p = 0.067: not a confirmed fall


def test_the_lowest_lens_auc_is_covered_by_the_review_bootstrap():
    rng = np.random.default_rng(6)
    n, separation = 200, 1.5
    truth = float(norm.cdf(separation / np.sqrt(2)))  # binormal AUC of the weaker layer
    intervals = []
    for _ in range(DATASETS):
        final = rng.random(n) < 0.5
        weak, strong = rng.normal(size=n) + separation * final, rng.normal(size=n) + 4 * final
        lowest = lambda rows: min(stats.auc(weak[rows], final[rows]), stats.auc(strong[rows], final[rows]))  # noqa: E731
        intervals.append(stats.bootstrap(lowest, n, resamples=200, seed=int(rng.integers(1 << 30))))
    assert 0.93 <= _covers(intervals, truth) <= 0.97


def test_clopper_pearson_is_exact_and_so_never_below_its_level():
    rng = np.random.default_rng(7)
    p, n = 0.002, 5000
    intervals = [stats.clopper_pearson(k, n) for k in rng.binomial(n, p, DATASETS)]
    assert 0.95 - 2 * SE <= _covers(intervals, p) <= 0.995


def _two_looks(rng, effect, first, last, first_z, last_level):
    """A paired difference (per review N(effect, 1)) looked at after ``first`` and ``last`` reviews (the first a
    prefix of the last): rejected at the first look beyond ``first_z``, else at the last by its ``last_level``
    interval. The share of ``DATASETS`` rejected."""
    x = rng.normal(effect, 1.0, (DATASETS * 10, last))
    z1 = x[:, :first].mean(axis=1) * np.sqrt(first)
    z2 = x.mean(axis=1) * np.sqrt(last)
    return float(np.mean((np.abs(z1) > first_z) | (np.abs(z2) > norm.ppf(1 - (1 - last_level) / 2))))


def test_the_last_looks_level_keeps_a_two_look_design_at_5_percent_where_looking_twice_at_95_does_not():
    rng = np.random.default_rng(0)
    first, last = 100, 200  # a row's n doubled after an undecided look, as the profiles did
    level = stats.sequential_level(0.95, [first / last])
    first_z = norm.ppf(0.975) / np.sqrt(first / last)  # O'Brien-Fleming-type spending's first boundary (exact)
    se = SE / np.sqrt(10)  # 10,000 designs per estimate
    assert _two_looks(rng, 0.0, first, last, 1.96, 0.95) > 0.05 + 3 * se  # about 8%: two looks at 95% err too often
    assert abs(_two_looks(rng, 0.0, first, last, first_z, level) - 0.05) < 3 * se  # the design keeps 5%
    assert _two_looks(rng, 0.2, first, last, first_z, level) > 0.75  # and finds a true effect of 0.2 SD


def test_the_last_looks_level_matches_the_bivariate_normal_and_is_the_level_itself_without_earlier_looks():
    assert stats.sequential_level(0.95, []) == pytest.approx(0.95, abs=1e-9)
    for t, z in ((0.5, 1.9793), (0.7, 2.0234), (0.9, 2.0785)):  # two looks: Z1, Z2 with correlation sqrt(t)
        assert abs(norm.ppf(1 - (1 - stats.sequential_level(0.95, [t])) / 2) - z) < 5e-4
    with pytest.raises(ValueError, match="must increase within"):
        stats.sequential_level(0.95, [0.6, 0.3])
