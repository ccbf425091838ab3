"""Paired statistics on per-review outcomes of two model variants evaluated on the same reviews.

An outcome vector holds one value per review: 1/0 for a single model's correct/wrong, or the mean of several seeds'
correctness. A comparison is always ``a - b`` on the same reviews, in the order given.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

LEVEL = 0.95


def wilson(correct: np.ndarray) -> tuple[float, float]:
    """Wilson 95% interval of one model's accuracy from its 0/1 correctness vector."""
    correct = np.asarray(correct)
    ci = stats.binomtest(int(correct.sum()), len(correct)).proportion_ci(LEVEL, method="wilson")
    return float(ci.low), float(ci.high)


def bootstrap_interval(values: np.ndarray, resamples: int = 4000, seed: int = 0) -> tuple[float, float]:
    """Percentile 95% interval of the mean of ``values`` (one per review), reviews resampled with replacement."""
    values = np.asarray(values, dtype=float)
    rows = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    means = values[rows].mean(axis=1)
    tail = 100 * (1 - LEVEL) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def sign_test(a: np.ndarray, b: np.ndarray) -> float:
    """Exact two-sided sign test on the reviews where ``a`` and ``b`` differ: McNemar's exact test when both are 0/1."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    discordant = int((diff != 0).sum())
    return 1.0 if discordant == 0 else float(stats.binomtest(int((diff > 0).sum()), discordant).pvalue)


def paired(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict:
    """``a - b`` on the same reviews: mean difference, its paired bootstrap 95% interval, sign-test p-value and n."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"Paired outcomes need the same reviews; got {a.shape} and {b.shape}.")
    low, high = bootstrap_interval(a - b, seed=seed)
    return {"delta": float((a - b).mean()), "ci_low": low, "ci_high": high, "p": sign_test(a, b), "n": len(a)}


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (same order as given)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def word(comparison: dict, alpha: float = 1 - LEVEL, p_key: str = "p_holm") -> str:
    """"higher" / "lower" when the (adjusted) p-value is below ``alpha`` and the interval excludes zero, else
    "not resolved at this n"."""
    excludes_zero = comparison["ci_low"] > 0 or comparison["ci_high"] < 0
    if comparison[p_key] < alpha and excludes_zero:
        return "higher" if comparison["delta"] > 0 else "lower"
    return "not resolved at this n"


def describe(comparison: dict, scale: float = 100, unit: str = " pt") -> str:
    """``+1.2 pt [-0.4, +2.8], p(Holm) = 0.31, n = 500``: the p-value Holm-adjusted when given, left out when absent."""
    c = comparison
    parts = [f"{scale * c['delta']:+.1f}{unit} [{scale * c['ci_low']:+.1f}, {scale * c['ci_high']:+.1f}]"]
    if "p_holm" in c:
        parts.append(f"p(Holm) = {c['p_holm']:.3g}")
    elif "p" in c:
        parts.append(f"p = {c['p']:.3g}")
    return ", ".join([*parts, f"n = {c['n']}"])
