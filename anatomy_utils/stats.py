"""One procedure for every comparison: an interval at the family's simultaneous level, and a verdict read off it.

A comparison is ``a - b`` on the same reviews, in the order given. Its interval is

* for two single models (0/1 correctness each): Tango's (1998) score interval for matched proportions, the set of
  differences a score test does not reject; it holds when discordant pairs are few and never collapses to a point;
* for a model against a distribution of random masks: a two-level bootstrap that resamples the masks and the reviews;
* for one accuracy against a published figure: Wilson's score interval; for a share of a layer: Clopper-Pearson's;
* for a mean over pairs of inputs (set overlaps): the U-statistic's normal interval;
* for a trend over layers: the exact permutation test over layers, inverted as a shift;
* for the lowest of several AUCs on the same reviews (the lens's layers): DeLong's per-layer variances read as
  Wilson intervals, combined for the minimum with a critical value widened for layers tied for the lowest;
* for one effect measured in several fine-tuning runs (seeds): a random-effects pool, DerSimonian-Laird's between-run
  variance with the Hartung-Knapp-Sidik-Jonkman interval (t with k - 1 degrees of freedom).

Every resampling interval in the package is ``bootstrap`` (percentile, one seed), at the one ``LEVEL``.

A family of m comparisons (the sparsities of one question, the questions of one claim) is made at the Bonferroni
level 1 - 0.05 / m, so its intervals hold simultaneously; the verdict comes from that same interval:
``equivalent`` when it lies within the stated margin of the null (read first: a difference smaller than the margin
is not one that counts, even where the interval excludes the null), else ``higher`` / ``lower`` when it excludes the
null, otherwise ``inconclusive``, with the minimum detectable effect (MDE) at 80% power and the n that would resolve it.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import optimize, stats

LEVEL = 0.95
POWER = 0.80


def family_level(size: int, level: float = LEVEL) -> float:
    """Bonferroni: the level each of ``size`` intervals needs for all of them to hold together at ``level``."""
    return 1 - (1 - level) / max(int(size), 1)


def z_value(level: float) -> float:
    return float(stats.norm.ppf(1 - (1 - level) / 2))


def sequential_level(level: float, fractions=(), points: int = 801) -> float:
    """The level at which to read the last look of a group-sequential design whose earlier looks, at information
    ``fractions`` of the last (each in (0, 1), increasing), decided nothing: Lan-DeMets spending of O'Brien-Fleming
    type, so that the design's two-sided error over all looks stays ``1 - level``. The boundaries follow the score
    process look by look (its density on a grid of ``points`` over each continuation region); no earlier look gives
    ``level`` itself."""
    if not len(fractions):
        return level
    times = [*map(float, fractions), 1.0]
    if any(not 0 < a < b for a, b in zip(times, times[1:])):
        raise ValueError(f"Information fractions must increase within (0, 1); got {list(fractions)}.")
    z = stats.norm.ppf(1 - (1 - level) / 2)
    spent = [0.0, *(2 * stats.norm.sf(z / math.sqrt(t)) for t in times)]
    grid, mass, before = np.zeros(1), np.ones(1), 0.0  # the score's sub-density (as masses) where no look decided
    for j, t in enumerate(times):
        step = math.sqrt(t - before)

        def excess(b):  # the chance of first deciding here beyond what this look may spend
            return float(mass @ (stats.norm.cdf((-b - grid) / step) + stats.norm.sf((b - grid) / step))) - (
                spent[j + 1] - spent[j])

        bound = optimize.brentq(excess, 1e-9, 20 * math.sqrt(t))
        if j < len(times) - 1:
            new = np.linspace(-bound, bound, points)
            density = stats.norm.pdf((new[:, None] - grid[None, :]) / step) @ mass / step
            mass = density * (new[1] - new[0]) * np.r_[0.5, np.ones(points - 2), 0.5]  # trapezoid weights
            grid, before = new, t
    return float(1 - 2 * stats.norm.sf(bound))


def wilson(correct: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Wilson interval of one model's accuracy from its 0/1 correctness vector (closed form)."""
    correct = np.asarray(correct, dtype=float)
    n, z = len(correct), z_value(level)
    p = correct.mean()
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return float(max(centre - half, 0.0)), float(min(centre + half, 1.0))


def accuracy_vs(correct: np.ndarray, reference: float, level: float = LEVEL) -> dict:
    """One model's accuracy minus a fixed reference (e.g. a published figure), with its Wilson interval."""
    low, high = wilson(correct, level)
    acc = float(np.mean(correct))
    return {"delta": acc - reference, "ci_low": low - reference, "ci_high": high - reference, "n": len(correct),
            "level": level}


def _tango_statistic(up: float, down: float, n: int, delta: float) -> float:
    """Tango's score statistic for ``P(a=1, b=0) - P(a=0, b=1) = delta``, the nuisance cell at its restricted MLE."""
    b = up * (1 + delta) + down * (1 - delta) - 2 * n * delta
    q = (b + math.sqrt(b * b + 8 * n * down * delta * (1 - delta))) / (4 * n)
    variance, gap = n * (2 * q + delta * (1 - delta)), up - down - n * delta
    if variance > 0:
        return gap / math.sqrt(variance)
    return 0.0 if gap == 0 else math.copysign(math.inf, gap)


def tango(up: int, down: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Tango's score interval for a paired difference of proportions from its discordant counts ``up`` (a right, b
    wrong) and ``down`` of ``n`` pairs: every delta whose score test is not rejected at ``level``."""
    from scipy.optimize import brentq

    z, estimate = z_value(level), (up - down) / n
    f = lambda d: _tango_statistic(up, down, n, d)  # noqa: E731  decreasing in delta
    low = -1.0 if f(-1 + 1e-12) <= z else brentq(lambda d: f(d) - z, -1 + 1e-12, estimate, xtol=1e-10)
    high = 1.0 if f(1 - 1e-12) >= -z else brentq(lambda d: f(d) + z, estimate, 1 - 1e-12, xtol=1e-10)
    return float(low), float(high)


def matched_pairs(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> dict:
    """``mean(a) - mean(b)`` for two 0/1 outcome vectors on the same reviews, with Tango's score interval; also the
    discordant counts it rests on."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"Paired outcomes need the same reviews; got {a.shape} and {b.shape}.")
    if not np.isin(a, (0, 1)).all() or not np.isin(b, (0, 1)).all():
        raise ValueError("matched_pairs takes 0/1 outcomes; average over masks with two_level instead.")
    up, down = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    low, high = tango(up, down, len(a), level)
    return {"delta": float(a.mean() - b.mean()), "ci_low": low, "ci_high": high, "n": len(a), "level": level,
            "discordant": up + down}


def two_level(a: np.ndarray, masks: np.ndarray, level: float = LEVEL, resamples: int = 4000, seed: int = 0) -> dict:
    """``a`` (one model's outcomes, ``(n,)``) minus a distribution of random masks (``(masks, n)``, the same reviews),
    masks and reviews both resampled: the interval carries the spread between masks as well as the sampling of
    reviews. Also where ``a`` falls among the masks (the share of masks it beats) and the two variance components
    (``mask_var``: between masks' mean differences, net of review noise; ``review_var``: per review), from which a
    design plans its masks and reviews (``study.registration.planning_se``)."""
    a, masks = np.asarray(a, dtype=float), np.atleast_2d(np.asarray(masks, dtype=float))
    if masks.shape[1] != len(a):
        raise ValueError(f"Paired outcomes need the same reviews; got {len(a)} and {masks.shape[1]}.")
    diff = a[None, :] - masks
    # Agresti-Min's idea carried over: one pseudo-pair of discordant reviews (+1 and -1) beside the real ones, so that
    # identical outcomes do not yield a zero-width interval; the estimate itself is the plain mean.
    padded = np.hstack([diff, np.ones((len(masks), 1)), -np.ones((len(masks), 1))])
    rng = np.random.default_rng(seed)
    m, n = padded.shape

    def resampled(_):
        return padded[rng.integers(0, m, m)].mean(axis=0)[rng.integers(0, n, n)].mean()

    low, high = bootstrap(resampled, 1, level, resamples, seed)
    accuracies = masks.mean(axis=1)
    review_var = float(diff.mean(axis=0).var(ddof=1)) if len(a) > 1 else 0.0
    within = float(diff.var(axis=1, ddof=1).mean()) / len(a) if len(a) > 1 else 0.0
    mask_var = max(float(diff.mean(axis=1).var(ddof=1)) - within, 0.0) if len(masks) > 1 else None
    return {"delta": float(diff.mean()), "ci_low": low, "ci_high": high, "n": len(a), "masks": len(masks),
            "level": level, "mask_spread": float(accuracies.std(ddof=1)) if len(masks) > 1 else None,
            "beats_share": float(np.mean(a.mean() > accuracies)), "mask_var": mask_var, "review_var": review_var}


def compare(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> dict:
    """``a - b`` whatever each side is: one model's 0/1 outcomes ``(n,)`` or a distribution of masks or seeds
    ``(masks, n)``; two single models use ``matched_pairs``, a model against masks ``two_level``."""
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    if len(a) == 1 and len(b) == 1:
        return matched_pairs(a[0], b[0], level)
    if len(a) == 1:
        return two_level(a[0], b, level)
    if len(b) == 1:
        flipped = two_level(b[0], a, level)
        return flipped | {"delta": -flipped["delta"], "ci_low": -flipped["ci_high"], "ci_high": -flipped["ci_low"],
                          "beats_share": 1 - flipped["beats_share"]}
    raise ValueError("compare takes at most one side with several masks or seeds.")


def bootstrap(statistic, n: int, level: float = LEVEL, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """The package's one bootstrap: the percentile interval of ``statistic(rows)`` over ``resamples`` draws of ``n``
    row indices with replacement (``seed`` fixed); draws where the statistic is not finite are left out."""
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(resamples)], dtype=float)
    values = values[np.isfinite(values)]
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def bootstrap_interval(values: np.ndarray, level: float = LEVEL, resamples: int = 4000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` (one per review, or per input), resampled with replacement."""
    values = np.asarray(values, dtype=float)
    return bootstrap(lambda rows: values[rows].mean(), len(values), level, resamples, seed)


def clopper_pearson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a share of ``k`` in ``n``."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def pair_mean(matrix: np.ndarray, level: float = LEVEL, bounds: tuple[float, float] = (0.0, 1.0)) -> dict:
    """Mean of a symmetric ``(n, n)`` matrix of pairwise values in ``bounds`` (e.g. set overlaps of two inputs) over its
    off-diagonal cells, NaN cells left out, with the U-statistic's normal interval: the standard error is
    ``2 sd(row means) / sqrt(n)`` (Hoeffding), each row mean over that input's pairs. As in ``two_level``, one pseudo
    input that disagrees with every other (its pairs at the bound farthest from the mean) enters the standard error,
    so that n identical inputs give an interval of width about ``8 / n``, not a point; the estimate is the plain
    mean."""
    matrix = np.array(matrix, dtype=float)
    np.fill_diagonal(matrix, np.nan)
    estimate = float(np.nanmean(matrix))
    far = bounds[0] if abs(estimate - bounds[0]) > abs(estimate - bounds[1]) else bounds[1]
    padded = np.pad(matrix, ((0, 1), (0, 1)), constant_values=far)
    padded[-1, -1] = np.nan
    rows = np.nanmean(padded, axis=1)
    rows = rows[np.isfinite(rows)]
    half = z_value(level) * 2 * float(rows.std(ddof=1)) / math.sqrt(len(rows) - 1)
    return {"delta": estimate, "ci_low": max(estimate - half, bounds[0]), "ci_high": min(estimate + half, bounds[1]),
            "n": len(rows) - 1, "level": level}


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` against the 0/1 ``positive`` (Mann-Whitney, ties counted half); NaN when
    one class is missing."""
    positive = np.asarray(positive, dtype=bool)
    k = int(positive.sum())
    if k in (0, len(positive)):
        return math.nan
    ranks = stats.rankdata(scores)
    return float((ranks[positive].sum() - k * (k + 1) / 2) / (k * (len(positive) - k)))


def _wilson_bounds(p: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score bounds of shares ``p`` out of ``n`` trials (arrays; ``n`` need not be whole) at the normal
    critical value ``z``."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    return np.where(p > 0, low, 0.0), np.where(p < 1, high, 1.0)  # exact at the bounds, free of rounding


def lowest_auc(scores: np.ndarray, positive: np.ndarray, level: float = LEVEL, resamples: int = 2000,
               seed: int = 0) -> dict:
    """The lowest of several AUCs on the same reviews (``scores``: ``(n, layers)`` against the 0/1 ``positive``), with
    an interval for the lowest *true* AUC. A percentile bootstrap of the minimum lies too low where layers are about
    equally weak (two tied layers: about 89% coverage). Here each layer gets DeLong's variance, read as an effective
    number of trials (kept within ``[min(n1, n0), n1 n0]``) for a Wilson interval; the lower bound is the lowest of
    the layers' lower bounds (it misses only if the lowest layer's own bound does); the upper bound the lowest of
    their upper bounds at a ``z`` widened for the layers within 3 standard errors of the lowest (``_tied_z``).
    ``delta`` is the plain lowest AUC; NaN, with no interval, when ``positive`` holds one class only."""
    scores = np.asarray(scores, dtype=float)
    scores = scores[:, None] if scores.ndim == 1 else scores
    positive = np.asarray(positive, dtype=bool)
    n1, n0 = int(positive.sum()), int((~positive).sum())
    out = {"delta": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": len(positive), "level": level}
    if n1 == 0 or n0 == 0:
        return out
    aucs, cov = _delong(scores, positive)
    var = np.diag(cov)
    known = np.isfinite(var) & (var > 0) & (aucs > 0) & (aucs < 1)
    trials = np.where(known, aucs * (1 - aucs) / np.where(known, var, 1.0), min(n1, n0))
    trials = np.clip(trials, min(n1, n0), n1 * n0)
    lowest = int(np.argmin(aucs))
    gap_se = np.sqrt(np.maximum(np.nan_to_num(var + var[lowest] - 2 * cov[:, lowest]), 0.0))
    tied = np.flatnonzero(aucs - aucs[lowest] <= 3 * gap_se)
    low, _ = _wilson_bounds(aucs, trials, z_value(level))
    _, high = _wilson_bounds(aucs, trials, _tied_z(cov, np.where(known, var, 0.0), tied, level, resamples, seed))
    return out | {"delta": float(aucs[lowest]), "ci_low": float(low.min()), "ci_high": float(high.min()),
                  "tied": len(tied)}


def _delong(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column AUCs and DeLong's covariance matrix of them (placement values, ties counted half)."""
    n1, n0, layers = int(positive.sum()), int((~positive).sum()), scores.shape[1]
    ranks = stats.rankdata(scores, axis=0)
    above = (ranks[positive] - stats.rankdata(scores[positive], axis=0)) / n0  # per positive: negatives below it
    below = 1 - (ranks[~positive] - stats.rankdata(scores[~positive], axis=0)) / n1  # per negative: positives above
    cov = np.zeros((layers, layers))
    for placements, count in ((above, n1), (below, n0)):
        cov += np.cov(placements, rowvar=False).reshape(layers, layers) / count if count > 1 else np.nan
    return above.mean(axis=0), cov


def _tied_z(cov: np.ndarray, var: np.ndarray, tied: np.ndarray, level: float, resamples: int, seed: int) -> float:
    """The critical value of the upper bound when the layers ``tied`` may share the lowest AUC: what the lower bound
    leaves of ``1 - level`` under the tie, spent on the upper side, read off the tied layers' joint normal law (their
    DeLong correlations, ``resamples`` draws). One layer alone: the plain ``z``."""
    if len(tied) < 2:
        return z_value(level)
    sd = np.sqrt(var)[tied]
    scale = np.outer(sd, sd)
    corr = np.nan_to_num(cov[np.ix_(tied, tied)] / np.where(scale > 0, scale, 1.0)) * (scale > 0)
    np.fill_diagonal(corr, 1.0)
    draws = np.random.default_rng(seed).multivariate_normal(np.zeros(len(tied)), corr, resamples,
                                                            method="eigh").min(axis=1)
    lower_miss = float(np.mean(draws > z_value(level)))  # all tied layers' lower bounds above the truth at once
    return -float(np.quantile(draws, max(1 - level - lower_miss, 1 / resamples)))


def permutation_trend(values: np.ndarray, statistic, null: float, bounds: tuple[float, float] = (-math.inf, math.inf),
                      level: float = LEVEL, exact_up_to: int = 8, draws: int = 20000, seed: int = 0) -> dict:
    """A trend over layers: ``statistic`` of the per-layer ``values`` against its distribution when the values are
    permuted over the layers (every permutation up to ``exact_up_to`` layers, else ``draws`` random ones). The
    interval is the test inverted as a shift, ``[T - q_high + null, T - q_low + null]`` with ``q`` the permutation
    quantiles, clipped to the statistic's ``bounds``, so it excludes ``null`` exactly when the two-sided permutation
    test rejects at ``level``."""
    import itertools

    values = np.asarray(values, dtype=float)
    if len(values) <= exact_up_to:
        perms = np.array(list(itertools.permutations(range(len(values)))))
    else:
        rng = np.random.default_rng(seed)
        perms = np.array([rng.permutation(len(values)) for _ in range(draws)])
    observed = float(statistic(values))
    spread = np.array([statistic(values[p]) for p in perms], dtype=float)
    tail = (1 - level) / 2
    q_low, q_high = np.quantile(spread, [tail, 1 - tail], method="inverted_cdf")
    low, high = max(observed - q_high + null, bounds[0]), min(observed - q_low + null, bounds[1])
    return {"delta": observed, "ci_low": float(low), "ci_high": float(high),
            "n": len(values), "level": level, "p_below": float(np.mean(spread <= observed)),
            "p_above": float(np.mean(spread >= observed)), "permutations": len(perms),
            "exact": len(values) <= exact_up_to}


_SCALES = {  # transform, its derivative, its inverse, the range it maps onto the whole line
    "fisher_z": (np.arctanh, lambda y: 1 / (1 - y * y), np.tanh, (-1.0, 1.0)),
    "logit": (lambda y: np.log(y / (1 - y)), lambda y: 1 / (y * (1 - y)), lambda x: 1 / (1 + np.exp(-x)), (0.0, 1.0)),
}


def random_effects(effects, errors, level: float = LEVEL, scale: str | None = None) -> dict:
    """Pool k effects measured in separate runs, each with its within-run standard error: DerSimonian-Laird's
    between-run variance tau^2, the inverse-variance mean under it, and the Hartung-Knapp-Sidik-Jonkman interval
    (t with k - 1 degrees of freedom, its scale floored at 1 so that it is never narrower than the plain
    random-effects one). Runs that disagree by more than their own errors raise tau^2 and widen the interval; a
    within-run error of 0 (an exact count) leaves the spread between runs as the only source of error.

    ``scale``: ``"fisher_z"`` (a correlation) or ``"logit"`` (a share) pools a bounded effect on that scale (errors
    by the delta method) and maps the pooled value and interval back, so they stay in range; ``between_sd`` and
    ``within_sd`` are then on the transformed scale."""
    y = np.asarray(effects, dtype=float)
    e = np.asarray(errors, dtype=float)
    if scale is not None:
        if scale not in _SCALES:
            raise ValueError(f"scale is None, 'fisher_z' or 'logit'; got {scale!r}")
        forward, slope, back, (lowest, highest) = _SCALES[scale]
        if not ((y > lowest) & (y < highest)).all():
            raise ValueError(f"{scale} pools effects strictly inside ({lowest:g}, {highest:g}); got {y.tolist()}")
        pooled = random_effects(forward(y), e * np.abs(slope(y)), level)
        return pooled | {key: float(back(pooled[key])) for key in ("delta", "ci_low", "ci_high")} | {"scale": scale}
    v = np.maximum(e ** 2, 1e-12)
    k = len(y)
    if k < 2:
        raise ValueError(f"pooling needs at least 2 runs, got {k}")
    w = 1 / v
    fixed = (w * y).sum() / w.sum()
    tau2 = max(0.0, ((w * (y - fixed) ** 2).sum() - (k - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
    w = 1 / (v + tau2)
    pooled = (w * y).sum() / w.sum()
    scale = max(1.0, (w * (y - pooled) ** 2).sum() / (k - 1))
    half = float(stats.t.ppf((1 + level) / 2, k - 1)) * math.sqrt(scale / w.sum())
    return {"delta": float(pooled), "ci_low": float(pooled - half), "ci_high": float(pooled + half), "n": k,
            "level": level, "between_sd": math.sqrt(tau2), "within_sd": float(np.sqrt(v.mean()))}


def inside(low: float, high: float, null: float, margin: float | None) -> bool:
    """Whether the interval lies within ``null`` +- ``margin`` (never without a margin)."""
    return margin is not None and null - margin <= low and high <= null + margin


def verdict(low: float, high: float, null: float = 0.0, margin: float | None = None, direction: str = "+") -> str:
    """``equivalent`` when the interval lies within ``null`` +- ``margin``, even if it excludes ``null``: a margin
    says which differences count, so one smaller than it is not the difference claimed; else ``confirmed`` /
    ``refuted`` when the interval excludes ``null`` (on the claimed side of ``direction`` or the other), else
    ``inconclusive``."""
    if inside(low, high, null, margin):
        return "equivalent"
    if low > null or high < null:
        return "confirmed" if direction == ("+" if low > null else "-") else "refuted"
    return "inconclusive"


def mde(low: float, high: float, level: float, power: float = POWER) -> float:
    """The smallest true difference this interval's test would detect with probability ``power``."""
    se = (high - low) / (2 * z_value(level))
    return (z_value(level) + float(stats.norm.ppf(power))) * se


def judge(comparison: dict, null: float = 0.0, margin: float | None = None, direction: str = "+") -> dict:
    """The comparison with its verdict; an inconclusive one also gets its ``mde`` (not the n that would resolve the
    observed effect: that takes a noisy estimate for the truth; a design's power is computed at a stated
    alternative, ``study.registration``)."""
    c = dict(comparison)
    c |= {"null": null, "margin": margin, "verdict": verdict(c["ci_low"], c["ci_high"], null, margin, direction)}
    if c["verdict"] == "inconclusive":
        c["mde"] = mde(c["ci_low"], c["ci_high"], c["level"])
    return c


WORDS = {"confirmed": "higher", "refuted": "lower", "equivalent": "equivalent", "inconclusive": "inconclusive"}


def family(comparisons: list[dict], margin: float | None = None) -> list[dict]:
    """Verdicts for a family already computed at ``family_level(len(comparisons))``: ``a - b`` above zero reads
    "higher", below "lower", within +-``margin`` "equivalent", else "inconclusive"."""
    out = []
    for c in comparisons:
        judged = judge(c, 0.0, margin, "+")
        out.append(judged | {"verdict": WORDS[judged["verdict"]]})
    return out


def reversed_difference(comparison: dict) -> dict:
    """The same paired comparison read the other way round (b - a for a - b): the difference and its interval
    negated, a directional verdict turned with them."""
    turned = {"higher": "lower", "lower": "higher"}
    return dict(comparison) | {"delta": -comparison["delta"], "ci_low": -comparison["ci_high"],
                               "ci_high": -comparison["ci_low"]} \
        | ({"verdict": turned.get(comparison["verdict"], comparison["verdict"])} if "verdict" in comparison else {})


def describe(comparison: dict, scale: float = 100, unit: str = " pt", counted: str = "") -> str:
    """``+1.2 pt [-0.4, +2.8] (98.75%), n = 500 reviews``, the level shown when it is not 95%, the MDE when
    inconclusive; ``counted`` names what n counts."""
    c = comparison
    level = c.get("level", LEVEL)
    low, high = scale * c["ci_low"] + 0.0, scale * c["ci_high"] + 0.0  # + 0.0: no "-0.0"
    text = f"{scale * c['delta'] + 0.0:+.1f}{unit} [{low:+.1f}, {high:+.1f}]"
    if abs(level - LEVEL) > 1e-9:
        text += f" ({100 * level:.4g}% simultaneous)"
    text += f", n = {c['n']}" + (f" {counted}" if counted else "")
    if c.get("mde") is not None and c.get("verdict") in ("inconclusive",):
        text += f"; detectable at 80% power: {scale * c['mde']:.1f}{unit}"
    return text


# ------------------------------------------------------------------------------------ set overlaps and ranks

def jaccard(a: list[int], b: list[int]) -> float:
    """Overlap of two neuron sets; NaN for two empty sets (nothing to compare)."""
    union = set(a) | set(b)
    return len(set(a) & set(b)) / len(union) if union else math.nan


def jaccard_matrix(sets: list[list[list[int]]], layers) -> np.ndarray:
    """Mean Jaccard overlap between every pair of inputs over those of the given layers where at least one of the two
    sets is non-empty: ``(n_inputs, n_inputs)``, NaN where both sets are empty at every one of the layers (computed
    from indicator matrices, fast for hundreds of inputs)."""
    n = len(sets)
    width = 1 + max((i for per_input in sets for layer in layers for i in per_input[layer]), default=0)
    total, count = np.zeros((n, n)), np.zeros((n, n))
    for layer in layers:
        member = np.zeros((n, width))
        for r in range(n):
            member[r, sets[r][layer]] = 1
        inter = member @ member.T
        sizes = member.sum(1)
        union = sizes[:, None] + sizes[None, :] - inter
        seen = union > 0
        total[seen] += inter[seen] / union[seen]
        count += seen
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def chance_jaccard(a: int, b: int, n: int) -> float:
    """Expected Jaccard of two independent sets of sizes ``a`` and ``b`` drawn uniformly from ``n`` neurons (exact:
    the intersection is hypergeometric); NaN when both are empty. For ``a = b = k`` it is close to ``k / (2n - k)``."""
    if a == 0 and b == 0:
        return math.nan
    from scipy.stats import hypergeom

    x = np.arange(max(0, a + b - n), min(a, b) + 1)
    return float(np.sum(hypergeom.pmf(x, n, a, b) * x / (a + b - x)))


def _pair_cells(sets: list[list[list[int]]], widths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(input, input, layer)`` arrays of the Jaccard of two inputs' sets and of its chance value (random sets of the
    same sizes, exact), NaN where both sets are empty."""
    n_inputs, n_layers = len(sets), len(sets[0])
    value = np.full((n_inputs, n_inputs, n_layers), np.nan)
    chance = np.full((n_inputs, n_inputs, n_layers), np.nan)
    cache = {}
    for i, j in itertools.combinations(range(n_inputs), 2):
        for layer in range(n_layers):
            a, b = sets[i][layer], sets[j][layer]
            if a or b:
                value[i, j, layer] = value[j, i, layer] = jaccard(a, b)
                key = (min(len(a), len(b)), max(len(a), len(b)), widths[layer])
                if key not in cache:
                    cache[key] = chance_jaccard(*key)
                chance[i, j, layer] = chance[j, i, layer] = cache[key]
    return value, chance


def _input_resample(value: np.ndarray, upper: np.ndarray):
    """The statistic ``stats.bootstrap`` resamples inputs with: mean Jaccard over the non-empty cells of the drawn
    inputs (pairs of an input with itself left out); NaN when no such cell is drawn."""
    total, count = np.nansum(value, axis=2), np.isfinite(value).sum(axis=2)  # per input pair, over layers

    def statistic(idx: np.ndarray) -> float:
        keep = upper & (idx[:, None] != idx[None, :])
        c = count[np.ix_(idx, idx)][keep].sum()
        return total[np.ix_(idx, idx)][keep].sum() / c if c else math.nan
    return statistic


def overlap_summary(sets: list[list[list[int]]], widths, level: float = LEVEL, resamples: int = 2000,
                    seed: int = 0) -> dict:
    """How much the neuron sets of different inputs overlap, over the (input pair, layer) cells where at least one of
    the two sets is non-empty (two empty sets say nothing about which neurons an input uses).

    ``sets``: ``[input][layer] -> neuron ids``; ``widths``: neurons per layer (one int for all layers, or a list).
    Returns ``jaccard_nonempty`` (mean over those cells), ``nonempty_pairs`` (how many) of ``total_pairs``,
    ``jaccard_chance`` (the expected Jaccard of random sets of the same sizes, same cells, exact), and ``ci_low`` /
    ``ci_high``, a percentile bootstrap over inputs (inputs resampled with replacement, pairs of an input with itself
    left out, ``seed`` fixed). Values that do not exist (no non-empty cell) are None, never NaN.
    """
    n_inputs, n_layers = len(sets), len(sets[0])
    value, chance = _pair_cells(sets, [widths] * n_layers if np.isscalar(widths) else list(widths))
    upper = np.triu(np.ones((n_inputs, n_inputs), dtype=bool), 1)
    cells = value[upper]
    pairs = int(np.isfinite(cells).sum())
    out = {"jaccard_nonempty": None, "ci_low": None, "ci_high": None, "jaccard_chance": None, "nonempty_pairs": pairs,
           "total_pairs": int(upper.sum()) * n_layers, "inputs": n_inputs, "level": level}
    if pairs == 0:
        return out
    low, high = bootstrap(_input_resample(value, upper), n_inputs, level, resamples, seed)
    return out | {"jaccard_nonempty": float(np.nanmean(cells)), "jaccard_chance": float(np.nanmean(chance[upper])),
                  "ci_low": low, "ci_high": high}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation over all neurons of two ``(L, n)`` scores."""
    from scipy.stats import spearmanr

    return float(spearmanr(a.ravel(), b.ravel()).statistic)
