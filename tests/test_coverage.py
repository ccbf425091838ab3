"""Each of the ledger's instruments checked by simulation: on at least 1,000 synthetic datasets with a known truth,
its 95% interval covers the truth 93-97% of the time (the Monte Carlo error of one coverage is 0.7 pt), and a naive
alternative fails the same check (below 93%), so that these tests can tell the two apart. Where an instrument is
exact and so conservative (Clopper-Pearson), or is a test rather than an interval (the permutation over layers), the
test says so and picks a setting where the band still applies."""
import time

import numpy as np
import pytest
from scipy.stats import norm, rankdata
from scipy.stats import t as student

from anatomy_utils import stats

DATASETS = 1000
SE = np.sqrt(0.95 * 0.05 / DATASETS)  # Monte Carlo error of a coverage estimate near 95%: 0.7 pt
Z = norm.ppf(0.975)


def _covers(intervals, truth) -> float:
    intervals = np.asarray(intervals)
    return float(np.mean((intervals[:, 0] <= truth) & (truth <= intervals[:, 1])))


def _in_band(coverage: float) -> bool:
    return 0.93 <= coverage <= 0.97


def _wald(k: np.ndarray, n: int) -> np.ndarray:
    """The naive interval of a share: ``p +- z sqrt(p (1 - p) / n)``."""
    p = np.asarray(k) / n
    half = Z * np.sqrt(p * (1 - p) / n)
    return np.c_[p - half, p + half]


def test_wilsons_interval_covers_an_accuracy_near_1_where_walds_does_not():
    """A fine-tuned classifier's accuracy of 95.5% on 150 reviews: Wilson's interval (exact coverage 95.3% there)
    against Wald's (90.1%: it collapses towards p = 1 when few reviews are wrong)."""
    rng = np.random.default_rng(10)
    n, p = 150, 0.955
    correct = rng.random((DATASETS, n)) < p
    found = [stats.accuracy_vs(c, 0.9) for c in correct]  # the ledger's row: accuracy minus a published figure
    wilson = np.array([(f["ci_low"] + 0.9, f["ci_high"] + 0.9) for f in found])
    assert np.allclose(wilson[:3], [stats.wilson(c) for c in correct[:3]])
    assert _in_band(_covers(wilson, p))
    assert _covers(_wald(correct.sum(axis=1), n), p) < 0.93


def test_clopper_pearson_covers_a_small_share_where_wald_does_not():
    """Clopper-Pearson is exact, so never below 95%, and conservative: above it by a varying amount (up to 99% for
    tiny n p). A share of 5.5% in 100 trials is a point where it holds 95.4% (exact), inside the band; Wald's
    interval holds only 90.9% there."""
    rng = np.random.default_rng(7)
    n, p = 100, 0.055
    k = rng.binomial(n, p, DATASETS)
    exact = {int(c): stats.clopper_pearson(c, n) for c in np.unique(k)}
    assert _in_band(_covers([exact[int(c)] for c in k], p))
    assert _covers(_wald(k, n), p) < 0.93


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


def test_the_two_level_interval_carries_the_spread_between_masks_where_a_review_bootstrap_does_not():
    """A rule against 10 random masks on 500 reviews, the masks' own accuracies spread by 4 pt: the truth is the
    rule's accuracy minus the mean accuracy of the population of masks (80% - 75%). Resampling masks and reviews
    counts each mask's review noise twice (once in its mean, once in the reviews), which makes it conservative where
    that noise is large beside the spread between masks (97% with 120 reviews); the percentile bootstrap over only
    10 masks errs the other way. With 500 reviews the two balance inside the band, while the bootstrap over reviews
    alone, blind to the spread between masks, falls below it."""
    rng = np.random.default_rng(2)
    n, masks, truth, resamples = 500, 10, 0.05, 200
    intervals, naive = [], []
    for _ in range(DATASETS):
        mask_effects = rng.normal(0, 0.04, masks)  # random masks differ from each other, not only by review noise
        rule = (rng.random(n) < 0.80).astype(float)
        outcomes = (rng.random((masks, n)) < (0.75 + mask_effects)[:, None]).astype(float)
        found = stats.two_level(rule, outcomes, resamples=resamples, seed=int(rng.integers(1 << 30)))
        intervals.append((found["ci_low"], found["ci_high"]))
        per_review = rule - outcomes.mean(axis=0)
        naive.append(np.percentile(per_review[rng.integers(0, n, (resamples, n))].mean(axis=1), [2.5, 97.5]))
    assert _in_band(_covers(intervals, truth))
    assert _covers(naive, truth) < 0.93


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


LAYERS, REVIEWS = 6, 50
INDEX = np.arange(LAYERS) - (LAYERS - 1) / 2
SLOPE = INDEX / (INDEX @ INDEX)  # least-squares slope over the layers: values @ SLOPE


def _spearman(values):
    """Spearman's rho of continuous per-layer values with the layer index (no ties: ranks by argsort, fast)."""
    return np.argsort(np.argsort(values)) @ INDEX / (INDEX @ INDEX)


def test_the_permutation_over_layers_keeps_its_level_where_a_test_over_every_review_does_not():
    """Per-layer values are means over 50 reviews, and each layer has its own level (fixed by the weights, the same
    for every review: SD 0.3 beside a review's SD of 1), with no trend over the layers. The truth is a slope of 0;
    the permutation interval of the least-squares slope covers it exactly as often as the test keeps its level
    (685 of 720 orders: 95.1%). The naive interval, the least-squares slope's t interval over all 300 (review,
    layer) values as if they were independent, takes the layers' own levels for a trend and covers 0 far less.

    Coverage of a non-zero slope is not checked: the interval is the test at the null inverted as a shift of the
    observed values' own permutation spread, which contains the trend; it is exact at the null only, and for a
    trend about as large as the noise between layers it falls short (simulated, 2,000 datasets: 92% at a slope of
    0.05 per layer beside a layer SD of 0.33, 91% at 0.10, 94% at 0.2, 99% at 0.4). The ledger reads it as a test."""
    rng = np.random.default_rng(5)
    values = rng.normal(0, 0.3, (DATASETS, 1, LAYERS)) + rng.normal(0, 1.0, (DATASETS, REVIEWS, LAYERS))
    found = [stats.permutation_trend(v.mean(axis=0), lambda c: c @ SLOPE, 0.0) for v in values]
    assert all(f["exact"] and f["permutations"] == 720 for f in found[:3])
    assert _in_band(_covers([(f["ci_low"], f["ci_high"]) for f in found], 0.0))
    assert np.mean([f["ci_low"] > 0 or f["ci_high"] < 0 for f in found]) <= 0.05 + 2 * SE
    slope = np.einsum("drl,l->d", values, SLOPE) / REVIEWS  # the same slope, fitted to every (review, layer) value
    residual = values - values.mean(axis=(1, 2))[:, None, None] - slope[:, None, None] * INDEX
    error = np.sqrt((residual ** 2).sum(axis=(1, 2)) / (REVIEWS * LAYERS - 2) / (REVIEWS * (INDEX @ INDEX)))
    half = student.ppf(0.975, REVIEWS * LAYERS - 2) * error
    assert _covers(np.c_[slope - half, slope + half], 0.0) < 0.93


def test_the_permutation_trend_finds_a_steep_fall_and_not_the_encoders_flat_counts():
    rng = np.random.default_rng(5)
    falling = [stats.permutation_trend(np.linspace(3, 0, LAYERS) + rng.normal(0, 0.3, LAYERS), _spearman, 0.0)
               for _ in range(200)]
    assert np.mean([f["ci_high"] < 0 for f in falling]) > 0.8
    rho = lambda c: np.corrcoef(np.arange(len(c)), rankdata(c))[0, 1]  # noqa: E731  Spearman with ties
    flat = stats.permutation_trend(np.array([1, 1, 2, 1, 0, 0.0]), rho, 0.0)  # the encoder's probe counts
    assert flat["p_below"] == pytest.approx(4 / 60) and flat["ci_high"] > 0  # p = 0.067: not a confirmed fall


def _binormal(rng, n: int, separations) -> tuple[np.ndarray, np.ndarray]:
    """``n`` reviews, each positive with chance 1/2, and one score per layer: N(0, 1) for a negative, N(sep, 1) for
    a positive, independent between layers; a layer's AUC is Phi(sep / sqrt 2)."""
    final = rng.random(n) < 0.5
    return rng.normal(size=(n, len(separations))) + np.asarray(separations) * final[:, None], final


def _percentile_lowest(scores: np.ndarray, final: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """The ledger's interval so far, ``stats.bootstrap(lambda rows: min_j auc(scores[rows, j], final[rows]), n,
    resamples=resamples, seed=seed)``, with all resamples at once: the same draws, each review weighted by how often
    it is drawn (the scores are continuous, so no positive ties a negative)."""
    n = len(final)
    rows = np.random.default_rng(seed).integers(0, n, (resamples, n))
    weights = np.bincount((rows + n * np.arange(resamples)[:, None]).ravel(), minlength=resamples * n)
    weights = weights.reshape(resamples, n).astype(float)
    lowest = np.full(resamples, np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        for column in scores.T:
            order = np.argsort(column)
            w, positive = weights[:, order], final[order]
            below = np.cumsum(w * ~positive, axis=1)  # the negatives' weight at or below each score
            auc = (w * positive * below).sum(axis=1) / ((w * positive).sum(axis=1) * (w * ~positive).sum(axis=1))
            lowest = np.minimum(lowest, auc)
    return np.percentile(lowest[np.isfinite(lowest)], [2.5, 97.5])


def _lowest_coverage(seed: int, separations, naive: bool = True) -> tuple[float, float | None]:
    """Coverage of the true lowest AUC, Phi(min sep / sqrt 2), by ``stats.lowest_auc`` and (``naive``) by the
    percentile bootstrap of the minimum (200 resamples, as the ledger's checks used), on 200 reviews."""
    rng = np.random.default_rng(seed)
    n, truth = 200, float(norm.cdf(min(separations) / np.sqrt(2)))
    found, percentile = [], []
    for d in range(DATASETS):
        scores, final = _binormal(rng, n, separations)
        draw = int(rng.integers(1 << 30))
        result = stats.lowest_auc(scores, final, seed=draw)
        found.append((result["ci_low"], result["ci_high"]))
        if naive:
            percentile.append(_percentile_lowest(scores, final, 200, draw))
            if d == 0:  # the vectorized bootstrap is the ledger's own
                lowest = lambda rows: min(stats.auc(s[rows], final[rows]) for s in scores.T)  # noqa: E731
                assert np.allclose(percentile[0], stats.bootstrap(lowest, n, resamples=200, seed=draw))
    return _covers(found, truth), _covers(percentile, truth) if naive else None


def test_the_lowest_lens_auc_is_covered_when_one_layer_is_clearly_the_lowest():
    """One weak layer (AUC 0.856) and one strong (0.998): both the new interval and the percentile bootstrap of
    the minimum hold, since the minimum is then just the weak layer's AUC."""
    found, percentile = _lowest_coverage(6, (1.5, 4.0))
    assert _in_band(found) and _in_band(percentile)


def test_the_lowest_lens_auc_is_covered_when_two_layers_tie_where_the_bootstrap_of_the_minimum_is_not():
    """Two layers tied for the lowest (AUC 0.856 each) beside a strong one: the minimum of two noisy AUCs lies below
    their common value, and the bootstrap's resampled minimum lower still, so its interval sits too low."""
    found, percentile = _lowest_coverage(16, (1.5, 1.5, 4.0))
    assert _in_band(found)
    assert percentile < 0.93


def test_the_lowest_lens_auc_is_covered_when_three_layers_tie():
    found, percentile = _lowest_coverage(26, (1.5, 1.5, 1.5, 4.0))
    assert _in_band(found)
    assert percentile < 0.93


def test_the_lowest_auc_is_nan_for_one_class_never_a_point_and_fast():
    rng = np.random.default_rng(12)
    scores, final = _binormal(rng, 1000, np.linspace(1.5, 4.0, 8))
    start = time.perf_counter()
    found = stats.lowest_auc(scores, final)
    assert time.perf_counter() - start < 1.0
    assert found["delta"] == pytest.approx(min(stats.auc(s, final) for s in scores.T))
    assert found["ci_low"] < found["delta"] < found["ci_high"] and found["n"] == 1000 and found["level"] == 0.95
    assert np.isnan(stats.lowest_auc(scores, np.ones(1000, dtype=bool))["delta"])
    separated = stats.lowest_auc(10.0 * final[:, None] + rng.normal(0, 0.1, (1000, 3)), final)  # perfect: AUC 1
    assert separated["delta"] == 1.0 and separated["ci_high"] == 1.0 and 0.98 < separated["ci_low"] < 1.0
    alike = stats.lowest_auc(np.repeat(scores[:, :1], 3, axis=1), final)  # one layer thrice: as that layer alone
    assert alike["ci_low"] == pytest.approx(stats.lowest_auc(scores[:, 0], final)["ci_low"])
    assert alike["ci_high"] >= stats.lowest_auc(scores[:, 0], final)["ci_high"] - 0.005


def test_the_seed_pool_covers_the_mean_effect_where_a_fixed_effect_pool_does_not():
    """4 runs whose true effects spread with SD 0.03 around 0.01, each measured with its own standard error of
    0.005-0.02: Hartung-Knapp's interval covers the mean effect, the fixed-effect pool (inverse-variance mean +-
    z / sqrt(sum of weights)) takes the within-run errors for the whole error and does not. (Where runs agree
    within their errors, the Hartung-Knapp scale floored at 1 makes it conservative: see ``tests/test_seeds.py``.)"""
    rng = np.random.default_rng(8)
    truth, runs = 0.01, 4
    errors = rng.uniform(0.005, 0.02, (DATASETS, runs))
    effects = truth + rng.normal(0, 0.03, (DATASETS, runs)) + rng.normal(0, errors)
    found = [stats.random_effects(y, e) for y, e in zip(effects, errors)]
    assert _in_band(_covers([(f["ci_low"], f["ci_high"]) for f in found], truth))
    weights = 1 / errors ** 2
    fixed, half = (weights * effects).sum(axis=1) / weights.sum(axis=1), Z / np.sqrt(weights.sum(axis=1))
    assert _covers(np.c_[fixed - half, fixed + half], truth) < 0.93


def test_a_pooled_correlation_on_fishers_z_stays_within_1_and_covers():
    """4 runs of a correlation of 0.9 measured on 100 pairs each, the runs' own correlations spread by 0.4 on
    Fisher's z: the truth is tanh of the mean z, the typical run's correlation. Pooled on z its interval covers it
    and stays inside [-1, 1]; pooled as it is, the interval reaches past 1 in about half of the datasets."""
    rng = np.random.default_rng(9)
    rho, between, pairs, runs = 0.9, 0.4, 100, 4
    z = np.arctanh(rho) + rng.normal(0, between, (DATASETS, runs)) + rng.normal(0, 1 / np.sqrt(pairs - 3),
                                                                                  (DATASETS, runs))
    r = np.tanh(z)
    errors = (1 - r ** 2) / np.sqrt(pairs - 3)  # the error a run reports for its correlation (delta method)
    found = np.array([[(f := stats.random_effects(y, e, scale="fisher_z"))["ci_low"], f["ci_high"]]
                      for y, e in zip(r, errors)])
    assert _in_band(_covers(found, rho))
    assert ((-1 <= found) & (found <= 1)).all()
    raw = np.array([stats.random_effects(y, e)["ci_high"] for y, e in zip(r, errors)])
    assert np.mean(raw > 1) > 0.2


def test_a_pooled_share_on_the_logit_stays_within_0_and_1_and_covers():
    """4 runs of a share of 85% counted in 400 trials each, the runs' own shares spread by 0.6 on the logit: pooled
    on the logit its interval covers expit(mean logit), the typical run's share, and stays inside [0, 1]; pooled as
    it is, it leaves [0, 1] in some datasets. The default (``scale=None``) is the plain pool; a share of 0 or 1 is
    refused on the logit."""
    rng = np.random.default_rng(11)
    share, between, trials, runs = 0.85, 0.6, 400, 4
    truths = 1 / (1 + np.exp(-(np.log(share / (1 - share)) + rng.normal(0, between, (DATASETS, runs)))))
    observed = rng.binomial(trials, truths) / trials
    errors = np.sqrt(observed * (1 - observed) / trials)
    found = np.array([[(f := stats.random_effects(y, e, scale="logit"))["ci_low"], f["ci_high"]]
                      for y, e in zip(observed, errors)])
    assert _in_band(_covers(found, share))
    assert ((0 <= found) & (found <= 1)).all()
    raw = np.array([[(f := stats.random_effects(y, e))["ci_low"], f["ci_high"]] for y, e in zip(observed, errors)])
    assert np.mean((raw[:, 0] < 0) | (raw[:, 1] > 1)) > 0.05
    assert stats.random_effects(observed[0], errors[0], scale=None) == stats.random_effects(observed[0], errors[0])
    with pytest.raises(ValueError, match="strictly inside"):
        stats.random_effects([0.5, 1.0], [0.1, 0.0], scale="logit")


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
