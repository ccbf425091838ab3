"""Notebook 06: importance scores compared on the same fine-tuned models; budget, repair or refit chosen on
validation."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import speed_study
from .. import stats
from ..core import importance, pruning, timing
from ..core.refit import Refit
from ..core.classifier import Encoded, SentimentClassifier, encode
from ..base.data import load_splits
from ..core.families import ffn_widths
from .finetune import encoded_split
from ..base import keys
from ..base.profiles import Profile
from .predictions import Prediction, Store
from .prune_study import inputs as saved_inputs

SETTINGS = {"uniform": ("uniform", None), "global": ("global", None),  # name: (budget, what is done to the rest)
            "uniform + repair": ("uniform", "repair"), "global + repair": ("global", "repair"),
            "global + refit": ("global", "refit")}  # the refit follows the importance (Kwon et al.): global only
CONTROLS = ("mirror", "random")  # sanity controls: "uniform", never chosen as best
CONTROL_SETTING = "uniform"
LIKE_WITH_LIKE = ("cosine", "random")  # also run at the best score's setting, so differences are the score's


@dataclass
class Scored:
    """Every score of one model, computed once, with the seconds each took (its calibration pass included)."""

    scores: dict[str, list[np.ndarray]]  # name -> one array per seed (one for the deterministic scores)
    seconds: dict[str, float]
    mean_activation: np.ndarray  # for the bias repair
    refit: Refit | None = None  # for the least-squares refit


def calibration(profile: Profile, role: str, tokenizer, count: int | None = None) -> Encoded:
    """``count`` (default ``scores.calibration_examples``) reviews drawn (seeded) from the training split, tokenized as
    for training; a larger count starts with the same reviews."""
    train = load_splits(profile.data, profile.seed)["train"]
    count = profile.scores.calibration_examples if count is None else count
    rows = train.shuffle(seed=profile.seed).select(range(min(count, len(train))))
    cfg = getattr(profile, role)
    return encode(tokenizer, rows["text"], rows["label"], cfg.max_tokens, cfg.truncation)


def compute(profile: Profile, role: str, clf: SentimentClassifier, tokenizer,
            similarity: np.ndarray | None = None, names=None) -> Scored:
    """Run every score of ``importance.SCORES`` (or those ``names``) on the model (``random`` once per seed), timing
    each. ``similarity`` is the paper's per-neuron probe cosine; by default the one 03 saved."""
    similarity = saved_inputs(profile, role)["similarity"] if similarity is None else similarity
    base = importance.ScoreInputs(clf, calibration(profile, role, tokenizer), tokenizer.pad_token_id,
                                  getattr(profile, role).eval_batch_size, similarity)
    scores, seconds = {}, {}
    for name, score in importance.SCORES.items():
        if names is not None and name not in names:
            continue
        seeds = range(profile.scores.random_seeds) if name == "random" else [0]
        start = time.perf_counter()
        scores[name] = [score(importance.ScoreInputs(**{**vars(base), "seed": s})) for s in seeds]
        seconds[name] = (time.perf_counter() - start) / len(seeds)
    start = time.perf_counter()
    mean_activation = importance.activation_stats(base)["mean"]
    seconds["repair statistics"] = time.perf_counter() - start
    refit = Refit(calibration(profile, role, tokenizer, profile.scores.refit_examples), tokenizer.pad_token_id,
                  base.batch_size, profile.scores.refit_ridge)
    return Scored(scores, seconds, mean_activation, refit)


def keep_set(profile: Profile, score: np.ndarray, sparsity: float, setting: str, multiple: int = 1) -> dict:
    budget, _ = SETTINGS[setting]
    return importance.keep_top(score, importance.kept_counts(score, sparsity, budget, profile.scores.floor, multiple))


def variant(name: str, seed: int, sparsity: float, setting: str, multiple: int = 1) -> str:
    """The name of a pruned variant in the prediction store's table."""
    seed_part = f" seed {seed}" if name == "random" else ""
    return f"{name}{seed_part}, {setting}, {sparsity:.0%}" + (f", widths x{multiple}" if multiple > 1 else "")


def run_pruned(profile: Profile, store: Store, scored: Scored, name: str, seed: int, sparsity: float, setting: str,
               split: str, data: Encoded, multiple: int = 1) -> Prediction:
    """Predictions of the model pruned by score ``name`` (seed ``seed``) under ``setting``, from the store."""
    keep = keep_set(profile, scored.scores[name][seed], sparsity, setting, multiple)
    fix = SETTINGS[setting][1]
    return store.run(variant(name, seed, sparsity, setting, multiple), split, data, keep,
                     scored.mean_activation if fix == "repair" else None, scored.refit if fix == "refit" else None)


def select(profile: Profile, store: Store, scored: Scored, data: Encoded) -> tuple[pd.DataFrame, dict]:
    """Validation accuracy and loss of every non-control score under every budget mode and repair at
    ``scores.select_sparsity``: one row each, and the per-review validation losses by (score, setting)."""
    rows, losses = [], {}
    for name in scored.scores:
        if name in CONTROLS:
            continue
        for setting in SETTINGS:
            prediction = run_pruned(profile, store, scored, name, 0, profile.scores.select_sparsity, setting,
                                    "validation", data)
            rows.append({"score": name, "setting": setting, "accuracy": prediction.accuracy, "loss": prediction.loss,
                         "refused": len(prediction.info["fell_back"]) if prediction.info else 0})
            losses[name, setting] = prediction.losses
    return pd.DataFrame(rows), losses


def sign_check(profile: Profile, store: Store, scored: Scored, setting: str, data: Encoded) -> dict:
    """``contribution`` is signed (neurons that work against the decision go first); its magnitude |contribution| is the
    alternative. Both at ``setting`` and ``scores.select_sparsity`` on validation: losses, accuracies and the paired
    accuracy difference signed minus magnitude."""
    sparsity = profile.scores.select_sparsity
    signed = run_pruned(profile, store, scored, "contribution", 0, sparsity, setting, "validation", data)
    magnitude = Scored({"|contribution|": [np.abs(scored.scores["contribution"][0])]}, {}, scored.mean_activation)
    unsigned = run_pruned(profile, store, magnitude, "|contribution|", 0, sparsity, setting, "validation", data)
    return {"setting": setting, "signed_loss": signed.loss, "magnitude_loss": unsigned.loss,
            "signed_accuracy": signed.accuracy, "magnitude_accuracy": unsigned.accuracy} | {
        f"signed_minus_magnitude_{k}": v for k, v in stats.matched_pairs(signed.correct, unsigned.correct).items()}


def ranked(selection: pd.DataFrame) -> pd.DataFrame:
    """Best first by the rule fixed before any test number is read: the lower mean validation loss (continuous, so
    it rarely ties); an exact tie goes to the simpler, earlier setting."""
    return selection.sort_values("loss", kind="stable")


def chosen_settings(selection: pd.DataFrame) -> dict[str, str]:
    """The best setting of every score on validation; the controls stay uniform."""
    top = ranked(selection).drop_duplicates("score")
    return dict(zip(top["score"], top["setting"])) | {c: CONTROL_SETTING for c in CONTROLS}


def best(selection: pd.DataFrame, place: int = 0) -> str:
    """The non-control score whose chosen setting ranks first (``place`` 1: the runner-up) on validation."""
    return ranked(selection).drop_duplicates("score")["score"].iloc[place]


def stability(selection: pd.DataFrame, losses: dict, resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """How often the choice survives a bootstrap of the validation reviews: per score, the share of resamples whose
    lowest-loss setting is the one chosen; under "best score", the share that choose the same best score."""
    candidates = list(losses)
    matrix = np.stack([losses[k] for k in candidates])  # candidates x reviews
    rows = np.random.default_rng(seed).integers(0, matrix.shape[1], size=(resamples, matrix.shape[1]))
    means = matrix[:, rows].mean(axis=2)  # candidates x resamples
    chosen, winner = chosen_settings(selection), best(selection)
    out = {}
    for name in dict.fromkeys(k[0] for k in candidates):
        own = [i for i, k in enumerate(candidates) if k[0] == name]
        picks = np.asarray(own)[means[own].argmin(axis=0)]
        out[name] = float(np.mean([candidates[i][1] == chosen[name] for i in picks]))
    out["best score"] = float(np.mean([candidates[i][0] == winner for i in means.argmin(axis=0)]))
    return out


def selection_table(selection: pd.DataFrame, stable: dict[str, float]) -> pd.DataFrame:
    """Validation "accuracy / loss" per score (rows) and setting (columns), the chosen setting starred, the number of
    refused layer fits of a refit in brackets, and how often a bootstrap of the validation reviews makes the same
    choice."""
    chosen = chosen_settings(selection)
    refused = selection["refused"] if "refused" in selection else [0] * len(selection)

    def cell(row, refusals: int) -> str:
        return (f"{row.accuracy:.3f} / {row.loss:.3f}" + (f" ({refusals} refused)" if refusals else "")
                + (" *" if chosen[row.score] == row.setting else ""))

    cells = selection.assign(cell=[cell(row, r) for row, r in zip(selection.itertuples(index=False), refused)])
    table = cells.pivot(index="score", columns="setting", values="cell")[list(SETTINGS)]
    return table.assign(**{"same choice (bootstrap)": [f"{stable[n]:.0%}" for n in table.index]})


def test(profile: Profile, store: Store, scored: Scored, chosen: dict[str, str], best_setting: str,
         data: Encoded) -> tuple[pd.DataFrame, dict]:
    """Test predictions of every score (every seed of ``random``) at each budget of ``scores.sparsities``, at its
    chosen setting; the paper's cosine and the random control also at the best score's setting (like with like).
    Returns one row per variant and the predictions keyed by (score, setting, budget, seed)."""
    dense = store.run("dense", "test", data)
    rows, predictions = [], {}
    for name, values in scored.scores.items():
        settings = dict.fromkeys([chosen[name], *([best_setting] if name in LIKE_WITH_LIKE else [])])
        for setting in settings:
            for seed in range(len(values)):
                for sparsity in profile.scores.sparsities:
                    prediction = run_pruned(profile, store, scored, name, seed, sparsity, setting, "test", data)
                    predictions[name, setting, sparsity, seed] = prediction
                    rows.append({"score": name, "setting": setting, "seed": seed, "sparsity": sparsity,
                                 "accuracy": prediction.accuracy} | prediction.moved(dense))
    return pd.DataFrame(rows), predictions | {"dense": dense}


def outcomes(predictions: dict, name: str, setting: str, sparsity: float) -> np.ndarray:
    """Per-review correctness of a score's variant, one row per seed: ``(seeds, reviews)``."""
    return np.stack([p.correct for k, p in predictions.items() if k[:3] == (name, setting, sparsity)])


def budget_table(results: pd.DataFrame, predictions: dict, margin: float) -> pd.DataFrame:
    """Per score, setting and budget: accuracy (mean over seeds) with its 95% interval (Wilson for one model, a
    bootstrap over reviews for a seed mean), the drop from dense (dense minus pruned, paired, simultaneous across the
    budgets, with its verdict), agreement with the dense predictions and mean |logit change|."""
    dense = predictions["dense"].correct
    rows = []
    for (name, setting), group in results.groupby(["score", "setting"], sort=False):
        family, level = [], stats.family_level(group["sparsity"].nunique())
        for sparsity, at in group.groupby("sparsity"):
            correct = outcomes(predictions, name, setting, sparsity)
            low, high = stats.wilson(correct[0]) if len(correct) == 1 else stats.bootstrap_interval(correct.mean(0))
            drop = stats.compare(dense, correct, level)
            family.append({"score": name, "setting": setting, "sparsity": sparsity, "n": drop["n"],
                           "accuracy": correct.mean(), "ci_low": low, "ci_high": high} | {
                f"drop_{k}" if k in ("ci_low", "ci_high") else k: v for k, v in drop.items() if k != "delta"} | {
                "drop": drop["delta"], "agreement": at["agreement"].mean(),
                "mean_abs_dlogit": at["mean_abs_dlogit"].mean()})
        for row, judged in zip(family, stats.family([{"delta": r["drop"], "ci_low": r["drop_ci_low"],
                                                      "ci_high": r["drop_ci_high"], "n": r["n"], "level": r["level"]}
                                                     for r in family], margin)):
            rows.append(row | {"verdict": judged["verdict"], "mde": judged.get("mde")})
    return pd.DataFrame(rows)


def _turned(row) -> dict:
    """A row's drop (dense - pruned, with its verdict about the drop) as the change pruned - dense, for
    ``stats.describe`` and :func:`as_change`."""
    drop = {"delta": row["drop"], "ci_low": row["drop_ci_low"], "ci_high": row["drop_ci_high"]}
    return stats.reversed_difference(drop | {k: row[k] for k in ("n", "level", "verdict") if k in row})


def as_change(table: pd.DataFrame) -> pd.DataFrame:
    """A table of drops (dense - pruned: ``drop``, ``drop_ci_low``, ``drop_ci_high``, a verdict about the drop) shown
    the study's way round: ``change_pt`` = pruned - dense in points, its interval (``change_pt_low``,
    ``change_pt_high``), and the verdict turned with it."""
    turned = pd.DataFrame([_turned(r) for _, r in table.iterrows()], index=table.index)
    shown = table.drop(columns=["drop", "drop_ci_low", "drop_ci_high"]).assign(
        change_pt=100 * turned["delta"], change_pt_low=100 * turned["ci_low"], change_pt_high=100 * turned["ci_high"])
    if "verdict" in table:
        shown["verdict"] = turned["verdict"]
    return shown


def comparisons(predictions: dict, chosen: dict[str, str], winner: str, runner_up: str, margin: float) -> pd.DataFrame:
    """The questions of 06, each paired on the same test reviews, one family across the budgets of each question
    (simultaneous intervals, verdicts read off them): the best score against the runner-up (each at its chosen
    setting), against the paper's cosine, the paper's cosine against random (both at the best score's setting), and the
    mirror control against random (both uniform; expected: the mirror is no better than random)."""
    at = chosen[winner]
    claims = {"best_vs_runner_up": (f"{winner} ({at}) minus {runner_up} ({chosen[runner_up]})", (winner, at),
                                    (runner_up, chosen[runner_up])),
              "best_vs_cosine": (f"{winner} minus cosine, both {at}", (winner, at), ("cosine", at)),
              "cosine_vs_random": (f"cosine minus random, both {at}", ("cosine", at), ("random", at)),
              "mirror_vs_random": (f"control: mirror minus random, both {CONTROL_SETTING} (expected <= 0)",
                                   ("mirror", CONTROL_SETTING), ("random", CONTROL_SETTING))}
    sparsities = sorted({k[2] for k in predictions if k != "dense"})
    level = stats.family_level(len(sparsities))
    rows = []
    for key, (claim, a, b) in claims.items():
        family = [{"key": key, "claim": claim, "sparsity": f}
                  | stats.compare(outcomes(predictions, *a, f), outcomes(predictions, *b, f), level)
                  for f in sparsities]
        rows += stats.family(family, margin)
    return pd.DataFrame(rows)


def chance_overlap(sparsity: float) -> float:
    """The Jaccard overlap of two random kept sets when ``sparsity`` of a layer's neurons is removed: k / (2 - k), k
    the kept share (the expectation for wide layers)."""
    return (1 - sparsity) / (1 + sparsity)


def control_findings(compared: pd.DataFrame, overlap: pd.DataFrame, sparsity: float) -> list[str]:
    """Every control against its stated expectation: the mirror should do no better than random, and two scores'
    kept sets overlap by chance as two random sets of the same size do (``chance_overlap``)."""
    lines = []
    for _, row in compared[compared["key"] == "mirror_vs_random"].iterrows():
        ok = row["verdict"] != "higher"
        lines.append(f"control at {row['sparsity']:.0%}: mirror minus random = {stats.describe(row)} -> "
                     + ("as expected (the mirror is no better than random)" if ok else
                        "MISBEHAVES: the mirror beats random, so keeping the lowest-cosine neurons is not the worst "
                        "choice and the cosine carries little of what matters"))
    chance = chance_overlap(sparsity)
    pairs = [(a, b) for i, a in enumerate(overlap.index) for b in overlap.index[i + 1:]]
    near = [f"{a}/{b}" for a, b in pairs if abs(overlap.loc[a, b] - chance) < 0.03]
    lines.append(f"kept-set overlap at {sparsity:.0%}: two random kept sets of this size overlap by {chance:.3f} "
                 f"(Jaccard); {len(near)} of {len(pairs)} score pairs are within 0.03 of that"
                 + (f" ({', '.join(near)}): their choices are unrelated" if near else ""))
    return lines


def confirmation_reviews(profile: Profile, role: str, tokenizer) -> tuple[int, Encoded] | None:
    """The test reviews after 04/05's that 02-06 never read (``sizes.<role>.confirm``; None when 0), and the index of
    the first."""
    start, count = profile.sizes[role].prune, profile.sizes[role].confirm
    if count == 0:
        return None
    rows = load_splits(profile.data, profile.seed)["test"].select(range(start, start + count))
    cfg = getattr(profile, role)
    return start, encode(tokenizer, rows["text"], rows["label"], cfg.max_tokens, cfg.truncation)


def confirm(profile: Profile, role: str, store: Store, scored: Scored, winner: str, setting: str, tokenizer) -> dict:
    """06's choice confirmed on the confirmation reviews: dense minus the chosen score at ``scores.select_sparsity``,
    paired (Tango, 95%); None when the profile sets no confirmation reviews."""
    unseen = confirmation_reviews(profile, role, tokenizer)
    if unseen is None:
        return None
    start, data = unseen
    dense = store.run("dense", "confirm", data)
    pruned = run_pruned(profile, store, scored, winner, 0, profile.scores.select_sparsity, setting, "confirm", data)
    return ({"score": winner, "setting": setting, "first_review": start}
            | stats.matched_pairs(dense.correct, pruned.correct))


def best_refit(selection: pd.DataFrame) -> tuple[str, str]:
    """The score and refit setting with the lowest validation loss among the refit rows (06's rule, within them)."""
    row = ranked(selection[selection["setting"].str.endswith("refit")]).iloc[0]
    return row["score"], row["setting"]


def refit_check(profile: Profile, role: str, store: Store, scored: Scored, selection: pd.DataFrame,
                tokenizer) -> pd.DataFrame | None:
    """The best refit setting on validation, measured on the confirmation reviews at each of
    ``scores.refit_sparsities``: dense minus refitted, paired (Tango, 95%), the seconds the refit took and the layers
    whose fit fell back. None when the profile sets no confirmation reviews."""
    unseen = confirmation_reviews(profile, role, tokenizer)
    if unseen is None:
        return None
    name, setting = best_refit(selection)
    dense = store.run("dense", "confirm", unseen[1])
    rows = []
    for sparsity in profile.scores.refit_sparsities:
        pruned = run_pruned(profile, store, scored, name, 0, sparsity, setting, "confirm", unseen[1])
        rows.append({"score": name, "setting": setting, "sparsity": sparsity, "accuracy": pruned.accuracy}
                    | {f"drop_{k}" if k in ("ci_low", "ci_high") else k: v
                       for k, v in stats.matched_pairs(dense.correct, pruned.correct).items()}
                    | {"prune_seconds": pruned.info["seconds"], "fell_back": len(pruned.info["fell_back"])})
    return pd.DataFrame(rows).rename(columns={"delta": "drop"})


def agreement(profile: Profile, scored: Scored, sparsity: float) -> pd.DataFrame:
    """Jaccard overlap of the neurons kept by each pair of scores at ``sparsity`` (uniform budget)."""
    kept = {name: keep_set(profile, values[0], sparsity, "uniform") for name, values in scored.scores.items()}
    sets = {name: {(layer, int(i)) for layer, idx in keep.items() for i in idx} for name, keep in kept.items()}
    return pd.DataFrame({a: {b: len(sa & sb) / len(sa | sb) for b, sb in sets.items()}
                         for a, sa in sets.items()}).round(3)


def emptied_layers(profile: Profile, scored: Scored, sparsity: float) -> pd.DataFrame:
    """Fraction of each layer's neurons a global budget of ``sparsity`` removes, per score: where each score cuts."""
    return pd.DataFrame({name: 1 - importance.kept_counts(values[0], sparsity, "global", profile.scores.floor)
                         / values[0].shape[1] for name, values in scored.scores.items()}).T.rename_axis("score")


def speed(profile: Profile, role: str, clf: SentimentClassifier, variants: dict[str, torch.nn.Module], tokenizer,
          ffn_time_share: float | None = None) -> pd.DataFrame:
    """Speed-up of each variant over dense with its interval, from the timing protocol of 04/05 (``timing.measure``:
    an A/A pair of dense copies, fresh random orders, medians of per-round ratios) on ``scores.timing_batch`` reviews of
    ``prune.timing_tokens`` tokens; beside it the FLOP ceiling and, given the FFNs' measured share of the time (04/05),
    the time-share ceiling 1 / (1 - f s)."""
    tokens = speed_study.timing_tokens(profile, role)
    timed = encoded_split(profile, role, tokenizer, "test", max_tokens=tokens)
    batch = timing.fixed_batch(timed, profile.scores.timing_batch, tokens)
    with torch.no_grad():
        rounds = profile.scores.timing_rounds or profile.prune.timing_rounds
        measured = timing.measure(clf, variants, batch, rounds, seed=profile.seed,
                                  threads=speed_study.THREADS, copy_variants=False,
                                  quiet=True).summary  # gate: a column
    rows = {}
    for label, model in variants.items():
        widths = ffn_widths(model.body)
        fraction = 1 - sum(widths) / sum(ffn_widths(clf.body))
        ratio = measured["ratios"][label]
        rows[label] = {"widths": f"{min(widths)}-{max(widths)}", "pruned_fraction": fraction,
                       "speedup": ratio["ratio"], "speedup_ci_low": ratio["ci_low"],
                       "speedup_ci_high": ratio["ci_high"],
                       "ceiling": timing.speedup_ceiling(clf.body, model.body, tokens),
                       "ceiling_time": (np.nan if ffn_time_share is None
                                        else timing.time_ceiling(fraction, ffn_time_share)),
                       "aa_gate_passed": measured["gate_passed"]}
    table = pd.DataFrame(rows).T.infer_objects()  # one dtype per column, not object
    return table.assign(speedup_vs_ceiling=table["speedup"] / table["ceiling"],
                        speedup_vs_ceiling_time=table["speedup"] / table["ceiling_time"])


def rounding(profile: Profile, role: str, store: Store, scored: Scored, name: str, fix: str | None, data: Encoded,
             tokenizer) -> pd.DataFrame:
    """A global budget (uneven widths) at the selection budget, with the best score's repair or refit (``fix``), widths
    exact or rounded to ``scores.round_to``: accuracy on ``data`` and :func:`speed`."""
    sparsity, multiple = profile.scores.select_sparsity, profile.scores.round_to
    setting = "global" + (f" + {fix}" if fix else "")
    variants, accuracy = {}, {}
    for label, m in (("exact widths", 1), (f"widths rounded to {multiple}", multiple)):
        keep = keep_set(profile, scored.scores[name][0], sparsity, setting, m)
        variants[label] = pruning.pruned_copy(store.clf, keep)  # the shapes of the variant: its speed
        accuracy[label] = run_pruned(profile, store, scored, name, 0, sparsity, setting, "test", data, m).accuracy
    table = speed(profile, role, store.clf, variants, tokenizer)
    return table.assign(accuracy=pd.Series(accuracy)).rename_axis(f"{name}, {setting}")


def refit_speed(profile: Profile, role: str, store: Store, scored: Scored, checked: pd.DataFrame, tokenizer,
                ffn_time_share: float | None) -> pd.DataFrame:
    """:func:`speed` of the refitted models of :func:`refit_check` (a refit changes weights, not shapes: each is timed
    as the plain cut of its keep-set, the same matrices)."""
    variants = {f"{row.setting}, {row.sparsity:.0%}": pruning.pruned_copy(
        store.clf, keep_set(profile, scored.scores[row.score][0], row.sparsity, row.setting))
        for row in checked.itertuples()}
    return speed(profile, role, store.clf, variants, tokenizer, ffn_time_share).rename_axis(checked["score"].iloc[0])


def summary_values(profile: Profile, role: str, table: pd.DataFrame, scored: Scored, selection: pd.DataFrame,
                   stable: dict, chosen: dict[str, str], compared: pd.DataFrame, dense: Prediction, n_validation: int,
                   confirmed: dict | None) -> dict:
    """This notebook's keys of ``summary.json`` for one model."""
    values = {}
    for _, row in table.iterrows():
        at_own = row["setting"] == chosen[row["score"]]
        key = keys.scores(role, row["score"], keys.percent(row["sparsity"]), *(() if at_own else ("at_best_setting",)))
        values |= {f"{key}.{k}": row[k] for k in ("setting", "accuracy", "ci_low", "ci_high", "agreement",
                                                  "mean_abs_dlogit")}
    values |= {keys.scores(role, name, "seconds"): s for name, s in scored.seconds.items() if name in scored.scores}
    values[keys.scores(role, "repair_statistics", "seconds")] = scored.seconds["repair statistics"]
    winner = best(selection)
    for _, row in table[(table["score"] == winner) & (table["setting"] == chosen[winner])].iterrows():
        key = keys.scores(role, "best", keys.percent(row["sparsity"]))
        values |= {f"{key}.accuracy_drop": row["drop"], f"{key}.drop_ci_low": row["drop_ci_low"],
                   f"{key}.drop_ci_high": row["drop_ci_high"], f"{key}.level": row["level"]}
    for _, row in compared.iterrows():
        key = keys.scores(role, "compare", row["key"], keys.percent(row["sparsity"]))
        values |= {f"{key}.{k}": row[k] for k in ("delta", "ci_low", "ci_high", "level", "n", "verdict", "mde")
                   if k in row and pd.notna(row[k])}
    if confirmed is not None:
        key = keys.scores(role, "confirm", keys.percent(profile.scores.select_sparsity))
        values |= {f"{key}.accuracy_drop": confirmed["delta"], f"{key}.ci_low": confirmed["ci_low"],
                   f"{key}.ci_high": confirmed["ci_high"], f"{key}.n": confirmed["n"],
                   f"{key}.score": confirmed["score"], f"{key}.setting": confirmed["setting"],
                   f"{key}.split": "confirm"}
    lines = conclusion(role, table, selection, stable, chosen, compared)
    values[keys.finding("scores", role)] = "; ".join(line.strip() for line in lines)  # the notebook's indents dropped
    return values | {keys.scores(role, "best", "score"): winner, keys.scores(role, "best", "setting"): chosen[winner],
                     keys.scores(role, "runner_up"): best(selection, 1),
                     keys.scores(role, "dense", "accuracy"): dense.accuracy,
                     keys.evaluation(role, "validation_reviews"): n_validation,
                     keys.scores(role, "selection", "best_score_stability"): stable["best score"],
                     keys.scores(role, "selection", "setting_stability"): stable[winner]}


def refit_values(role: str, checked: pd.DataFrame | None, speeds: pd.DataFrame | None) -> dict:
    """The keys ``scores.<role>.refit.p<NN>.*`` of :func:`refit_check` and :func:`refit_speed` (drop: dense minus
    refitted)."""
    if checked is None:
        return {}
    values = {}
    for row, (_, timed) in zip(checked.itertuples(), speeds.iterrows()):
        key = keys.scores(role, "refit", keys.percent(row.sparsity))
        values |= {f"{key}.{k}": getattr(row, k) for k in ("score", "setting", "accuracy", "n", "prune_seconds",
                                                            "fell_back")}
        values |= {f"{key}.accuracy_drop": row.drop, f"{key}.drop_ci_low": row.drop_ci_low,
                   f"{key}.drop_ci_high": row.drop_ci_high}
        values |= {f"{key}.{k}": timed[k] for k in ("speedup", "speedup_ci_low", "speedup_ci_high", "ceiling",
                                                    "ceiling_time", "speedup_vs_ceiling", "speedup_vs_ceiling_time")}
    return values


def refit_findings(role: str, checked: pd.DataFrame | None) -> list[str]:
    """The refit in plain sentences: its change against dense on unseen reviews and its refused layer fits (its
    seconds and speed are measured, machine-dependent: they stay in the tables)."""
    if checked is None:
        return []
    return [f"{role}: {row['score']} ({row['setting']}) at {row['sparsity']:.0%} removed and refitted "
            f"({row['fell_back']} layer fit(s) refused): pruned minus dense {stats.describe(_turned(row))}"
            for _, row in checked.iterrows()]


def conclusion(role: str, table: pd.DataFrame, selection: pd.DataFrame, stable: dict, chosen: dict[str, str],
               compared: pd.DataFrame) -> list[str]:
    """Plain sentences from the numbers: the choice made on validation and how stable it is, the best score's change
    against dense on test with its interval, and the paired comparisons in words."""
    winner = best(selection)
    lines = [f"{role}: best score on validation (lowest loss): {winner} ({chosen[winner]}), the same choice in "
             f"{stable['best score']:.0%} of bootstrap resamples of the validation reviews"]
    for _, row in table[(table["score"] == winner) & (table["setting"] == chosen[winner])].iterrows():
        lines.append(f"  {row['sparsity']:.0%} removed: accuracy {row['accuracy']:.3f} [{row['ci_low']:.3f}, "
                     f"{row['ci_high']:.3f}]; change vs dense {stats.describe(_turned(row))}")
    for _, row in compared.iterrows():
        lines.append(f"  {row['sparsity']:.0%} removed, {row['claim']}: {stats.describe(row)} -> {row['verdict']}")
    return lines
