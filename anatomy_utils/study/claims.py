"""The claims ledger (notebook 08): what each of the paper's claims came to, for each model, from stored outputs only.

Every row is one claim for one model, judged by one interval (95%, the level stated beside it) and the verdict read off
that same interval (``stats.verdict``): ``equivalent`` when it lies within the stated margin of the null (read first),
else ``confirmed`` / ``refuted`` when it excludes the null on the claimed side or the other, ``inconclusive`` otherwise
(with the minimum detectable effect at 80% power and the n that would resolve the observed effect), or ``not testable``
with the reason.
Nothing here loads a model: the inputs are what 01-06 wrote under ``figures/<profile>/``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import anatomy
from .. import stats
from ..base import keys, summary
from ..core.timing import TOLERANCE
from ..base.profiles import Profile
from ..base.profiles import unit as profile_unit
from .prune_study import GRID, RANDOM, RULE, random_name, rules
from .score_study import variant
from ..base.runtime import FIGURES

# The paper's own figures (sections in brackets), quoted in the ledger beside our estimates.
PAPER = {
    "finetune_accuracy": "§5.3: BERT 86.2%, GPT-2 84.9% on IMDB",
    "late_decision": "§5.1: BERT's cosine surges after layer 8 of 12; GPT-2's shoots to 1 at the last layer",
    "sparse_neurons": "§5.2: few neurons above 0.35, under 5% of any layer",
    "neurons_by_depth": "§5.2: BERT's counts fall with depth; GPT-2's neurons appear only in the last layers",
    "same_neurons": "§3.3: the same neurons light up for every input",
    "high_cosine_neurons_matter": "implicit in the rule: the neurons it protects carry the decision",
    "rule_keeps_accuracy": "§5.3: 85.2% -> 85.1% at 30% pruned (78% at 70%)",
    "rule_beats_random": "§5.3: random pruning falls to 58.2% at 50%; the rule 'significantly beats' it",
    "lower_layers_raise_accuracy": "§5.3 (GPT-2): pruning lower layers too, accuracy 'went up rather than down'",
    "zeroing_speeds_up": "§5.3: 13.71 s -> 10.3 s per 1,000 reviews after zeroing 10% (1.33x)",
    "best_score_keeps_accuracy": "beyond the paper: 06's chosen score at 50% on unseen test reviews",
    "refit_keeps_accuracy": "beyond the paper: 06's best refit (least squares on what is left) at 70% on "
                            "unseen reviews",
    "removal_speeds_up": "beyond the paper: physically removed neurons, measured against the FLOP ceiling",
}
# The paper's points drawn in Figures 4/5 (BERT only; it gives no GPT-2 accuracies): (sparsity, accuracy, what).
ROLES = ("encoder", "decoder")
VERDICTS = ("confirmed", "refuted", "equivalent", "inconclusive", "not testable")
# What a verdict means for the claim. Every claim judged with a margin claims a difference (a speed-up, a gain, a
# loss that matters), so an interval inside the margin ("equivalent": no difference larger than it)
# says it does not hold.
OUTCOMES = {"confirmed": "holds", "refuted": "does not hold", "equivalent": "does not hold",
            "inconclusive": "undecided", "not testable": "not tested"}


class LedgerInputsMissing(FileNotFoundError):
    """A stored output the ledger reads is not there: the notebook that writes it has not run for this profile."""


@dataclass
class Outputs:
    """What 01-06 stored for one profile."""

    profile: Profile
    values: dict
    predictions: pd.DataFrame
    folder: Path | None = None  # where the tables are: figures/<profile>/ unless given (a seed's, the confirmation's)
    split: str = "test"  # the split of the stored predictions the rows compare on
    levels: dict | None = None  # "<claim>.<role>" -> the level its interval is read at (the confirmation's Holm)

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def need(self, key: str, notebook: str):
        if key not in self.values:
            raise LedgerInputsMissing(f"{key} is not in figures/{self.profile.name}/summary.json: run {notebook} "
                                      f"(`make PROFILE={self.profile.name}`) first.")
        return self.values[key]

    def correct(self, role: str, variant: str, split: str | None = None) -> np.ndarray:
        """0/1 correctness of a stored variant, in review order (on ``split``, by default the outputs' own)."""
        split = split or self.split
        rows = self.predictions[(self.predictions["role"] == role) & (self.predictions["variant"] == variant)
                                & (self.predictions["split"] == split)]
        rows = rows.drop_duplicates("review").sort_values("review")  # 04 and 06 both store "dense" on the same reviews
        if rows.empty:
            raise LedgerInputsMissing(f"No stored predictions of {role} {variant!r} ({split}) for profile "
                                      f"{self.profile.name!r}: run 04-06 (`make PROFILE={self.profile.name}`).")
        return ((rows["logit"].to_numpy() > 0) == rows["label"].to_numpy()).astype(float)

    def table(self, name: str, notebook: str) -> pd.DataFrame:
        path = (self.folder or FIGURES / self.profile.name) / name
        if not path.exists():
            raise LedgerInputsMissing(f"{path} is missing: run {notebook} (`make PROFILE={self.profile.name}`) first.")
        return pd.read_csv(path)


def load(profile: Profile) -> Outputs:
    """The stored outputs of ``profile``; a clear one-line error names the notebook to run when something is missing."""
    path = FIGURES / profile.name / "predictions.csv.gz"
    if not summary.path(profile.name).exists() or not path.exists():
        raise LedgerInputsMissing(f"No stored results for profile {profile.name!r}: run `make PROFILE={profile.name}` "
                                  f"(notebooks 01-06) before the claims ledger.")
    return Outputs(profile, summary.read(profile.name), pd.read_csv(path, dtype={"notebook": str}))


# One multiplicity rule, fixed before the numbers: the paper's pruning claims are the primary family, judged together
# at the Bonferroni level (their intervals hold simultaneously); every other row is secondary,
# judged at LEVEL on its own.
PRIMARY = (("rule_keeps_accuracy", "encoder"), ("rule_keeps_accuracy", "decoder"), ("rule_beats_random", "encoder"),
           ("rule_beats_random", "decoder"), ("lower_layers_raise_accuracy", "decoder"))
PRIMARY_LEVEL = stats.family_level(len(PRIMARY))
MULTIPLICITY = (f"Primary family: the paper's pruning claims ({len(PRIMARY)} rows: rule_keeps_accuracy and "
                f"rule_beats_random for both models, lower_layers_raise_accuracy for the decoder), Bonferroni, each "
                f"interval at {100 * PRIMARY_LEVEL:.4g}% so that all {len(PRIMARY)} hold together at "
                f"{100 * stats.LEVEL:.0f}%. Every other row is secondary: its own {100 * stats.LEVEL:.0f}% interval, "
                f"read as one finding among several. A row whose n was raised after an earlier run had looked at "
                f"it (`claims.looks` of the profile lists those looks) is a group-sequential design: its last look is "
                f"read at the level that keeps the error of all its looks at the rule's (Lan-DeMets spending of "
                f"O'Brien-Fleming type), each earlier look placed at its share of the last look's information "
                f"(reviews; with random masks, the inverse of the variance from the masks' and reviews' components).")


def level(claim: str, role: str, out: Outputs | None = None) -> float:
    """The level of a row's interval: the one ``out`` was given (the confirmation's Holm step), else the pilot's
    multiplicity rule's."""
    if out is not None and out.levels and f"{claim}.{role}" in out.levels:
        return out.levels[f"{claim}.{role}"]
    return PRIMARY_LEVEL if (claim, role) in PRIMARY else stats.LEVEL


def _looked(out: Outputs, claim: str, role: str, compute) -> dict:
    """``compute(level)`` (a comparison at that level) at the row's level: the multiplicity rule's, or for a row with
    earlier looks (``claims.looks``) the last look's group-sequential level (``stats.sequential_level``)."""
    found = compute(level(claim, role, out))
    earlier = (out.profile.claims.looks or {}).get(f"{claim}.{role}")
    if not earlier:
        return found
    n = found["n"]
    if max(earlier) >= n:
        raise ValueError(f"{out.profile.name}.claims.looks.{claim}.{role}: an earlier look at n = {max(earlier)} "
                         f"is not before this one (n = {n}).")
    if found.get("mask_var") is not None:  # two-level: the masks' share of the variance does not shrink with reviews
        variance = lambda k: found["mask_var"] / found["masks"] + found["review_var"] / k  # noqa: E731
        fractions = [variance(n) / variance(k) for k in sorted(earlier)]
    else:
        fractions = [k / n for k in sorted(earlier)]
    return compute(stats.sequential_level(level(claim, role, out), fractions)) | {"looks": sorted(earlier),
                                                                             "fractions": fractions}


def why(row: dict) -> str:
    """Why an inconclusive row is undecided: what its interval contains, and what it can still state."""
    number = lambda v: _number(row["claim"], v)  # noqa: E731
    text = f"the interval [{number(row['ci_low'])}, {number(row['ci_high'])}] contains the null {number(row['null'])}"
    if row.get("margin") is not None and row["margin"] == row["margin"]:  # a table's missing margin is NaN
        text += f" and reaches beyond its margin of +-{number(row['margin']).lstrip('+')}"
    if row.get("mask_var") is not None and row["mask_var"] + row["review_var"] > 0:
        masks, reviews = row["mask_var"] / row["masks"], row["review_var"] / row["n"]
        text += (f"; the spread between its {row['masks']} masks is {masks / (masks + reviews):.0%} of the variance "
                 f"(more reviews shrink only the rest)")
    if row.get("power") is not None:
        text += (f"; the registered design had power {row['power']:.2f} to decide it at its pre-stated alternative "
                 f"{_number(row['claim'], row['alternative'])}")
    return text


def _row(claim: str, role: str, comparison: dict | None, null=None, margin=None, direction="+", evidence="",
         reason: str = "", method: str = "") -> dict:
    base = {"claim": claim, "role": role, "paper": PAPER[claim], "evidence": evidence, "method": method}
    if comparison is None:
        return base | {"verdict": "not testable", "reason": reason}
    if comparison.get("looks"):
        base["method"] += (f"; the last of {len(comparison['looks']) + 1} looks (earlier at n = "
                           f"{', '.join(map(str, comparison['looks']))}; information "
                           f"{', '.join(f'{f:.2f}' for f in comparison['fractions'])}), read at the O'Brien-Fleming "
                           f"level")
    judged = stats.judge(comparison, null, margin, direction)
    judged["exact"] = bool(comparison.get("exact", False))
    if judged["verdict"] == "inconclusive":
        judged["why"] = why(base | judged | {"direction": direction})
    return base | judged | {"direction": direction, "reason": reason}


def finetune_accuracy(out: Outputs, role: str) -> dict:
    """Test accuracy against the published reference, non-inferiority: at least the reference minus the margin."""
    n = int(out.need(keys.data("test"), "01_finetune"))
    acc = out.need(keys.finetune(role, "test_accuracy"), "01_finetune")
    correct = np.r_[np.ones(round(acc * n)), np.zeros(n - round(acc * n))]
    reference, margin = out.need(keys.reference(role), "01_finetune"), out.profile.claims.accuracy_margin
    found = _looked(out, "finetune_accuracy", role, lambda lv: stats.accuracy_vs(correct, reference, lv))
    return _row("finetune_accuracy", role, found, -margin, None, "+",
                "01_finetune, finetune_confusion_test.png",
                f"test accuracy minus the reference {reference:.3f} ({out.get(keys.reference('source'))}); null: a "
                f"shortfall of {100 * margin:.0f} pt",
                "Wilson score interval of the test accuracy, minus the fixed reference")


def _lens(out: Outputs, role: str) -> tuple[np.ndarray, np.ndarray]:
    lens = out.table(f"lens_{role}.csv.gz", "02_layer_anatomy")
    return (lens.pivot(index="review", columns="layer", values="logit").to_numpy(),
            lens.pivot(index="review", columns="layer", values="cosine").to_numpy())


def late_decision(out: Outputs, role: str) -> dict:
    """"The decision comes late": at the paper's depth (layer 8 of 12, ``claims.late_depth``) and every later layer
    but the last, the lens does not yet carry the decision. Statistic: the lowest AUC of the lens's logit against the
    final prediction over those layers, against ``claims.decision_auc``; below it, the decision layer
    (``anatomy.decision_layer``) lies past the paper's depth. Interval: ``stats.lowest_auc`` (DeLong per layer,
    widened where layers are tied for the lowest; a percentile bootstrap of the minimum falls short there)."""
    logits, cosine = _lens(out, role)
    layers, criterion = logits.shape[1] - 1, out.profile.claims.decision_auc
    first = math.ceil(round(out.profile.claims.late_depth * layers, 1))  # 0.667 of 6 layers: layer 4, as 8 of 12
    if first >= layers:
        return _row("late_decision", role, None, reason=f"{layers} layers leave no layer between the paper's depth and "
                                                        f"the last")
    final = logits[:, -1] > 0
    if final.all() or not final.any():
        return _row("late_decision", role, None, reason="the model's final predictions are all one class")
    found = _looked(out, "late_decision", role, lambda lv: stats.lowest_auc(logits[:, first:layers], final, lv))
    decision = anatomy.decision_layer(logits, criterion)
    return _row("late_decision", role, found, criterion, None, "-", "02_layer_anatomy, lens_decision_layer.png",
                f"lowest lens AUC against the final prediction at layers {first}-{layers - 1} of {layers} (from the "
                f"paper's depth {out.profile.claims.late_depth:.0%} on); decision layer (AUC stays >= {criterion}): "
                f"{decision} of {layers}; the paper's own measure (Figure 1), the mean cosine to the final state, is "
                f"{cosine[:, first].mean():.2f} at layer {first}",
                "lowest per-layer AUC with DeLong intervals, the upper bound widened for layers tied for the lowest")


def _sets(out: Outputs, role: str, column: str) -> tuple[list, int, int]:
    """03's neuron sets over the lens reviews: ``[review][layer] -> ids`` of ``column`` ("above" the threshold, or
    "top" k), the layer width and the number of layers."""
    table = out.table(f"neuron_sets_{role}.csv.gz", "03_ffn_neurons").sort_values(["review", "layer"])
    reviews, layers = table["review"].nunique(), table["layer"].nunique()
    return (anatomy.parse_sets(table[column], reviews, layers),
            int(out.need(keys.anatomy(role, "ffn_width"), "03_ffn_neurons")),
            layers)


def _counts(sets: list) -> np.ndarray:
    return np.array([[len(layer) for layer in review] for review in sets], dtype=float)  # (reviews, layers)


def sparse_neurons(out: Outputs, role: str) -> dict:
    """Every layer keeps under 5% of its neurons above the threshold: per layer the share of (review, neuron) pairs
    above it, with Clopper-Pearson intervals; intersection-union, so the claim holds when every layer's upper bound
    lies below 5% (no multiplicity correction needed)."""
    sets, width, layers = _sets(out, role, "above")
    counts = _counts(sets).sum(axis=0)
    trials = len(sets) * width
    bounds = [stats.clopper_pearson(c, trials) for c in counts]
    widest = int(np.argmax(counts))
    found = {"delta": counts[widest] / trials, "ci_low": bounds[widest][0], "ci_high": max(b[1] for b in bounds),
             "n": len(sets), "level": stats.LEVEL, "exact": True}
    return _row("sparse_neurons", role, found, 0.05, None, "-", "03_ffn_neurons, neuron_sets_<role>.csv.gz",
                f"largest share of a layer above the threshold (layer {widest}), over {len(sets)} reviews",
                "Clopper-Pearson per layer over review x neuron pairs, intersection-union over layers (exact)")


def neurons_by_depth(out: Outputs, role: str) -> dict:
    """Where the neurons above the threshold sit (encoder: fewer with depth; decoder: in the last layers), reported as
    counts, not judged: they are a handful of neurons fixed by the weights, nearly the same for every review, and a
    permutation over layers cannot come out both ways (all of them in one layer gives p = 1 / layers whatever the
    data, so a concentration could never be confirmed)."""
    sets, _, layers = _sets(out, role, "above")
    counts = _counts(sets).mean(axis=0)
    where = ", ".join(f"layer {layer}: {count:.2f}" for layer, count in enumerate(counts) if count > 0) or "none"
    return _row("neurons_by_depth", role, None, evidence="03_ffn_neurons, figure2_3_neuron_counts.png",
                reason=f"descriptive, not judged (no instrument here can come out both ways); mean count above the "
                       f"threshold per layer over {len(sets)} reviews, non-zero layers of {layers}: {where}")


def same_neurons(out: Outputs, role: str) -> dict:
    """The same neurons for every input: the mean Jaccard of two reviews' top-k sets (k = ``anatomy.top_k_fraction``
    of a layer, 03), over all pairs of the lens reviews, above ``claims.same_neurons_jaccard``; U-statistic interval.
    The sets above the threshold are reported beside it (they are a handful of neurons fixed by the weights)."""
    top, width, layers = _sets(out, role, "top")
    above, _, _ = _sets(out, role, "above")
    k = len(top[0][0])
    found = stats.pair_mean(stats.jaccard_matrix(top, range(layers)))
    threshold = stats.pair_mean(stats.jaccard_matrix(above, range(layers))) if _counts(above).sum() else None
    what = (f"mean Jaccard of two reviews' top-{k} sets per layer, over {found['n']} reviews; random sets of that size "
            f"overlap {stats.chance_jaccard(k, k, width):.3f}")
    if threshold is not None and np.isfinite(threshold["delta"]):
        what += (f"; the sets above the threshold overlap {threshold['delta']:.2f} [{threshold['ci_low']:.2f}, "
                 f"{threshold['ci_high']:.2f}] where one is non-empty")
    return _row("same_neurons", role, found, out.profile.claims.same_neurons_jaccard, None, "+",
                "03_ffn_neurons, section3_3_jaccard_<role>.png", what,
                "U-statistic normal interval of the mean over pairs of reviews")


def high_cosine_neurons_matter(out: Outputs, role: str) -> dict:
    """Masking the top 1% by cosine costs more accuracy than masking as many random neurons (the distribution of
    03's random masks: two-level bootstrap over masks and reviews). Secondary, stated beforehand: the same for the
    logit margin towards the true label."""
    table = out.table(f"ablation_{role}.csv.gz", "03_ffn_neurons").sort_values("review")
    variants = {v: g for v, g in table.groupby("variant")}
    masks = [v for v in variants if v.startswith(anatomy.RANDOM_MASK.format(""))]
    correct = lambda g: ((g["logit"].to_numpy() > 0) == g["label"].to_numpy()).astype(float)  # noqa: E731
    margin = lambda g: (2 * g["label"].to_numpy() - 1) * g["logit"].to_numpy()  # noqa: E731
    found = _looked(out, "high_cosine_neurons_matter", role, lambda lv: stats.compare(
        correct(variants["top_cosine"]), np.stack([correct(variants[m]) for m in masks]), lv))
    signed = stats.compare(margin(variants["top_cosine"]), np.stack([margin(variants[m]) for m in masks]))
    return _row("high_cosine_neurons_matter", role, found, 0.0, out.profile.claims.accuracy_margin, "-",
                "03_ffn_neurons (masking check)",
                f"top-1% by cosine masked minus {len(masks)} random masks of as many neurons; secondary: the logit "
                f"margin towards the true label changes by {signed['delta']:+.3f} [{signed['ci_low']:+.3f}, "
                f"{signed['ci_high']:+.3f}]", "two-level bootstrap over masks and reviews")


def rule_keeps_accuracy(out: Outputs, role: str, sparsity: float = 0.3) -> dict:
    """At 30% pruned, the rule loses less than the margin against dense (non-inferiority, paired)."""
    if sparsity not in out.profile.prune.sparsities:
        return _row("rule_keeps_accuracy", role, None, reason=f"{sparsity:.0%} is not a sweep sparsity of this profile")
    found = stats.matched_pairs(out.correct(role, f"{RULE} {sparsity:.0%}"), out.correct(role, "dense"),
                                level("rule_keeps_accuracy", role, out))
    margin = out.profile.claims.accuracy_margin
    return _row("rule_keeps_accuracy", role, found, -margin, None, "+", f"04/05, figure{4 if role == 'encoder' else 5}"
                "_accuracy.png", f"rule minus dense at {sparsity:.0%}; null: a loss of {100 * margin:.0f} pt",
                f"Tango score interval, paired 0/1 ({found['discordant']} discordant)")


def rule_beats_random(out: Outputs, role: str, sparsity: float = 0.5) -> dict:
    """At 50% pruned, the rule beats the distribution of random masks (two-level bootstrap over masks and reviews)."""
    masks = [n for n in out.predictions.loc[out.predictions["role"] == role, "variant"].unique()
             if n.startswith(f"{RANDOM} {sparsity:.0%} mask ")]
    if not masks:
        return _row("rule_beats_random", role, None, reason=f"no random masks at {sparsity:.0%}")
    outcomes = np.stack([out.correct(role, random_name(sparsity, m)) for m in range(len(masks))])
    rule = out.correct(role, f"{RULE} {sparsity:.0%}")[: outcomes.shape[1]]
    found = _looked(out, "rule_beats_random", role, lambda lv: stats.two_level(rule, outcomes, lv))
    return _row("rule_beats_random", role, found, 0.0, out.profile.claims.accuracy_margin, "+",
                f"04/05, figure{4 if role == 'encoder' else 5}_accuracy.png",
                f"rule minus {len(masks)} random masks at {sparsity:.0%}; "
                f"the rule beats {found['beats_share']:.0%} of them",
                "two-level bootstrap over masks and reviews")


def grid_name(rule) -> str:
    """A grid row's variant name in the stored predictions."""
    return f"{GRID}: alpha={rule.alpha} beta={rule.beta} focus={list(rule.focusing)}"


def lower_layers_pair(profile: Profile, role: str, layers: int) -> tuple | None:
    """The grid rows the claim compares: the last (it also focuses lower layers) and the first at its alpha that
    focuses fewer layers; None where the grid has no such pair."""
    grid = rules(profile, role, layers)
    narrow = [r for r in grid if r.alpha == grid[-1].alpha and len(r.focusing) < len(grid[-1].focusing)]
    return (grid[-1], narrow[0]) if narrow else None


def lower_layers_raise_accuracy(out: Outputs, role: str) -> dict:
    """Decoder: the grid row that also focuses lower layers against the one that focuses the last layer only, at the
    same alpha (Figure 5a), paired on the grid's reviews."""
    if role == "encoder":
        return _row("lower_layers_raise_accuracy", role, None, reason="the paper states it for GPT-2 only")
    pair = lower_layers_pair(out.profile, role, int(out.need(keys.anatomy(role, "layers"), "03_ffn_neurons")))
    if pair is None:
        return _row("lower_layers_raise_accuracy", role, None, reason="the grid has no pair of rows to compare")
    widest, narrow = pair
    found = stats.matched_pairs(out.correct(role, grid_name(widest)), out.correct(role, grid_name(narrow)),
                                level("lower_layers_raise_accuracy", role, out))
    return _row("lower_layers_raise_accuracy", role, found, 0.0, out.profile.claims.accuracy_margin, "+",
                "05_prune_gpt2, figure5_accuracy.png (grid stars)",
                f"focusing layers {list(widest.focusing)} minus {list(narrow.focusing)} at alpha {widest.alpha}",
                f"Tango score interval, paired 0/1 ({found['discordant']} discordant)")


def _timing(out: Outputs, claim: str, role: str, key: str, what: str) -> dict:
    ratio = out.get(f"{key}_ratio")
    if ratio is None:
        return _row(claim, role, None, reason="no timing recorded (run 04/05)")
    if out.get(keys.timing(role, "gate_passed")) is False:
        aa = [out.get(keys.timing(role, name)) for name in ("aa_ratio", "aa_ci_low", "aa_ci_high")]
        return _row(claim, role, None, reason=f"the A/A timing check failed (dense/dense {aa[0]:.3f} "
                                              f"[{aa[1]:.3f}, {aa[2]:.3f}]): "
                                              f"timing noise exceeds tolerance")
    found = {"delta": ratio, "ci_low": out.get(f"{key}_ci_low"), "ci_high": out.get(f"{key}_ci_high"),
             "n": out.profile.prune.timing_rounds, "level": stats.LEVEL}
    return _row(claim, role, found, 1.0, TOLERANCE, "+",
                f"04/05, figure{4 if role == 'encoder' else 5}-1_inference_time.png", what,
                "percentile bootstrap over interleaved timing rounds of the median speed-up (04/05)")


def zeroing_speeds_up(out: Outputs, role: str) -> dict:
    return _timing(out, "zeroing_speeds_up", role, keys.timing(role, "zeroed"),
                   "dense time / zeroed time (same FLOPs: no speed-up expected)")


def removal_speeds_up(out: Outputs, role: str, sparsity: float = 0.5) -> dict:
    key = keys.timing(role, keys.percent(sparsity))
    ceiling = out.get(f"{key}.ceiling_flops")
    return _timing(out, "removal_speeds_up", role, f"{key}.removed",
                   f"dense time / removed time at {sparsity:.0%}"
                   + (f"; FLOP ceiling {ceiling:.2f}x" if ceiling else ""))


def _unseen(out: Outputs, claim: str, role: str, key: str, what: str, sparsity: float, split: str | None) -> dict:
    """The pruned model recorded under ``key`` (its score and setting) against dense on ``split`` (06's confirmation
    reviews), from their stored predictions: it loses less than the accuracy margin."""
    if out.get(f"{key}.setting") is None or split is None:
        return _row(claim, role, None, reason="06 recorded no confirmation on unseen reviews (the profile sets none, "
                                              "or 06 has not run on this code)")
    pruned = out.correct(role, variant(out.get(f"{key}.score"), 0, sparsity, out.get(f"{key}.setting")), split)
    dense = out.correct(role, "dense", split)
    found = _looked(out, claim, role, lambda lv: stats.matched_pairs(pruned, dense, lv))
    margin = out.profile.claims.accuracy_margin
    return _row(claim, role, found, -margin, None, "+", "06_importance_scores (confirmation)",
                f"{what} at {sparsity:.0%} minus dense; null: a loss of {100 * margin:.0f} pt",
                f"Tango score interval, paired 0/1 ({found['discordant']} discordant)")


def best_score_keeps_accuracy(out: Outputs, role: str) -> dict:
    """06's chosen score at the selection budget, on test reviews 02-06 never read: it loses less than the margin."""
    sparsity = out.profile.scores.select_sparsity
    key = keys.scores(role, "confirm", keys.percent(sparsity))
    return _unseen(out, "best_score_keeps_accuracy", role, key, str(out.get(f"{key}.score")), sparsity,
                   out.get(f"{key}.split"))


def refit_keeps_accuracy(out: Outputs, role: str) -> dict:
    """06's best refit setting at the largest of ``scores.refit_sparsities`` (at the selection budget it is often the
    best score's own row), on the same unseen reviews: it loses less than the margin."""
    sparsity = max(out.profile.scores.refit_sparsities)
    key = keys.scores(role, "refit", keys.percent(sparsity))
    return _unseen(out, "refit_keeps_accuracy", role, key, f"{out.get(f'{key}.score')} refitted", sparsity,
                   "confirm")


CLAIMS = {f.__name__: f for f in (finetune_accuracy, late_decision, sparse_neurons, neurons_by_depth, same_neurons,
                                  high_cosine_neurons_matter, rule_keeps_accuracy, rule_beats_random,
                                  lower_layers_raise_accuracy, zeroing_speeds_up, best_score_keeps_accuracy,
                                  refit_keeps_accuracy, removal_speeds_up)}
ACCURACY_CLAIMS = {"finetune_accuracy", "high_cosine_neurons_matter", "rule_keeps_accuracy", "rule_beats_random",
                   "lower_layers_raise_accuracy", "best_score_keeps_accuracy", "refit_keeps_accuracy"}  # in points


def ledger(profile: Profile) -> pd.DataFrame:
    """Every claim for both models: one row each, with its verdict, effect, interval, null, margin, n and sentence."""
    unknown = sorted(set(profile.claims.looks or {}) - {f"{claim}.{role}" for claim in CLAIMS for role in ROLES})
    if unknown:  # a misspelt row would otherwise be read at the single-look level without a word
        raise ValueError(f"{profile.name}.claims.looks: {unknown} name no row of the ledger; a row is "
                         f"<claim>.<role>, with role encoder or decoder and claim one of {sorted(CLAIMS)}.")
    out = load(profile)
    return finish(pd.DataFrame([claim(out, role) for claim in CLAIMS.values() for role in ROLES]), out)


def finish(table: pd.DataFrame, out: Outputs) -> pd.DataFrame:
    """The judged rows with what they mean for the claim, the seed study's word on them and their sentences."""
    if "power" in table:  # registered rows: why an undecided one is undecided includes the design's power
        table["why"] = [why(row) if row["verdict"] == "inconclusive" else None for row in table.to_dict("records")]
    table["outcome"] = table["verdict"].map(OUTCOMES)
    table["seeds"] = [seeds_text(out.values, row["claim"], row["role"]) for _, row in table.iterrows()]
    table["sentence"] = [sentence(row, out.profile) for _, row in table.iterrows()]
    return table


def seeds_text(values: dict, claim: str, role: str) -> str | None:
    """What the seed study (07) found for a row: ``4 seeds: 3/4 confirmed, 1/4 inconclusive; pooled +1.2 pt [-0.4,
    +2.8] -> inconclusive``; None where the profile ran one seed or the claim was not re-judged."""
    key = keys.seeds(claim, role)
    if values.get(f"{key}.stable") is None:
        return None
    text = f"{values[f'{key}.n_seeds']} seeds: {values[f'{key}.stable']}"
    if values.get(f"{key}.pooled_effect") is not None:
        text += (f"; pooled {_number(claim, values[f'{key}.pooled_effect'])} "
                 f"[{_number(claim, values[f'{key}.pooled_ci_low'])}, "
                 f"{_number(claim, values[f'{key}.pooled_ci_high'])}] -> {values[f'{key}.pooled_verdict']}")
    return text


def _number(claim: str, value: float) -> str:
    return f"{100 * value:+.1f} pt" if claim in ACCURACY_CLAIMS else f"{value:.3f}"


def interval_text(row) -> str:
    if row["verdict"] == "not testable":
        return "–"
    return (f"{_number(row['claim'], row['delta'])} [{_number(row['claim'], row['ci_low'])}, "
            f"{_number(row['claim'], row['ci_high'])}]")


def sentence(row, profile: Profile) -> str:
    """One sentence per claim and model, from its own numbers."""
    unit = profile_unit(profile)
    if row["verdict"] == "not testable":
        return f"{row['role']}: not testable: {row['reason']}."
    text = (f"{row['role']}: {row['reason']}: {interval_text(row)} ({100 * row['level']:.4g}% interval"
            f"{', exact' if row.get('exact') else ''}, n = {int(row['n'])}"
            f"{' ' + unit if row['claim'] in ACCURACY_CLAIMS else ''}; {row['method']}), judged against "
            f"{_number(row['claim'], row['null'])}")
    if pd.notna(row.get("margin")) and row.get("margin") is not None:
        text += f" (margin +-{_number(row['claim'], row['margin']).lstrip('+')})"
    text += f" -> {row['verdict']} (the claim: {row['outcome']})"
    if pd.notna(row.get("bound_text")):
        text += f"; the effect is {row['bound_text']}"
    if row["verdict"] == "inconclusive":
        text += (f"; detectable at 80% power: {_number(row['claim'], row['mde']).lstrip('+')}; "
                 f"undecided because {row['why']}")
    elif pd.notna(row.get("power")):
        text += (f"; registered power {row['power']:.2f} at the pre-stated alternative "
                 f"{_number(row['claim'], row['alternative'])}")
    if row.get("seeds"):
        text += f"; across fine-tuning seeds (07): {row['seeds']}"
    return text + "."


def summary_values(table: pd.DataFrame, area=keys.claim) -> dict:
    """``<area>.<id>.<role>.{verdict, outcome, effect, ci_low, ci_high, null, margin, level, n, mde, why, method, exact,
    primary, paper, evidence, sentence}`` and, for a registered row, ``{registered, power, alternative, family, bound,
    bound_text}``; ``area`` is ``keys.claim`` (the confirmation's ledger) or ``keys.pilot_claim``."""
    values = {}
    for _, row in table.iterrows():
        key = area(row["claim"], row["role"])
        values |= {f"{key}.verdict": row["verdict"], f"{key}.outcome": row["outcome"], f"{key}.paper": row["paper"],
                   f"{key}.evidence": row["evidence"], f"{key}.sentence": row["sentence"],
                   f"{key}.method": row["method"]}
        if row["verdict"] == "not testable":
            continue
        values |= {f"{key}.effect": row["delta"], f"{key}.ci_low": row["ci_low"], f"{key}.ci_high": row["ci_high"],
                   f"{key}.null": row["null"], f"{key}.level": row["level"], f"{key}.n": int(row["n"]),
                   f"{key}.exact": bool(row["exact"]), f"{key}.primary": (row["claim"], row["role"]) in PRIMARY}
        for extra in ("margin", "mde", "why", "registered", "power", "alternative", "family", "bound", "bound_text"):
            if extra in row and pd.notna(row[extra]):
                values[f"{key}.{extra}"] = row[extra]
    return values


def consistent(values: dict, area=keys.claim) -> list[str]:
    """The ledger's own rule checked on a summary: equivalent iff the interval lies inside the margin; else
    confirmed/refuted iff the null lies outside the interval; inconclusive has an MDE; no decisive verdict rests on a
    zero-width interval unless the quantity is exact. Returns the violations."""
    problems = []
    rows = {k.rsplit(".", 1)[0] for k in values if k.startswith(keys.under(area())) and k.endswith(".verdict")}
    for key in sorted(rows):
        verdict = values[f"{key}.verdict"]
        if verdict == "not testable":
            continue
        low, high, null = values[f"{key}.ci_low"], values[f"{key}.ci_high"], values[f"{key}.null"]
        margin = values.get(f"{key}.margin")
        within = stats.inside(low, high, null, margin)
        outside = not within and (null < low or null > high)
        if (verdict == "equivalent") != within:
            problems.append(f"{key}: {verdict} but the interval [{low}, {high}] is {'' if within else 'not '}inside "
                            f"the margin")
        if (verdict in ("confirmed", "refuted")) != outside:
            problems.append(f"{key}: {verdict} but null {null} {'outside' if outside else 'inside'} [{low}, {high}]")
        if verdict == "inconclusive" and values.get(f"{key}.mde") is None:
            problems.append(f"{key}: inconclusive without an MDE")
        if verdict != "inconclusive" and not high > low and not values.get(f"{key}.exact"):
            problems.append(f"{key}: {verdict} on a zero-width interval that is not exact")
    return problems


def across(first: dict, second: dict, claim: str, role: str) -> str:
    """Whether two profiles give the same answer to a claim: "yes" when both verdicts are decisive and equal,
    "different" when the interval of the difference of the two effects excludes zero, "not comparable" when either
    side is inconclusive or not testable, else "different verdicts, effects not distinguishable"."""
    key = keys.claim(claim, role)
    a, b = first.get(f"{key}.verdict"), second.get(f"{key}.verdict")
    if a is None or b is None or "not testable" in (a, b):
        return "not comparable"
    decisive = {"confirmed", "refuted", "equivalent"}
    if a == b and a in decisive:
        return "yes"
    se = [(v[f"{key}.ci_high"] - v[f"{key}.ci_low"]) / (2 * stats.z_value(v[f"{key}.level"])) for v in (first, second)]
    gap = first[f"{key}.effect"] - second[f"{key}.effect"]
    half = stats.z_value(stats.LEVEL) * float(np.hypot(*se))
    if abs(gap) > half:
        return f"**different** (effects differ by {_number(claim, gap)} +- {_number(claim, half).lstrip('+')})"
    if "inconclusive" in (a, b):
        return "not comparable"
    return "different verdicts, effects not distinguishable"


def table_text(table: pd.DataFrame) -> str:
    """The ledger as a fixed-width table: claim, model, verdict, what it means for the claim, effect [interval], its
    level, null, n."""
    rows = pd.DataFrame({"claim": table["claim"], "model": table["role"], "verdict": table["verdict"],
                         "the claim": table["outcome"],
                         "effect [interval]": [interval_text(r) for _, r in table.iterrows()],
                         "level": ["–" if r["verdict"] == "not testable" else f"{100 * r['level']:.4g}%"
                                   for _, r in table.iterrows()],
                         "null": ["–" if r["verdict"] == "not testable" else _number(r["claim"], r["null"])
                                  for _, r in table.iterrows()],
                         "n": ["–" if r["verdict"] == "not testable" else int(r["n"]) for _, r in table.iterrows()]})
    if "bound_text" in table:
        rows["bound"] = table["bound_text"].fillna("–")
        rows["power"] = [f"{p:.2f}" if pd.notna(p) else "–" for p in table["power"]]
    if table["seeds"].notna().any():
        rows["across seeds"] = table["seeds"].fillna("–").str.split(";").str[0]
    return rows.to_string(index=False)


def sentences_text(table: pd.DataFrame) -> str:
    """Per claim: what the paper said, then one sentence per model."""
    blocks = []
    for claim, rows in table.groupby("claim", sort=False):
        blocks.append("\n".join([f"{claim} ({PAPER[claim]})", *[f"  {s}" for s in rows["sentence"]]]))
    return "\n\n".join(blocks)


def conclusions(table: pd.DataFrame) -> str:
    """What the claims came to, grouped by outcome: which hold, which do not (and by which verdict), which are
    undecided, and which were not tested (and why)."""
    lines = []
    for outcome in dict.fromkeys(OUTCOMES.values()):
        rows = table[table["outcome"] == outcome]
        if rows.empty:
            continue
        items = [f"{r['claim']} ({r['role']}" + {"does not hold": f", {r['verdict']}", "not tested": f": {r['reason']}"}
                 .get(outcome, "") + ")" for _, r in rows.iterrows()]
        lines.append(f"{outcome.capitalize()} ({len(rows)} of {len(table)}): " + "; ".join(items) + ".")
    return "\n".join(lines)


def ledger_values(values: dict) -> dict:
    """``values`` (a summary just read) with the study's ledger under ``claims.*``: the confirmation's rows, and the
    pilot's for the rows the confirmation does not judge (or all of them where none ran), each row's ``source``
    saying which; returns it."""
    pilot, merged = keys.under(keys.pilot_claim()), values
    rows = {k[len(pilot):].rsplit(".", 1)[0] for k in values if k.startswith(pilot) and k.endswith(".verdict")}
    for row in rows:
        confirmed = keys.claim(row)
        if f"{confirmed}.verdict" in values:
            merged[f"{confirmed}.source"] = "confirmation"
            continue
        merged.update({f"{confirmed}.{k[len(pilot + row) + 1:]}": v for k, v in list(values.items())
                       if k.startswith(f"{pilot}{row}.")} | {f"{confirmed}.source": "pilot"})
    return merged


def record(profile: str, table: pd.DataFrame) -> dict:
    """Write the pilot ledger's ``pilot.claims.*`` keys, dropping every earlier one first (a claim or field that an
    older ledger wrote and this one does not must not linger). The confirmation writes ``claims.*``."""
    forget = (keys.under(keys.pilot_claim()),)
    if keys.registration("sha256") not in summary.read(profile):  # claims.* is a confirmation's: none ran here
        forget += (keys.under(keys.claim()),)
    return summary.record(profile, summary_values(table, keys.pilot_claim), forget=forget)


def main(profile_name: str) -> int:
    """``python -m anatomy_utils.claims PROFILE``: print the ledger, or in one line what to run first."""
    from ..base.profiles import load_profile

    try:
        table = ledger(load_profile(profile_name))
    except (LedgerInputsMissing, ValueError) as error:
        print(error)
        return 2
    print(table_text(table), sentences_text(table), conclusions(table), sep="\n\n")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "default"))
