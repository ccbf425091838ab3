"""The pruning experiments of notebooks 04 (encoder) and 05 (decoder): one code path for both roles."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import torch

from . import anatomy, speed_study
from .. import stats
from ..core import pruning
from ..core.classifier import SentimentClassifier, footprint, load_classifier, save_classifier
from ..core.families import ffn_widths
from .finetune import checkpoint_dir
from .predictions import Store
from ..base import keys
from ..base.profiles import Profile
from ..base.cache import artifact
from ..base.runtime import FIGURES


def rule_inputs(profile: Profile, layer_sim: np.ndarray, cosines: np.ndarray) -> dict:
    """What the paper's rule reads: ``Layer_similarity`` (probe mean per layer), the per-neuron probe cosines, the
    neuron similarity made of them and the neurons above the threshold that random masks leave alone."""
    threshold = profile.anatomy.neuron_threshold
    return {"layer_similarity": layer_sim, "cosines": cosines,
            "similarity": pruning.neuron_similarity(cosines, profile.prune.neuron_similarity),
            "protected": [np.flatnonzero((cosines[:, layer] > threshold).any(axis=0))
                          for layer in range(cosines.shape[1])]}


def inputs(profile: Profile, role: str) -> dict:
    """:func:`rule_inputs` from what 02 and 03 saved."""
    layer_sim = pd.read_csv(FIGURES / profile.name / f"layer_similarity_{role}.csv",
                            index_col="layer")["mean"].to_numpy()
    return rule_inputs(profile, layer_sim, anatomy.load_cosines(profile, role))


def rules(profile: Profile, role: str, n_layers: int) -> list[pruning.PaperRule]:
    """The paper's grid (Figure 5a) for this role, focusing layers mapped to this model's depth."""
    grid = getattr(profile.prune, f"{role}_grid")
    return [pruning.PaperRule(role, p["alpha"], p["beta"], tuple(pruning.focusing_layers(p["focusing"], n_layers)))
            for p in grid]


def figure4a(rule: pruning.PaperRule, saved: dict, widths: list[int]) -> pd.DataFrame:
    """Per-layer thresholds and pruned counts of one rule, as the paper's Figure 4a lists them."""
    thresholds, one_sided = rule.thresholds(saved["layer_similarity"])
    keep = pruning.keep_by_threshold(saved["similarity"], thresholds, one_sided)
    return pd.DataFrame({"threshold": thresholds, "one_sided": one_sided,
                         "focusing": np.isin(range(len(widths)), rule.focusing),
                         "pruned": [w - len(keep[layer]) for layer, w in enumerate(widths)],
                         "width": widths}).rename_axis("layer")


def scaled_rule(rule: pruning.PaperRule, saved: dict, widths: list[int], sparsity: float) -> tuple[dict, float]:
    """The rule's neurons kept when all its thresholds are scaled to prune ``sparsity`` of the neurons."""
    thresholds, one_sided = rule.thresholds(saved["layer_similarity"])
    scale = pruning.scale_for_sparsity(saved["similarity"], thresholds, one_sided, widths, sparsity)
    return pruning.keep_by_threshold(saved["similarity"], thresholds * scale, one_sided), scale


GRID, RULE, RANDOM = "paper grid", "paper rule (scaled)", "random (rule's layer counts)"


def random_name(sparsity: float, mask: int) -> str:
    return f"{RANDOM} {sparsity:.0%} mask {mask}"


def mask_count(profile: Profile, sparsity: float) -> int:
    """Many random masks at the paper's headline sparsities, a few for the rest of the curve."""
    p = profile.prune
    return p.random_masks if any(abs(sparsity - h) < 1e-9 for h in p.headline_sparsities) else p.curve_masks


def _row(method: str, setting: str, prediction, dense, widths: list[int], keep: dict | None, sparsity=None, mask=None):
    low, high = stats.wilson(prediction.correct)
    return {"method": method, "setting": setting, "sparsity": sparsity, "mask": mask,
            "pruned_fraction": 0.0 if keep is None else pruning.pruned_fraction(keep, widths),
            "n": len(prediction.logits),
            "accuracy": prediction.accuracy, "ci_low": low, "ci_high": high} | prediction.moved(dense)


def run(profile: Profile, role: str, store: Store, data, grid_data, mask_data) -> tuple[pd.DataFrame, dict]:
    """The paper's grid (on ``grid_data``, a smaller reproduction) and its first rule scaled to each sweep sparsity
    (on ``data``) against a distribution of random masks with the rule's layer counts (each on ``mask_data``, the first
    reviews of ``data``): one row per variant with its accuracy, Wilson 95% interval, agreement with the dense
    predictions and mean |logit change|. Also returns the predictions by variant name."""
    saved = inputs(profile, role)
    clf = store.clf
    widths = ffn_widths(clf.body)
    dense = store.run("dense", "test", data)
    grid_dense = store.run("dense (grid subset)", "test", grid_data)
    mask_dense = store.run("dense (mask subset)", "test", mask_data)
    rows = [_row("dense", "-", dense, dense, widths, None)]
    grid = rules(profile, role, len(widths))
    for rule in grid:
        thresholds, one_sided = rule.thresholds(saved["layer_similarity"])
        keep = pruning.keep_by_threshold(saved["similarity"], thresholds, one_sided)
        setting = f"alpha={rule.alpha} beta={rule.beta} focus={list(rule.focusing)}"
        rows.append(_row(GRID, setting, store.run(f"{GRID}: {setting}", "test", grid_data, keep), grid_dense, widths,
                         keep))
    for sparsity in profile.prune.sparsities:
        keep, scale = scaled_rule(grid[0], saved, widths, sparsity)
        rows.append(_row(RULE, f"scale {scale:.3g}", store.run(f"{RULE} {sparsity:.0%}", "test", data, keep), dense,
                         widths, keep, sparsity))
        counts = [w - len(keep[layer]) for layer, w in enumerate(widths)]
        for mask in range(mask_count(profile, sparsity)):
            random_keep = pruning.keep_random(widths, counts, saved["protected"], mask)
            prediction = store.run(random_name(sparsity, mask), "test", mask_data, random_keep)
            rows.append(_row(RANDOM, f"mask {mask}", prediction, mask_dense, widths, random_keep, sparsity, mask))
    return pd.DataFrame(rows), {r.name: r for r in store.records}


def masks_of(predictions: dict, sparsity: float) -> np.ndarray:
    """The random masks' 0/1 outcomes at ``sparsity``: ``(masks, reviews)``."""
    names = sorted((k for k in predictions if k.startswith(f"{RANDOM} {sparsity:.0%} mask ")),
                   key=lambda k: int(k.split()[-1]))
    return np.stack([predictions[k].correct for k in names])


def comparisons(results: pd.DataFrame, predictions: dict, margin: float) -> pd.DataFrame:
    """Paired on the same reviews, one family per question across the sweep's sparsities (intervals simultaneous at
    95%, verdicts read off them): the rule minus the random masks (two-level bootstrap over masks and reviews, on the
    masks' reviews) and the rule minus dense (Tango's score interval)."""
    sparsities = list(results.loc[results["method"] == RULE, "sparsity"])
    level = stats.family_level(len(sparsities))
    rows = []
    for against in ("random masks", "dense"):
        family = []
        for sparsity in sparsities:
            rule = predictions[f"{RULE} {sparsity:.0%}"].correct
            if against == "dense":
                found = stats.matched_pairs(rule, predictions["dense"].correct, level)
            else:
                masks = masks_of(predictions, sparsity)
                found = stats.two_level(rule[: masks.shape[1]], masks, level)
            family.append({"sparsity": sparsity, "against": against} | found)
        rows += [r for r in stats.family(family, margin)]
    return pd.DataFrame(rows)


def sweep_table(results: pd.DataFrame, comparison: pd.DataFrame) -> pd.DataFrame:
    """Per sweep sparsity: the rule's accuracy and interval, the random masks' mean and spread (SD between masks),
    and the paired difference rule minus random with its simultaneous interval and verdict."""
    rule = results[results["method"] == RULE].set_index("sparsity")
    rand = results[results["method"] == RANDOM].groupby("sparsity")["accuracy"].agg(["mean", "std", "count"])
    paired = comparison[comparison["against"] == "random masks"].set_index("sparsity")
    return pd.DataFrame({"pruned_fraction": rule["pruned_fraction"], "n": rule["n"], "paper_rule": rule["accuracy"],
                         "rule_ci_low": rule["ci_low"], "rule_ci_high": rule["ci_high"], "random_masks": rand["count"],
                         "random_n": paired["n"], "random_mean": rand["mean"], "random_spread": rand["std"],
                         "delta": paired["delta"], "delta_ci_low": paired["ci_low"], "delta_ci_high": paired["ci_high"],
                         "level": paired["level"], "verdict": paired["verdict"]}).round(4)


def verdict(comparison: pd.DataFrame, unit: str = "reviews") -> list[str]:
    """One sentence per question and sparsity, in words, with the interval the verdict was read from."""
    what = {"random masks": "rule minus random masks", "dense": "rule minus dense"}
    counted = lambda row: unit + (f" x {int(row['masks'])} masks" if row["against"] == "random masks" else "")  # noqa: E731
    return [f"{row['sparsity']:.0%} pruned, {what[row['against']]}: {stats.describe(row, counted=counted(row))} "
            f"-> {row['verdict']}" for _, row in comparison.iterrows()]


def summary_values(profile: Profile, role: str, results: pd.DataFrame, comparison: pd.DataFrame, unit: str) -> dict:
    """04/05's keys of ``summary.json`` for one model (no NaN: a missing spread is left out)."""
    dense = results[results["method"] == "dense"].iloc[0]
    values = {keys.prune(role, "dense", "accuracy"): dense["accuracy"],
              keys.evaluation(role, "test_reviews"): int(dense["n"])}
    rule = results[results["method"] == RULE].set_index("sparsity")
    rand = results[results["method"] == RANDOM].groupby("sparsity")["accuracy"]
    for sparsity, row in rule.iterrows():
        key = keys.prune(role, keys.percent(sparsity))
        values |= {f"{key}.paper_rule.accuracy": row["accuracy"], f"{key}.paper_rule.ci_low": row["ci_low"],
                   f"{key}.paper_rule.ci_high": row["ci_high"], f"{key}.random.accuracy_mean": rand.mean()[sparsity],
                   f"{key}.random_masks": int(rand.count()[sparsity]), f"{key}.pruned_fraction": row["pruned_fraction"]}
        if rand.count()[sparsity] > 1:
            values[f"{key}.random_spread"] = rand.std()[sparsity]
    names = {"random masks": "rule_vs_random", "dense": "rule_vs_dense"}
    for _, row in comparison.iterrows():
        key = keys.prune(role, keys.percent(row["sparsity"]), names[row["against"]])
        values |= {f"{key}.{k}": row[k] for k in ("delta", "ci_low", "ci_high", "level", "n", "verdict", "mde")
                   if k in row and pd.notna(row[k])}
    values[keys.finding("prune", role)] = "; ".join(verdict(comparison, unit))
    return values


def timing_keeps(profile: Profile, role: str, clf: SentimentClassifier) -> tuple[dict, dict]:
    """The rule's keep-sets at every ``prune.timing_sparsities`` sparsity, and the same with every layer's width rounded
    to ``scores.round_to`` by the rule's own order (``speed_study.rounded_keeps``): what 04/05 time and price."""
    saved, layers = inputs(profile, role), clf.family.layers(clf.body)
    widths = ffn_widths(clf.body)
    rule = rules(profile, role, len(layers))[0]
    _, one_sided = rule.thresholds(saved["layer_similarity"])
    priority = speed_study.rule_priority(saved["similarity"], one_sided)
    keeps = {t: scaled_rule(rule, saved, widths, t)[0] for t in profile.prune.timing_sparsities}
    return keeps, {t: speed_study.rounded_keeps(k, widths, profile.scores.round_to, priority) for t, k in keeps.items()}


def rounding_cost(store: Store, data, keeps: dict, rounded: dict, margin: float) -> pd.DataFrame:
    """What rounding the widths costs in accuracy: the rule at rounded widths minus the rule at its own widths, paired
    on the same reviews, simultaneous across the timed sparsities, with its verdict."""
    level = stats.family_level(len(keeps))
    widths = ffn_widths(store.clf.body)
    family = [{"sparsity": t, "rounded_fraction": pruning.pruned_fraction(rounded[t], widths)}
              | stats.matched_pairs(store.run(f"{RULE} {t:.0%} widths rounded", "test", data, rounded[t]).correct,
                                    store.run(f"{RULE} {t:.0%}", "test", data, keeps[t]).correct, level)
              for t in keeps]
    return pd.DataFrame(stats.family(family, margin))


@torch.no_grad()
def save_pruned(profile: Profile, role: str, clf: SentimentClassifier, tokenizer, data,
                sparsity: float) -> pd.DataFrame:
    """Remove ``sparsity`` of the neurons by the paper rule, save, load back with one call; compare size and logits."""
    pruned = pruning.pruned_copy(clf, timing_keeps(profile, role, clf)[0][sparsity])
    folder = artifact(profile.name, f"pruned/{role}-p{round(100 * sparsity)}")
    if folder.exists():
        shutil.rmtree(folder)
    save_classifier(pruned, tokenizer, folder, {"profile": profile.name, "role": role, "pruned_fraction": sparsity})
    loaded, _, _ = load_classifier(folder)
    sample = list(range(min(16, len(data.ids))))
    batch = data.batch(sample, tokenizer.pad_token_id)
    same = torch.equal(loaded(**batch), pruned(**batch))
    dense_size = footprint(clf, checkpoint_dir(profile, role))
    pruned_size = footprint(loaded, folder)
    return pd.DataFrame({"dense": dense_size, f"removed {sparsity:.0%}": pruned_size}).T.assign(
        reloaded_logits_identical=[None, same])
