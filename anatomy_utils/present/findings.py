"""What each notebook found, in plain sentences built from its own numbers (no hand-typed figure).

The notebooks print these paragraphs in their "What we found" section and record them in ``summary.json`` under
``findings.<notebook>.<role>``; the README's Findings section quotes them from there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..base.profiles import ReferenceConfig
from ..base.profiles import unit as unit  # what the items are called; the notebooks call au.findings.unit
from ..stats import LEVEL, describe


def dataset(profile) -> str:
    """The data set's short name for titles: IMDB unless the profile names another."""
    from pathlib import Path

    name = profile.data.name or "imdb"
    return Path(name).stem if profile.data.source == "file" else name


def layer_ranges(layers) -> str:
    """``[0, 1, 2, 4]`` -> ``"0-2 and 4"``."""
    layers, runs = sorted(int(layer) for layer in layers), []
    for layer in layers:
        if runs and layer == runs[-1][1] + 1:
            runs[-1][1] = layer
        else:
            runs.append([layer, layer])
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def compact(table: pd.DataFrame, rows: int = 12, keep=()) -> pd.DataFrame:
    """A long per-layer table shortened for reading: at most about ``rows`` evenly spaced rows, the first and the last
    among them, and the rows at the positions ``keep`` (say, the decision layer); the whole table is in its CSV."""
    if len(table) <= rows:
        return table
    picked = np.linspace(0, len(table) - 1, rows).round().astype(int)
    return table.iloc[np.unique(np.concatenate([picked, [k for k in keep if k is not None]]).astype(int))]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _f2(x: float) -> str:
    """Two decimals, never "-0.00"."""
    text = f"{x:.2f}"
    return "0.00" if text == "-0.00" else text


def layer_anatomy(role: str, model: str, mean: np.ndarray, lens: pd.DataFrame, decision: int | None,
                  items: str = "reviews") -> str:
    """Paper §3.1 / Figure 1: how the target token's cosine to its final state grows with depth (probe mean), and
    where the lens (the head applied to every layer, ``anatomy.lens_agreement``) carries the final prediction for good:
    its AUC against it stays at or above the criterion from ``decision`` on (``anatomy.decision_layer``)."""
    n = len(mean) - 1
    steps = np.diff(mean)
    jump, dip = int(np.argmax(steps)), int(np.argmin(steps))
    text = (f"{role} ({model}, {n} layers): the target token's cosine to its final state is {_f2(mean[0])} after the "
            f"embeddings and {_f2(mean[n - 1])} before the last layer")
    above = [layer for layer in range(n) if mean[layer] >= 0.9]
    if above:
        text += f"; it first reaches 0.9 at layer {above[0]}, before the last layer"
    text += (f". The largest rise is from layer {jump} to {jump + 1} ({steps[jump]:+.2f}, at {(jump + 1) / n:.0%} of "
             f"the depth)")
    text += (f", the largest fall from layer {dip} to {dip + 1} ({steps[dip]:+.2f})." if round(steps[dip], 2) < 0
             else ".")
    reviews, chance = int(lens["n"].iloc[0]), float(lens["chance"].iloc[0])
    text += (f" The head applied to every layer (the lens) is compared with the final prediction on {reviews} test "
             f"{items}; a lens that predicts the more frequent final class for all of them agrees on {_pct(chance)} "
             f"(chance).")
    if chance == 1:
        text += " The model predicts one class for all of them, so the lens cannot be told from chance."
    elif decision is None or decision >= n:
        text += (" Read without a threshold, the lens's logit ranks the final classes with an AUC of "
                 f"{lens['auc'].iloc[n - 1]:.2f} one layer before the last: the decision layer is the last.")
    else:
        row = lens.loc[decision]
        text += (f" Read without a threshold, the lens's logit ranks the final classes with an AUC of "
                 f"{row['auc']:.2f} at layer {decision} of {n} ({decision / n:.0%} of the depth), the decision layer "
                 f"from which it stays at the criterion or above; there the lens's class agrees with the final one on "
                 f"{_pct(row['agreement'])} [{_pct(row['ci_low'])}, {_pct(row['ci_high'])}] (Wilson 95%).")
    single = [layer for layer in lens.index[:-1] if lens.loc[layer, "single_class"]]
    if single:
        text += (f" At layer{'s' if len(single) > 1 else ''} {layer_ranges(single)} the lens predicts one class for "
                 f"every {items[:-1]}, so its agreement there is only the share of that class.")
    return text


def _overlap(result: dict) -> str:
    pairs, total = result["nonempty_pairs"], result["total_pairs"]
    where = f"all {total}" if pairs == total else f"{pairs} of {total}"
    return (f"{result['jaccard_nonempty']:.2f} [{result['ci_low']:.2f}, {result['ci_high']:.2f}] (95% bootstrap over "
            f"the {result['inputs']} inputs) over {where} input pairs × layers, against {result['jaccard_chance']:.3f} "
            f"for random sets of the same sizes")


def _same(result: dict, same: float) -> str:
    if result["ci_low"] > same:
        return f"the paper's \"same neurons for every input\" holds (the interval lies above {same})"
    if result["ci_high"] < same:
        text = f"the paper's \"same neurons for every input\" does not hold (the interval lies below {same})"
        return text + (", although the overlap is above chance" if result["ci_low"] > result["jaccard_chance"] else "")
    return f"whether the same neurons serve every input cannot be told (the interval contains {same})"


def neuron_anatomy(role: str, model: str, above: float, widest_share: float, threshold: float, overlap: dict,
                   topk: dict, k: int, width: int, alignment: float, same: float = 0.5) -> str:
    """Paper §3.2-3.3: how many neurons exceed the threshold, and whether the same ones do for every input, judged
    on the cells where at least one of two inputs has a neuron above it (``stats.overlap_summary``) and on the
    top-``k`` neurons by cosine of each layer (``topk``); ``same`` is the claims ledger's bar for "the same".
    ``alignment`` (``passes.target_alignment``) says how alike the inputs' targets are, which the overlap inherits."""
    text = (f"{role} ({model}): on average {above:.1f} FFN neurons per probe input have a cosine above {threshold} to "
            f"the final target token; at most {widest_share:.1%} of any layer (the paper: under 5%).")
    if overlap["nonempty_pairs"]:
        text += (f" Where at least one of two inputs has such a neuron, the Jaccard overlap of their sets is "
                 f"{_overlap(overlap)}: {_same(overlap, same)}.")
    else:
        text += (" No layer holds a neuron above the threshold for any input, so these sets are too small to tell "
                 "whether the same neurons serve every input.")
    text += (f" The top {k} neuron{'s' if k != 1 else ''} by cosine of each layer ({k / width:.1%} of {width}) "
             f"overlap by "
             f"{_overlap(topk)}: {_same(topk, same)}.")
    text += (f" Control: the inputs' final target states have a mean pairwise cosine of {alignment:.2f}"
             + (", so nearly one direction serves every input and a neuron close to one target is close to all: "
                "identical sets follow from alike targets, not from a fixed set of neurons chosen per input."
                if alignment > 0.9 else "; the targets differ enough for the overlap to be informative."))
    return text


ABLATION_LABELS = {"top_cosine": "the top {k} by cosine", "top_contribution": "the top {k} by contribution",
                   "random": "{k} random neurons"}


def _label(name: str, k: int) -> str:
    label = ABLATION_LABELS.get(name, name).format(k=k)
    return label.replace("random neurons", "random neuron") if k == 1 else label


def causal_check(role: str, model: str, table: pd.DataFrame, spearman: float, items: str = "reviews") -> str:
    """Beyond the paper: does masking the neurons the cosine ranks highest change the decisions? ``table`` is
    ``anatomy.ablation``'s (index: variant; columns masked, delta_accuracy, ci_low, ci_high, n, level)."""
    rows = []
    for name, row in table.iterrows():
        label = _label(name, int(row["masked"])) if "masked" in row else name
        change = {"delta": row["delta_accuracy"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                  "n": int(row["n"]), "level": row.get("level", LEVEL)}
        effect = ("lowers accuracy" if row["ci_high"] < 0 else "raises accuracy" if row["ci_low"] > 0
                  else "changes accuracy by no detectable amount")
        rows.append(f"masking {label} {effect}, {describe(change)}")
    n = int(table["n"].iloc[0])
    return (f"{role} ({model}), {n} test {items}, accuracy masked minus dense (matched pairs, 95% interval): "
            + "; ".join(rows) + f". Rank correlation of |cosine| with the measured ablation effect over all neurons: "
            f"{spearman:+.2f}.")


def fine_tuning(role: str, meta: dict, reference: ReferenceConfig) -> str:
    """Paper §3.1: how well the fine-tuned classifier does, next to a published accuracy (the profile's reference)."""
    metrics, cfg = meta["metrics"], meta["config"]
    return (f"{role} ({cfg['model']}, {cfg['train_examples']} training reviews, {cfg['max_tokens']} tokens): "
            f"validation accuracy {metrics['validation']['accuracy']:.3f} (n = {metrics['validation']['n']}), "
            f"test accuracy {metrics['test']['accuracy']:.3f} (n = {metrics['test']['n']}); "
            f"published reference for this role: {getattr(reference, role):.3f} ({reference.source}).")
