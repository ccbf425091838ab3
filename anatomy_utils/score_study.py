"""Notebook 06: importance scores compared on the same fine-tuned models, budgets and repair chosen on validation."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import importance, pruning, timing
from .classifier import Encoded, SentimentClassifier, encode, evaluate
from .data import load_splits
from .families import ffn_width
from .finetune import encoded_split
from .profiles import Profile
from .prune_study import inputs as saved_inputs
from .runtime import FIGURES

SETTINGS = {"uniform": ("uniform", False), "global": ("global", False),
            "uniform + repair": ("uniform", True), "global + repair": ("global", True)}
CONTROLS = ("mirror", "random")  # sanity controls: always "uniform", never chosen as best
CONTROL_SETTING = "uniform"


@dataclass
class Scored:
    """Every score of one model, computed once, with the seconds each took (its calibration pass included)."""

    scores: dict[str, list[np.ndarray]]  # name -> one array per seed (one for the deterministic scores)
    seconds: dict[str, float]
    mean_activation: np.ndarray  # for the bias repair


def calibration(profile: Profile, role: str, tokenizer) -> Encoded:
    """``scores.calibration_examples`` reviews drawn (seeded) from the training split, tokenized as for training."""
    train = load_splits(profile.data, profile.seed)["train"]
    rows = train.shuffle(seed=profile.seed).select(range(min(profile.scores.calibration_examples, len(train))))
    cfg = getattr(profile, role)
    return encode(tokenizer, rows["text"], rows["label"], cfg.max_tokens, cfg.truncation)


def compute(profile: Profile, role: str, clf: SentimentClassifier, tokenizer) -> Scored:
    """Run every score of ``importance.SCORES`` on the model (``random`` once per seed), timing each."""
    base = importance.ScoreInputs(clf, calibration(profile, role, tokenizer), tokenizer.pad_token_id,
                                  getattr(profile, role).eval_batch_size, saved_inputs(profile, role)["similarity"])
    scores, seconds = {}, {}
    for name, score in importance.SCORES.items():
        seeds = range(profile.scores.random_seeds) if name == "random" else [0]
        start = time.perf_counter()
        scores[name] = [score(importance.ScoreInputs(**{**vars(base), "seed": s})) for s in seeds]
        seconds[name] = (time.perf_counter() - start) / len(seeds)
    start = time.perf_counter()
    mean_activation = importance.activation_stats(base)["mean"]
    seconds["repair statistics"] = time.perf_counter() - start
    return Scored(scores, seconds, mean_activation)


def keep_set(profile: Profile, score: np.ndarray, fraction: float, setting: str, multiple: int = 1) -> dict:
    budget, _ = SETTINGS[setting]
    return importance.keep_top(score, importance.kept_counts(score, fraction, budget, profile.scores.floor, multiple))


def evaluate_pruned(profile: Profile, clf: SentimentClassifier, scored: Scored, score: np.ndarray, fraction: float,
                    setting: str, data: Encoded, pad_id: int, batch_size: int, multiple: int = 1) -> dict:
    """``evaluate`` on ``data`` of the model pruned by ``score`` under ``setting``, with the fraction actually pruned."""
    keep = keep_set(profile, score, fraction, setting, multiple)
    repair = scored.mean_activation if SETTINGS[setting][1] else None
    widths = [score.shape[1]] * score.shape[0]
    pruned = pruning.pruned_copy(clf, keep, repair)
    return evaluate(pruned, data, pad_id, batch_size) | {"pruned_fraction": pruning.pruned_fraction(keep, widths)}


def select(profile: Profile, role: str, clf: SentimentClassifier, scored: Scored, tokenizer) -> pd.DataFrame:
    """Validation accuracy and loss of every budget mode and repair at ``scores.select_at``, for every non-control
    score: one row each."""
    data = encoded_split(profile, role, tokenizer, "validation", getattr(profile.scores, f"{role}_validation_examples"))
    args = tokenizer.pad_token_id, getattr(profile, role).eval_batch_size
    rows = []
    for name, values in scored.scores.items():
        if name in CONTROLS:
            continue
        for setting in SETTINGS:
            result = evaluate_pruned(profile, clf, scored, values[0], profile.scores.select_at, setting, data, *args)
            rows.append({"score": name, "setting": setting, "accuracy": result["accuracy"], "loss": result["loss"]})
    return pd.DataFrame(rows)


def ranked(selection: pd.DataFrame) -> pd.DataFrame:
    """Best first: higher validation accuracy, then lower validation loss (a continuous tie-break: on a few reviews
    accuracies tie often), then the simpler, earlier setting."""
    return selection.sort_values(["accuracy", "loss"], ascending=[False, True], kind="stable")


def chosen_settings(selection: pd.DataFrame) -> dict[str, str]:
    """The best setting of every score on validation; the controls stay uniform."""
    top = ranked(selection).drop_duplicates("score")
    return dict(zip(top["score"], top["setting"])) | {c: CONTROL_SETTING for c in CONTROLS}


def selection_table(selection: pd.DataFrame) -> pd.DataFrame:
    """Validation "accuracy / loss" per score (rows) and setting (columns); the chosen setting is starred."""
    chosen = chosen_settings(selection)
    cells = selection.assign(cell=[f"{a:.3f} / {l:.3f}" + (" *" if chosen[n] == s else "")
                                   for n, s, a, l in selection[["score", "setting", "accuracy", "loss"]].itertuples(index=False)])
    return cells.pivot(index="score", columns="setting", values="cell")[list(SETTINGS)]


def test(profile: Profile, role: str, clf: SentimentClassifier, scored: Scored, chosen: dict[str, str], data: Encoded,
         pad_id: int, batch_size: int) -> pd.DataFrame:
    """Test accuracy of every score (every seed of ``random``) at each budget of ``scores.fractions``."""
    rows = []
    for name, values in scored.scores.items():
        for seed, score in enumerate(values):
            for fraction in profile.scores.fractions:
                result = evaluate_pruned(profile, clf, scored, score, fraction, chosen[name], data, pad_id, batch_size)
                rows.append({"score": name, "seed": seed, "budget": fraction, "setting": chosen[name],
                             "pruned_fraction": result["pruned_fraction"], "accuracy": result["accuracy"]})
    return pd.DataFrame(rows)


def budget_table(results: pd.DataFrame, dense: float) -> pd.DataFrame:
    """Accuracy per score and budget (mean over seeds; std for ``random``) and the drop from the dense model."""
    table = results.groupby(["score", "budget"]).agg(setting=("setting", "first"), accuracy=("accuracy", "mean"),
                                                    std=("accuracy", "std")).reset_index()
    return table.assign(drop=dense - table["accuracy"]).round(4)


def best(selection: pd.DataFrame) -> str:
    """The non-control score whose chosen setting ranks first on validation at the selection budget."""
    return ranked(selection)["score"].iloc[0]


def agreement(profile: Profile, scored: Scored, fraction: float) -> pd.DataFrame:
    """Jaccard overlap of the neurons kept by each pair of scores at ``fraction`` (uniform budget)."""
    kept = {name: keep_set(profile, values[0], fraction, "uniform") for name, values in scored.scores.items()}
    sets = {name: {(l, int(i)) for l, idx in keep.items() for i in idx} for name, keep in kept.items()}
    return pd.DataFrame({a: {b: len(sa & sb) / len(sa | sb) for b, sb in sets.items()} for a, sa in sets.items()}).round(3)


def emptied_layers(profile: Profile, scored: Scored, fraction: float) -> pd.DataFrame:
    """Fraction of each layer's neurons a global budget of ``fraction`` removes, per score: where each score cuts."""
    return pd.DataFrame({name: 1 - importance.kept_counts(values[0], fraction, "global", profile.scores.floor)
                         / values[0].shape[1] for name, values in scored.scores.items()}).T.rename_axis("score")


@torch.no_grad()
def rounding(profile: Profile, role: str, clf: SentimentClassifier, scored: Scored, name: str, repair: bool,
             data: Encoded, pad_id: int, batch_size: int, tokenizer) -> pd.DataFrame:
    """A global budget (uneven widths) at the selection budget, widths exact or rounded to ``scores.round_to``:
    accuracy, measured speed-up and FLOP ceiling."""
    score, fraction, multiple = scored.scores[name][0], profile.scores.select_at, profile.scores.round_to
    setting = "global + repair" if repair else "global"
    mean_activation = scored.mean_activation if repair else None
    timed = encoded_split(profile, role, tokenizer, "test", max_tokens=profile.prune.timing_tokens)
    batch = timing.fixed_batch(timed, profile.scores.timing_batch, profile.prune.timing_tokens)
    variants, rows = {"dense": lambda: clf(**batch)}, {}
    for label, m in (("exact widths", 1), (f"widths rounded to {multiple}", multiple)):
        pruned = pruning.pruned_copy(clf, keep_set(profile, score, fraction, setting, m), mean_activation)
        variants[label] = lambda pruned=pruned: pruned(**batch)
        widths = [ffn_width(layer, clf.family) for layer in pruned.family.layers(pruned.body)]
        rows[label] = {"widths": f"{min(widths)}-{max(widths)}",
                       "pruned_fraction": 1 - sum(widths) / score.size,
                       "accuracy": evaluate(pruned, data, pad_id, batch_size)["accuracy"],
                       "ceiling": timing.speedup_ceiling(clf.body, pruned.body, profile.prune.timing_tokens)}
    medians = timing.interleaved_medians(variants, profile.prune.timing_repeats)
    table = pd.DataFrame(rows).T
    table["speedup"] = [medians["dense"] / medians[label] for label in table.index]
    return table.assign(speedup_vs_ceiling=table["speedup"] / table["ceiling"]).rename_axis(f"{name}, {setting}")


def paper_curves(profile: Profile, role: str) -> pd.DataFrame:
    """The paper's rule and the random baseline from 04/05, on the same test subset."""
    results = pd.read_csv(FIGURES / profile.name / f"prune_{role}_results.csv")
    return results[results["method"].isin(["dense", "paper rule (scaled)", "random"])]


def summary_values(role: str, table: pd.DataFrame, scored: Scored, selection: pd.DataFrame, dense: float) -> dict:
    """This notebook's keys of ``summary.json`` for one model."""
    values = {}
    for _, row in table.iterrows():
        key = f"scores.{role}.{row['score']}.p{round(100 * row['budget'])}"
        values |= {f"{key}.accuracy": row["accuracy"], f"{key}.setting": row["setting"]}
    values |= {f"scores.{role}.{name}.seconds": s for name, s in scored.seconds.items() if name in scored.scores}
    values[f"scores.{role}.repair_statistics.seconds"] = scored.seconds["repair statistics"]
    winner = best(selection)
    for budget in sorted(table["budget"].unique()):
        accuracy_at = table.loc[(table["score"] == winner) & (table["budget"] == budget), "accuracy"].iloc[0]
        values[f"scores.{role}.best_p{round(100 * budget)}.accuracy_drop"] = dense - accuracy_at
    values |= {f"scores.{role}.best_p50.score": winner, f"scores.{role}.dense.accuracy": dense}
    return values


def conclusion(role: str, table: pd.DataFrame, selection: pd.DataFrame, dense: float) -> list[str]:
    """Plain sentences from the numbers: the winner chosen on validation, its cost on test, and the paper's score."""
    winner = best(selection)
    at = table.set_index(["score", "budget"])
    setting = table.loc[table["score"] == winner, "setting"].iloc[0]
    lines = [f"{role}: best score on validation: {winner} ({setting}); dense accuracy {dense:.3f}"]
    for budget in sorted(table["budget"].unique()):
        rows = at.xs(budget, level="budget")
        rank = int((rows.drop(list(CONTROLS))["accuracy"] > rows.loc["cosine", "accuracy"]).sum()) + 1
        lines.append(f"  {budget:.0%} removed: {winner} {rows.loc[winner, 'accuracy']:.3f} "
                     f"(drop {100 * (dense - rows.loc[winner, 'accuracy']):.1f} pt); paper's cosine "
                     f"{rows.loc['cosine', 'accuracy']:.3f} (rank {rank} of {len(rows) - len(CONTROLS)}), random "
                     f"{rows.loc['random', 'accuracy']:.3f} ± {rows.loc['random', 'std']:.3f}, mirror "
                     f"{rows.loc['mirror', 'accuracy']:.3f}")
    return lines
