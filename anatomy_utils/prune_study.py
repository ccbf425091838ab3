"""The pruning experiments of notebooks 04 (encoder) and 05 (decoder): one code path for both roles."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from . import pruning
from .classifier import SentimentClassifier, evaluate
from .families import ffn_width
from .profiles import Profile
from .runtime import FIGURES, artifact


def inputs(profile: Profile, role: str) -> dict:
    """What 02 and 03 saved: ``Layer_similarity`` (probe mean per layer) and the per-neuron probe cosines."""
    layer_sim = pd.read_csv(FIGURES / profile.name / f"layer_similarity_{role}.csv", index_col="layer")["mean"].to_numpy()
    cosines = np.load(artifact(profile.name, f"neuron_cosines_{role}.npy"))
    threshold = profile.anatomy.neuron_threshold
    return {"layer_similarity": layer_sim, "cosines": cosines,
            "similarity": pruning.neuron_similarity(cosines, profile.prune.neuron_similarity),
            "protected": [np.flatnonzero((cosines[:, l] > threshold).any(axis=0)) for l in range(cosines.shape[1])]}


def pruned_accuracy(clf: SentimentClassifier, keep: dict, data, pad_id: int, batch_size: int) -> float:
    """Accuracy with the pruned neurons physically removed (identical to zeroing, and faster to evaluate)."""
    pruned = copy.deepcopy(clf)
    pruning.remove_neurons(pruned.body, keep)
    return evaluate(pruned, data, pad_id, batch_size)["accuracy"]


def rules(profile: Profile, role: str, n_layers: int) -> list[pruning.PaperRule]:
    """The paper's grid (Figure 5a) for this role, focusing layers mapped to this model's depth."""
    grid = getattr(profile.prune, f"{role}_grid")
    return [pruning.PaperRule(role, p["alpha"], p["beta"], tuple(pruning.focusing_layers(p["focusing"], n_layers)))
            for p in grid]


def figure4a(rule: pruning.PaperRule, saved: dict, widths: list[int]) -> pd.DataFrame:
    """Per-layer thresholds and pruned counts of one rule, as the paper's Figure 4a lists them."""
    thresholds, one_sided = rule.thresholds(saved["layer_similarity"])
    keep = pruning.keep_by_threshold(saved["similarity"], thresholds, one_sided)
    return pd.DataFrame({"threshold": thresholds, "one_sided": one_sided, "focusing": np.isin(range(len(widths)), rule.focusing),
                         "pruned": [w - len(keep[l]) for l, w in enumerate(widths)], "width": widths}).rename_axis("layer")


def run(profile: Profile, role: str, clf: SentimentClassifier, data, pad_id: int, batch_size: int) -> pd.DataFrame:
    """Accuracy of the paper's grid, of its first rule scaled to each sweep sparsity, and of the random baseline."""
    saved = inputs(profile, role)
    layers = clf.family.layers(clf.body)
    widths = [ffn_width(layer, clf.family) for layer in layers]
    rows = [{"method": "dense", "setting": "-", "pruned_fraction": 0.0,
             "accuracy": evaluate(clf, data, pad_id, batch_size)["accuracy"]}]
    grid = rules(profile, role, len(layers))
    for rule in grid:
        thresholds, one_sided = rule.thresholds(saved["layer_similarity"])
        keep = pruning.keep_by_threshold(saved["similarity"], thresholds, one_sided)
        rows.append({"method": "paper grid", "setting": f"alpha={rule.alpha} beta={rule.beta} focus={list(rule.focusing)}",
                     "pruned_fraction": pruning.pruned_fraction(keep, widths),
                     "accuracy": pruned_accuracy(clf, keep, data, pad_id, batch_size)})
    thresholds, one_sided = grid[0].thresholds(saved["layer_similarity"])
    for target in profile.prune.fractions:
        scale = pruning.scale_for_fraction(saved["similarity"], thresholds, one_sided, widths, target)
        keep = pruning.keep_by_threshold(saved["similarity"], thresholds * scale, one_sided)
        fraction = pruning.pruned_fraction(keep, widths)
        rows.append({"method": "paper rule (scaled)", "setting": f"target {target:.0%}, scale {scale:.3g}",
                     "pruned_fraction": fraction, "accuracy": pruned_accuracy(clf, keep, data, pad_id, batch_size)})
        counts = [w - len(keep[l]) for l, w in enumerate(widths)]
        for seed in range(profile.prune.random_seeds):
            random_keep = pruning.keep_random(widths, counts, saved["protected"], seed)
            rows.append({"method": "random", "setting": f"target {target:.0%}, seed {seed}",
                         "pruned_fraction": pruning.pruned_fraction(random_keep, widths),
                         "accuracy": pruned_accuracy(clf, random_keep, data, pad_id, batch_size)})
    return pd.DataFrame(rows)


def sweep_table(results: pd.DataFrame) -> pd.DataFrame:
    """Paper rule against the random baseline (mean, std over seeds) at each sweep sparsity."""
    sweep = results[results["method"] != "paper grid"].copy()
    sweep["target"] = sweep["setting"].str.extract(r"target (\d+)%")[0].astype(float) / 100
    rule = sweep[sweep["method"] == "paper rule (scaled)"].set_index("target")
    rand = sweep[sweep["method"] == "random"].groupby("target")["accuracy"].agg(["mean", "std"])
    return pd.DataFrame({"pruned_fraction": rule["pruned_fraction"], "paper_rule": rule["accuracy"],
                         "random_mean": rand["mean"], "random_std": rand["std"]}).round(4)
