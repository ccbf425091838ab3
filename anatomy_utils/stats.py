"""One procedure for every comparison: an interval at the family's simultaneous level, and a verdict read off it.

A comparison is ``a - b`` on the same reviews, in the order given. Its interval is

* for two single models (0/1 correctness each): Agresti & Min's (2005) interval for matched proportions, which adds
  half a count to every cell of the 2x2 table, so it never collapses to a point when the two agree on every review;
* for a model against a distribution of random masks: a two-level bootstrap that resamples the masks and the reviews;
* for one accuracy against a published figure: Wilson's score interval.

A family of m comparisons (the sparsities of one question, the questions of one claim) is made at the Bonferroni
level 1 - 0.05 / m, so its intervals hold simultaneously; the verdict comes from that same interval:
``higher`` / ``lower`` when it excludes the null, ``equivalent`` when it lies within the stated margin of the null,
otherwise ``inconclusive``, with the minimum detectable effect (MDE) at 80% power and the n that would resolve it.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

LEVEL = 0.95
POWER = 0.80


def family_level(size: int, level: float = LEVEL) -> float:
    """Bonferroni: the level each of ``size`` intervals needs for all of them to hold together at ``level``."""
    return 1 - (1 - level) / max(int(size), 1)


def z_value(level: float) -> float:
    return float(stats.norm.ppf(1 - (1 - level) / 2))


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


def matched_pairs(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> dict:
    """``mean(a) - mean(b)`` for two 0/1 outcome vectors on the same reviews, with Agresti & Min's interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"Paired outcomes need the same reviews; got {a.shape} and {b.shape}.")
    if not np.isin(a, (0, 1)).all() or not np.isin(b, (0, 1)).all():
        raise ValueError("matched_pairs takes 0/1 outcomes; average over masks with two_level instead.")
    n = len(a)
    up, down = float(((a == 1) & (b == 0)).sum()) + 0.5, float(((a == 0) & (b == 1)).sum()) + 0.5
    m = n + 2
    centre = (up - down) / m
    se = math.sqrt(up + down - (up - down) ** 2 / m) / m
    half = z_value(level) * se
    return {"delta": float(a.mean() - b.mean()), "ci_low": max(centre - half, -1.0), "ci_high": min(centre + half, 1.0),
            "n": n, "level": level}


def two_level(a: np.ndarray, masks: np.ndarray, level: float = LEVEL, resamples: int = 4000, seed: int = 0) -> dict:
    """``a`` (one model's 0/1 outcomes, ``(n,)``) minus a distribution of random masks (``(masks, n)``, the same
    reviews), masks and reviews both resampled: the interval carries the spread between masks as well as the
    sampling of reviews. Also where ``a`` falls among the masks (the share of masks it beats)."""
    a, masks = np.asarray(a, dtype=float), np.atleast_2d(np.asarray(masks, dtype=float))
    if masks.shape[1] != len(a):
        raise ValueError(f"Paired outcomes need the same reviews; got {len(a)} and {masks.shape[1]}.")
    diff = a[None, :] - masks
    # Agresti-Min's idea carried over: one pseudo-pair of discordant reviews (+1 and -1) beside the real ones, so that
    # identical outcomes do not yield a zero-width interval; the estimate itself is the plain mean.
    padded = np.hstack([diff, np.ones((len(masks), 1)), -np.ones((len(masks), 1))])
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for r in range(resamples):
        per_review = padded[rng.integers(0, len(masks), len(masks))].mean(axis=0)
        means[r] = per_review[rng.integers(0, padded.shape[1], padded.shape[1])].mean()
    tail = 100 * (1 - level) / 2
    accuracies = masks.mean(axis=1)
    return {"delta": float(diff.mean()), "ci_low": float(np.percentile(means, tail)),
            "ci_high": float(np.percentile(means, 100 - tail)), "n": len(a), "masks": len(masks), "level": level,
            "mask_spread": float(accuracies.std(ddof=1)) if len(masks) > 1 else None,
            "beats_share": float(np.mean(a.mean() > accuracies))}


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


def bootstrap_interval(values: np.ndarray, level: float = LEVEL, resamples: int = 4000, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` (one per review, or per input), resampled with replacement."""
    values = np.asarray(values, dtype=float)
    rows = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    means = values[rows].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def verdict(low: float, high: float, null: float = 0.0, margin: float | None = None, direction: str = "+") -> str:
    """``confirmed`` / ``refuted`` when the interval excludes ``null`` (on the claimed side of ``direction`` or the
    other), ``equivalent`` when it lies within ``null`` +- ``margin``, else ``inconclusive``."""
    if low > null or high < null:
        return "confirmed" if direction == ("+" if low > null else "-") else "refuted"
    if margin is not None and null - margin <= low and high <= null + margin:
        return "equivalent"
    return "inconclusive"


def mde(low: float, high: float, level: float, power: float = POWER) -> float:
    """The smallest true difference this interval's test would detect with probability ``power``."""
    se = (high - low) / (2 * z_value(level))
    return (z_value(level) + float(stats.norm.ppf(power))) * se


def n_to_resolve(effect: float, null: float, n: int, detectable: float) -> int | None:
    """Reviews that would make the observed effect detectable at 80% power (None when it equals the null)."""
    gap = abs(effect - null)
    return None if gap == 0 else int(math.ceil(n * (detectable / gap) ** 2))


def judge(comparison: dict, null: float = 0.0, margin: float | None = None, direction: str = "+") -> dict:
    """The comparison with its verdict; an inconclusive one also gets ``mde`` and ``n_to_resolve``."""
    c = dict(comparison)
    c |= {"null": null, "margin": margin, "verdict": verdict(c["ci_low"], c["ci_high"], null, margin, direction)}
    if c["verdict"] == "inconclusive":
        c["mde"] = mde(c["ci_low"], c["ci_high"], c["level"])
        c["n_to_resolve"] = n_to_resolve(c["delta"], null, c["n"], c["mde"])
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


def describe(comparison: dict, scale: float = 100, unit: str = " pt", counted: str = "") -> str:
    """``+1.2 pt [-0.4, +2.8] (98.75%), n = 500 reviews``, the level shown when it is not 95%, the MDE when inconclusive;
    ``counted`` names what n counts."""
    c = comparison
    level = c.get("level", LEVEL)
    text = f"{scale * c['delta']:+.1f}{unit} [{scale * c['ci_low']:+.1f}, {scale * c['ci_high']:+.1f}]"
    if abs(level - LEVEL) > 1e-9:
        text += f" ({100 * level:.4g}% simultaneous)"
    text += f", n = {c['n']}" + (f" {counted}" if counted else "")
    if c.get("mde") is not None and c.get("verdict") in ("inconclusive",):
        text += f"; detectable at 80% power: {scale * c['mde']:.1f}{unit}"
    return text
