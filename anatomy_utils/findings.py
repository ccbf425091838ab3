"""What each notebook found, in plain sentences built from its own numbers (no hand-typed figure).

The notebooks print these paragraphs in their "What we found" section and record them in ``summary.json`` under
``findings.<notebook>.<role>``; the README's Findings section quotes them from there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .profiles import ReferenceConfig
from .stats import describe


def layer_anatomy(role: str, model: str, mean: np.ndarray, decision: int) -> str:
    """Paper §3.1 / Figure 1: how the target token's cosine to its final state grows with depth (probe mean)."""
    n = len(mean) - 1
    steps = np.diff(mean)
    jump = int(np.argmax(steps))
    dip = int(np.argmin(steps))
    above = [l for l in range(n + 1) if mean[l] >= 0.9]
    text = (f"{role} ({model}, {n} layers): the target token's cosine to its final state is {mean[0]:.2f} after the "
            f"embeddings and {mean[n - 1]:.2f} before the last layer; it first reaches 0.9 at layer {above[0]}. "
            f"The largest rise is from layer {jump} to {jump + 1} ({steps[jump]:+.2f}, at {(jump + 1) / n:.0%} of the "
            f"depth)")
    text += (f", the largest fall from layer {dip} to {dip + 1} ({steps[dip]:+.2f})." if steps[dip] < 0
             else "; the curve never falls.")
    return text + (f" The head, applied to every layer (the lens), settles on the final prediction from layer "
                   f"{decision} of {n}.")


def neuron_anatomy(role: str, model: str, above: float, widest_share: float, jaccard: float, threshold: float) -> str:
    """Paper §3.2-3.3: how many neurons exceed the threshold, and whether the same ones do for every input."""
    few = "so few that" if above < 10 else "and"
    return (f"{role} ({model}): on average {above:.1f} FFN neurons per probe input have a cosine above {threshold} to "
            f"the final target token; at most {widest_share:.1%} of any layer (the paper: under 5%). The mean Jaccard "
            f"overlap of these sets across the ten inputs is {jaccard:.2f}: {few} the paper's \"same neurons for every "
            f"input\" {'holds' if jaccard >= 0.8 else 'does not hold'} here.")


def causal_check(role: str, model: str, table: pd.DataFrame, spearman: float) -> str:
    """Beyond the paper: does masking the neurons the cosine ranks highest change the decisions?"""
    rows = [f"{name}: " + describe({"delta": row["delta_accuracy"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                                    "n": int(row["n"])}) for name, row in table.iterrows()]
    return (f"{role} ({model}): accuracy change when masking (masked minus dense, paired, 95% CI) — " + "; ".join(rows)
            + f". Rank correlation of |cosine| with the measured ablation effect: {spearman:+.2f}.")


def fine_tuning(role: str, meta: dict, reference: ReferenceConfig) -> str:
    """Paper §3.1: how well the fine-tuned classifier does, next to a published accuracy (the profile's reference)."""
    metrics, cfg = meta["metrics"], meta["config"]
    return (f"{role} ({cfg['model']}, {cfg['train_examples']} training reviews, {cfg['max_tokens']} tokens): validation "
            f"accuracy {metrics['validation']['accuracy']:.3f} (n = {metrics['validation']['n']}), test accuracy "
            f"{metrics['test']['accuracy']:.3f} (n = {metrics['test']['n']}); published reference for this role: "
            f"{getattr(reference, role):.3f} ({reference.source}).")
