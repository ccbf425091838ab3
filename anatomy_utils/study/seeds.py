"""The seed study (notebook 07): are the ledger's verdicts properties of the fine-tuned models, or of one training run?

Both models are fine-tuned again with the training seeds ``seeds.extra`` (``reseed``), and the claims that depend on
the weights (``SEED_CLAIMS``) are judged on every run, the profile's own included, by the ledger's own functions on the
same reviews: each run writes what 02-06 would (lens, neuron sets, pruned predictions) under
``figures/<profile>/seeds/<seed>/`` and is read back as a ``claims.Outputs``. Across runs: each claim's verdicts, how
many agree with the committed run's, and a random-effects pool of the effects (``stats.random_effects``).
"""
from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from . import anatomy, claims, prune_study, score_study
from .. import stats
from ..base import keys, summary
from ..core import passes, pruning
from ..base.data import load_splits, probe_inputs
from ..core.families import ffn_widths
from .finetune import encoded_split
from .predictions import Store
from ..base.profiles import Profile, unit
from .reseed import fine_tuned
from ..base.runtime import FIGURES

SEED_CLAIMS = ("finetune_accuracy", "late_decision", "sparse_neurons", "neurons_by_depth", "same_neurons",
               "rule_keeps_accuracy", "rule_beats_random", "best_score_keeps_accuracy")
RULE_SPARSITIES = (0.3, 0.5)  # rule_keeps_accuracy's and rule_beats_random's
# The scale each claim's effect is pooled on, so that the pooled interval stays in the statistic's range: an AUC, a
# share or a Jaccard on the logit scale, a difference of accuracies (or of a share from a bar) on Fisher's z.
POOL_SCALE = {"late_decision": "logit", "sparse_neurons": "logit", "same_neurons": "logit",
              "neurons_by_depth": "fisher_z"} | {claim: "fisher_z" for claim in claims.ACCURACY_CLAIMS}


def runs(profile: Profile) -> list[int]:
    """The training seeds of the study: the profile's own first."""
    return [profile.seed, *profile.seeds.extra]


def anatomy_tables(profile: Profile, role: str, clf, tokenizer, folder: str, reviews) -> tuple[dict, np.ndarray]:
    """02's lens and 03's neuron sets on ``reviews``, saved under ``folder`` as the ledger reads them; the rule's inputs
    (from the probe inputs) and the reviews' neuron cosines ``(reviews, layers, neurons)``."""
    cfg = getattr(profile, role)
    states = passes.probe_states(clf, tokenizer, reviews["text"], cfg)
    anatomy.save_table(anatomy.lens_frame(passes.lens_logits(clf, states), reviews["label"],
                                          passes.layer_similarity(states)), folder, f"lens_{role}")
    k = anatomy.top_k_count(profile.anatomy.top_k_fraction, ffn_widths(clf.body)[0])
    cosines = passes.neuron_cosines(clf, states[:, -1])
    anatomy.save_table(anatomy.review_sets(cosines, profile.anatomy.neuron_threshold, k), folder, f"neuron_sets_{role}")
    probes = passes.probe_states(clf, tokenizer, probe_inputs()["text"], cfg)
    layer_sim = anatomy.similarity_table(passes.layer_similarity(probes))["mean"].to_numpy()
    return prune_study.rule_inputs(profile, layer_sim, passes.neuron_cosines(clf, probes[:, -1])), cosines


def pruned_runs(profile: Profile, role: str, store: Store, saved: dict, tokenizer, data, mask_data, masks: int,
                chosen: tuple[str, str], split: str = "test", mask_seed: int = 0) -> dict:
    """Dense, the rule at 30% and 50%, ``masks`` random masks (seeds ``mask_seed``, ...) with the rule's layer counts
    at 50% on ``mask_data`` (the first reviews of ``data``), and 06's chosen score and setting at
    ``scores.select_sparsity``, all on ``data``; returns the summary keys the ledger reads for them."""
    widths = ffn_widths(store.clf.body)
    rule = prune_study.rules(profile, role, len(widths))[0]
    dense = store.run("dense", split, data)
    for sparsity in RULE_SPARSITIES:
        keep, _ = prune_study.scaled_rule(rule, saved, widths, sparsity)
        store.run(f"{prune_study.RULE} {sparsity:.0%}", split, data, keep)
    counts = [w - len(keep[layer]) for layer, w in enumerate(widths)]
    for mask in range(masks):
        keep = pruning.keep_random(widths, counts, saved["protected"], mask_seed + mask)
        store.run(prune_study.random_name(RULE_SPARSITIES[-1], mask), split, mask_data, keep)
    name, setting = chosen
    scored = score_study.compute(profile, role, store.clf, tokenizer, saved["similarity"], names=[name])
    pruned = score_study.run_pruned(profile, store, scored, name, 0, profile.scores.select_sparsity, setting, split,
                                    data)
    found = stats.matched_pairs(dense.correct, pruned.correct)  # dense minus pruned, as 06's confirmation
    key = keys.scores(role, "confirm", keys.percent(profile.scores.select_sparsity))
    return {keys.data("test"): len(data.labels), keys.finetune(role, "test_accuracy"): dense.accuracy,
            keys.reference(role): getattr(profile.reference, role),
            keys.reference("source"): profile.reference.source, keys.anatomy(role, "ffn_width"): widths[0],
            keys.anatomy(role, "layers"): len(widths), f"{key}.accuracy_drop": found["delta"],
            f"{key}.ci_low": found["ci_low"],
            f"{key}.ci_high": found["ci_high"], f"{key}.n": found["n"], f"{key}.score": name,
            f"{key}.setting": setting, f"{key}.split": split}


def judge_run(profile: Profile, role: str, seed: int, chosen: tuple[str, str]) -> tuple[pd.DataFrame, float]:
    """One run (``seed``) of ``role``: fine-tuned (cached), its outputs written under
    ``figures/<profile>/seeds/<seed>/``, and the ``SEED_CLAIMS`` rows the ledger's functions give on them; and the run's
    training minutes."""
    clf, tokenizer, meta = fine_tuned(profile, role, seed)
    folder = f"{profile.name}/seeds/{seed}"
    test = load_splits(profile.data, profile.seed)["test"]
    saved, _ = anatomy_tables(profile, role, clf, tokenizer, folder, test.select(range(profile.sizes[role].lens)))
    store = Store(profile.name, role, clf, tokenizer.pad_token_id, getattr(profile, role).eval_batch_size)
    size = profile.sizes[role]
    values = pruned_runs(profile, role, store, saved, tokenizer,
                         encoded_split(profile, role, tokenizer, "test", size.prune),
                         encoded_split(profile, role, tokenizer, "test", size.masks), profile.seeds.masks, chosen)
    predictions = store.table()
    anatomy.save_table(predictions, folder, f"predictions_{role}")
    one_look = replace(profile, claims=replace(profile.claims, looks=None))  # each seed's run is judged once
    out = claims.Outputs(one_look, values, predictions, FIGURES / folder)
    rows = pd.DataFrame([claims.CLAIMS[claim](out, role) for claim in SEED_CLAIMS]).assign(seed=seed)
    del clf, store
    gc.collect()  # one model in memory at a time
    return rows, meta["train_seconds"] / 60


def agreement_text(verdicts: list[str]) -> str:
    """``4/4 confirmed`` or ``3/4 confirmed, 1/4 inconclusive``: the verdicts' counts, most frequent first."""
    return ", ".join(f"{count}/{len(verdicts)} {verdict}" for verdict, count in Counter(verdicts).most_common())


def pool(rows: pd.DataFrame, committed: int) -> dict:
    """One claim and model across runs: the verdicts in seed order, how many agree with the committed run's, and the
    random-effects pool of the tested runs' effects (within-run standard errors from each interval's half-width), with
    the verdict the ledger's rule reads off the pooled interval at the rows' level."""
    rows = rows.sort_values("seed")
    verdicts = rows["verdict"].tolist()
    own = rows.loc[rows["seed"] == committed, "verdict"].iloc[0]
    found = {"verdicts": ", ".join(verdicts), "agree": sum(v == own for v in verdicts), "n_seeds": len(rows),
             "stable": agreement_text(verdicts)}
    tested = rows[rows["verdict"] != "not testable"]
    if len(tested) < 2:
        return found
    first = tested.iloc[0]
    margin = first["margin"] if pd.notna(first["margin"]) else None
    errors = (tested["ci_high"] - tested["ci_low"]) / (2 * stats.z_value(first["level"]))
    try:
        pooled = stats.random_effects(tested["delta"], errors, first["level"], POOL_SCALE.get(first["claim"]))
    except ValueError as error:  # an effect on the bound of its scale (a share of exactly 0, say): not pooled
        return found | {"not_pooled": str(error)}
    spread = stats.random_effects(tested["delta"], errors, first["level"])  # the SDs in the statistic's own unit
    return found | {"pooled_effect": pooled["delta"], "pooled_ci_low": pooled["ci_low"],
                    "pooled_ci_high": pooled["ci_high"], "scale": pooled.get("scale", "raw"),
                    "between_sd": spread["between_sd"], "within_sd": spread["within_sd"], "pooled_n": len(tested),
                    "level": first["level"], "null": first["null"], "margin": margin, "direction": first["direction"],
                    "pooled_verdict": stats.verdict(pooled["ci_low"], pooled["ci_high"], first["null"], margin,
                                                    first["direction"])}


@dataclass
class SeedStudy:
    """Every run's claim rows (``rows``), the pooled table (``pooled``), and the minutes each run trained."""

    rows: pd.DataFrame
    pooled: pd.DataFrame
    train_minutes: dict


def run(profile: Profile) -> SeedStudy:
    """The study for ``profile``, 06's chosen score and setting read from its summary. A profile without extra seeds
    gets its committed run's rows, judged from 01-06's stored outputs (nothing is trained or evaluated)."""
    if not profile.seeds.extra:
        out = claims.load(profile)
        table = pd.DataFrame([claims.CLAIMS[claim](out, role) for role in profile.models() for claim in SEED_CLAIMS])
        table["seed"], minutes = profile.seed, {}
    else:
        values, rows, minutes = summary.read(profile.name), [], {}
        for role in profile.models():
            chosen = (values[keys.scores(role, "best", "score")], values[keys.scores(role, "best", "setting")])
            for seed in runs(profile):
                judged, minutes[(role, seed)] = judge_run(profile, role, seed, chosen)
                rows.append(judged)
        table = pd.concat(rows, ignore_index=True)
    pooled = pd.DataFrame([{"claim": claim, "role": role} | pool(group, profile.seed)
                           for (claim, role), group in table.groupby(["claim", "role"], sort=False)])
    return SeedStudy(table, pooled, minutes)


def header(profile: Profile) -> str:
    """What the study runs for ``profile``, in one line."""
    items = unit(profile)
    if not profile.seeds.extra:
        return (f"profile {profile.name}: one fine-tuning run per model (seed {profile.seed}) and no extra seeds: the "
                f"committed run's rows, judged from 01-06's stored outputs")
    return (f"profile {profile.name}: seeds {runs(profile)} (the first is 01's); each run judged on "
            f"{profile.sizes.encoder.prune} / {profile.sizes.decoder.prune} test {items} and "
            f"{profile.sizes.encoder.lens} / {profile.sizes.decoder.lens} lens {items} (encoder / decoder), "
            f"{profile.seeds.masks} random masks at 50%")


def runs_table(study: SeedStudy) -> pd.DataFrame:
    """Per claim, model and seed: verdict and effect [interval], as the ledger prints them."""
    rows = study.rows.assign(result=[claims.interval_text(r) for _, r in study.rows.iterrows()])
    order = pd.MultiIndex.from_frame(study.pooled[["claim", "role"]])
    return rows.pivot(index=["claim", "role"], columns="seed", values="verdict").add_prefix("seed ").join(
        rows.pivot(index=["claim", "role"], columns="seed", values="result").add_prefix("effect, seed ")).reindex(order)


def pooled_text(row) -> str:
    """``+1.2 pt [-0.4, +2.8], between-seed SD 0.8 pt (within 0.6) -> confirmed`` for one pooled row."""
    if pd.isna(row.get("pooled_effect")):
        return "not pooled (fewer than two tested runs)"
    number = lambda x: claims._number(row["claim"], x)  # noqa: E731
    spread = lambda x: number(x).lstrip("+")  # noqa: E731
    return (f"{number(row['pooled_effect'])} [{number(row['pooled_ci_low'])}, {number(row['pooled_ci_high'])}] over "
            f"{int(row['pooled_n'])} runs, between-seed SD {spread(row['between_sd'])} (within "
            f"{spread(row['within_sd'])}) -> {row['pooled_verdict']}")


def findings(study: SeedStudy, committed: int) -> str:
    """In words: which verdicts every run repeats, which change, and what the pool says where they change."""
    pooled = study.pooled
    if pooled["n_seeds"].max() == 1:
        return (f"One fine-tuning run per model (seed {committed}): this profile sets no extra seeds, so nothing here "
                f"says which verdicts would survive another seed; the figure shows the committed run's effects for the "
                f"rows the Rotten Tomatoes profile re-judges across four seeds.")
    kept = pooled[pooled["agree"] == pooled["n_seeds"]]
    moved = pooled[pooled["agree"] < pooled["n_seeds"]]
    n = int(pooled["n_seeds"].iloc[0])
    lines = [f"Across {n} fine-tuning runs (seed {committed}, the committed one, and {n - 1} more), {len(kept)} of "
             f"{len(pooled)} claim rows get the committed run's verdict in every run: "
             + "; ".join(f"{r.claim} ({r.role}, {r.stable.split(' ', 1)[1]})" for r in kept.itertuples()) + "."]
    if len(moved):
        lines.append(f"{len(moved)} change with the seed: " + "; ".join(
            f"{r.claim} ({r.role}: {r.stable}; pooled {pooled_text(r._asdict())})" for r in moved.itertuples()) + ".")
    return " ".join(lines)


def summary_values(study: SeedStudy) -> dict:
    """``seeds.<claim>.<role>.{verdicts, agree, stable, n_seeds, pooled_effect, pooled_ci_low, pooled_ci_high,
    pooled_verdict, between_sd, within_sd}`` and ``seeds.<role>.seed<k>.train_minutes``; none for a single run."""
    values = {}
    if study.pooled["n_seeds"].max() == 1:
        return values
    for row in study.pooled.to_dict("records"):
        key = keys.seeds(row["claim"], row["role"])
        values |= {f"{key}.{k}": row[k] for k in ("verdicts", "agree", "stable", "n_seeds", "pooled_effect",
                                                  "pooled_ci_low", "pooled_ci_high", "pooled_verdict", "between_sd",
                                                  "within_sd") if k in row and pd.notna(row[k])}
    return values | {keys.seeds(role, f"seed{seed}", "train_minutes"): minutes
                     for (role, seed), minutes in study.train_minutes.items()}
