"""The pruning experiments of notebooks 04 (encoder) and 05 (decoder): one code path for both roles."""
from __future__ import annotations

import copy
import shutil

import numpy as np
import pandas as pd
import torch

from . import pruning, timing
from .classifier import SentimentClassifier, evaluate, footprint, load_classifier, save_classifier
from .families import ffn_width
from .finetune import checkpoint_dir, encoded_split
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
    return evaluate(pruning.pruned_copy(clf, keep), data, pad_id, batch_size)["accuracy"]


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


def scaled_rule(rule: pruning.PaperRule, saved: dict, widths: list[int], target: float) -> tuple[dict, float]:
    """The rule's neurons kept when all its thresholds are scaled to prune ``target`` of the neurons."""
    thresholds, one_sided = rule.thresholds(saved["layer_similarity"])
    scale = pruning.scale_for_fraction(saved["similarity"], thresholds, one_sided, widths, target)
    return pruning.keep_by_threshold(saved["similarity"], thresholds * scale, one_sided), scale


def paper_keep(profile: Profile, role: str, clf: SentimentClassifier, target: float) -> dict:
    """Keep-sets of the grid's first rule, scaled to remove ``target`` of the neurons (what 04/05 time and save)."""
    layers = clf.family.layers(clf.body)
    widths = [ffn_width(layer, clf.family) for layer in layers]
    return scaled_rule(rules(profile, role, len(layers))[0], inputs(profile, role), widths, target)[0]


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
    for target in profile.prune.fractions:
        keep, scale = scaled_rule(grid[0], saved, widths, target)
        rows.append({"method": "paper rule (scaled)", "setting": f"target {target:.0%}, scale {scale:.3g}",
                     "pruned_fraction": pruning.pruned_fraction(keep, widths),
                     "accuracy": pruned_accuracy(clf, keep, data, pad_id, batch_size)})
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


@torch.no_grad()
def speed(profile: Profile, role: str, clf: SentimentClassifier, tokenizer) -> tuple[pd.DataFrame, float]:
    """Dense, zeroed and removed models timed side by side on one fixed batch, against the FLOP ceiling.

    Returns the table and the largest logit difference between removed and zeroed models on 8 reviews of the batch.
    """
    p = profile.prune
    data = encoded_split(profile, role, tokenizer, "test", max_tokens=p.timing_tokens)
    batch = timing.fixed_batch(data, p.timing_batch, p.timing_tokens)
    variants, ceilings, max_diff = {"dense": lambda: clf(**batch)}, {}, 0.0
    for target in p.timing_fractions:
        keep = paper_keep(profile, role, clf, target)
        removed = pruning.pruned_copy(clf, keep)
        check = {k: v[:8] for k, v in batch.items()}  # the equality check needs a few reviews, not the whole batch
        with pruning.zeroed(clf.body, keep):
            max_diff = max(max_diff, (clf(**check) - removed(**check)).abs().max().item())
        variants[f"zeroed {target:.0%}"] = lambda keep=keep: _zeroed_call(clf, keep, batch)
        variants[f"removed {target:.0%}"] = lambda removed=removed: removed(**batch)
        ceilings[target] = timing.speedup_ceiling(clf.body, removed.body, p.timing_tokens)
    medians = timing.interleaved_medians(variants, p.timing_repeats)
    batches = -(-len(data.ids) // p.timing_batch)
    rows = [{"variant": "dense", "pruned_fraction": 0.0, "seconds_per_batch": medians["dense"], "speedup": 1.0,
             "ceiling": 1.0}]
    for target, ceiling in ceilings.items():
        for kind in ("zeroed", "removed"):
            seconds = medians[f"{kind} {target:.0%}"]
            rows.append({"variant": kind, "pruned_fraction": target, "seconds_per_batch": seconds,
                         "speedup": medians["dense"] / seconds, "ceiling": ceiling})
    table = pd.DataFrame(rows)
    table["test_set_seconds"] = table["seconds_per_batch"] * batches  # extrapolated to the test set's batches
    table["speedup_vs_ceiling"] = table["speedup"] / table["ceiling"]
    return table, max_diff


def _zeroed_call(clf: SentimentClassifier, keep: dict, batch: dict):
    with pruning.zeroed(clf.body, keep):
        return clf(**batch)


@torch.no_grad()
def save_pruned(profile: Profile, role: str, clf: SentimentClassifier, tokenizer, data, target: float) -> pd.DataFrame:
    """Remove ``target`` of the neurons by the paper rule, save, load back with one call; compare size and logits."""
    pruned = pruning.pruned_copy(clf, paper_keep(profile, role, clf, target))
    folder = artifact(profile.name, f"pruned/{role}-p{round(100 * target)}")
    if folder.exists():
        shutil.rmtree(folder)
    save_classifier(pruned, tokenizer, folder, {"profile": profile.name, "role": role, "pruned_fraction": target})
    loaded, _, _ = load_classifier(folder)
    sample = list(range(min(16, len(data.ids))))
    batch = data.batch(sample, tokenizer.pad_token_id)
    same = torch.equal(loaded(**batch), pruned(**batch))
    dense_size = footprint(clf, checkpoint_dir(profile, role))
    pruned_size = footprint(loaded, folder)
    return pd.DataFrame({"dense": dense_size, f"removed {target:.0%}": pruned_size}).T.assign(
        reloaded_logits_identical=[None, same])


def verdict(sweep: pd.DataFrame, n_reviews: int) -> list[str]:
    """One plain sentence per sparsity: does the paper's rule beat the random baseline beyond the noise?

    The noise is two standard deviations: of the random seeds' accuracies, or, when larger, the binomial standard error
    of an accuracy measured on ``n_reviews`` reviews (three seeds can agree by chance).
    """
    lines = []
    for target, row in sweep.iterrows():
        p = row["random_mean"]
        noise = 2 * max(row["random_std"] if row["random_std"] > 0 else 0, (p * (1 - p) / n_reviews) ** 0.5)
        gap = row["paper_rule"] - p
        outcome = ("beats" if gap > noise else "loses to" if gap < -noise else "is within the noise of") + " random"
        lines.append(f"{target:.0%} pruned: paper rule {row['paper_rule']:.3f} vs random {p:.3f} "
                     f"± {row['random_std']:.3f} -> the rule {outcome} (noise ±{noise:.3f})")
    return lines


def paper_timing_check(fraction: float = 0.1, tokens: int = 256) -> dict:
    """The FLOP ceiling of BERT-base with ``fraction`` of its FFN neurons removed, against the paper's 13.71 s -> 10.3 s.

    Built on the meta device from the default ``BertConfig`` (= bert-base): no weights are needed to count FLOPs.
    """
    from transformers import BertConfig, BertModel

    with torch.device("meta"):
        dense = BertModel(BertConfig())
        pruned = copy.deepcopy(dense)
    width = dense.config.intermediate_size
    pruning.remove_neurons(pruned, {l: torch.arange(round(width * (1 - fraction))) for l in range(12)})
    return {"pruned_fraction": fraction, "tokens": tokens, "ceiling": timing.speedup_ceiling(dense, pruned, tokens),
            "paper_speedup_from_zeroing": 13.71 / 10.3}
