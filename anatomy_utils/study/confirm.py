"""The confirmation (``make confirm``): the registered design (``registration``) run on fresh reviews that no
exploratory stage (01-07) has read, judged by the ledger's own instruments at the registered levels.

The fresh reviews continue the profile's own stratified draw: the same seeded permutation of each label that gives
test, validation and train gives, after them, the confirmation's reviews, so none of them is in any split a pilot stage
reads (checked by review id, the sha256 of the text). Each model's outputs are written as the pilot's are (lens, neuron
sets, masking check, predictions) under ``figures/<profile>/confirm/v<version>/`` and read back as a
``claims.Outputs``; the primary family is judged by Holm's step-down, the rest at 95% each.
"""
from __future__ import annotations

import gc
import hashlib
import json
import time
from dataclasses import replace

import numpy as np
import pandas as pd
from datasets import Dataset

from . import anatomy, claims, registration, score_study, seeds
from .. import stats
from ..base import data, keys, summary
from ..base.cache import atomic_write_bytes
from ..base.profiles import Profile, load_profile
from ..base.runtime import FIGURES, ROOT
from ..core import pruning
from ..core.classifier import encode, predict
from ..core.families import ffn_widths
from .finetune import encoded_split, fine_tune
from .predictions import Store

SPLIT = "confirm"


def review_id(text: str) -> str:
    """A review's identity: the sha256 of its text (the splits are deduplicated, so a text is one review)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fresh_reviews(profile: Profile, count: int, skip: int = 0) -> Dataset:
    """``count`` label-balanced reviews drawn after the profile's test, validation and train splits (and after the
    ``skip`` fresh ones earlier confirmations read) from the same seeded permutation, so the pilot's splits do not move
    and none of these is in them (checked by id)."""
    cfg = profile.data
    earlier = {"earlier": skip} if skip else {}  # (absent at 0: the draw of a first version stays as it was)
    train_pool, test_pool, counts = data._pools(cfg)
    cleaned = data.deduplicate(train_pool)
    try:
        if test_pool is None:
            drawn = data.stratified_split(cleaned, {"test": cfg.test, "validation": cfg.validation, "train": cfg.train,
                                                    **earlier, SPLIT: count}, profile.seed)
        else:
            test_pool = data.deduplicate(test_pool[~test_pool["text"].isin(cleaned["text"])])
            drawn = data.stratified_split(test_pool, {"test": cfg.test, **earlier, SPLIT: count}, profile.seed)
    except data.DataError as error:
        raise data.DataError(f"{counts['where']}: no room for {count} fresh reviews after the profile's splits "
                             f"and the {skip} earlier confirmations read ({error})") from None
    read = data.load_splits(cfg, profile.seed)
    if list(drawn["test"]["text"]) != list(read["test"]["text"]):
        raise RuntimeError("the fresh draw does not reproduce the profile's test split: the split code changed")
    earlier_read = [drawn["earlier"]] if skip else []
    seen = {review_id(t) for split in [*read.values(), *earlier_read] for t in split["text"]}
    fresh = drawn[SPLIT]
    overlap = seen & set(map(review_id, fresh["text"]))
    if overlap:
        raise RuntimeError(f"{len(overlap)} confirmation reviews are in the pilot's splits or an earlier version's")
    return Dataset.from_pandas(fresh, preserve_index=False)


def _encoded(profile: Profile, role: str, tokenizer, reviews: Dataset, count: int):
    cfg = getattr(profile, role)
    rows = reviews.select(range(count))
    return encode(tokenizer, rows["text"], rows["label"], cfg.max_tokens, cfg.truncation)


def _sizes(design: registration.Registration, role: str) -> dict:
    """The reviews each part of the run reads for ``role``: the largest n of the rows it serves."""
    rows = {r.claim: r for r in design.rows.values() if r.role == role}
    size = lambda *names: max([rows[n].reviews for n in names if n in rows], default=0)  # noqa: E731
    return {"lens": size("late_decision", "sparse_neurons", "same_neurons"),
            "reviews": size("finetune_accuracy", "rule_keeps_accuracy", "best_score_keeps_accuracy",
                            "refit_keeps_accuracy", "lower_layers_raise_accuracy"),
            "masks": size("rule_beats_random"), "causal": size("high_cosine_neurons_matter"),
            "mask_count": max([rows[n].masks or 0 for n in ("rule_beats_random", "high_cosine_neurons_matter")
                               if n in rows], default=0)}


def measure(profile: Profile, design: registration.Registration, role: str, reviews: Dataset) -> dict:
    """Every output of ``role`` the registered rows read, written under the version's folder; returns the summary
    values the ledger reads (per model: each model has its own n)."""
    folder = str(design.folder().relative_to(FIGURES))
    size = _sizes(design, role)
    clf, tokenizer, _ = fine_tune(profile, role)  # the pilot's checkpoint (cached)
    rows = {r.claim: r for r in design.rows.values() if r.role == role}
    saved, cosines = seeds.anatomy_tables(profile, role, clf, tokenizer, folder, reviews.select(range(size["lens"])))
    store = Store(profile.name, role, clf, tokenizer.pad_token_id, getattr(profile, role).eval_batch_size)
    choice = rows["best_score_keeps_accuracy"].choice
    data_ = _encoded(profile, role, tokenizer, reviews, size["reviews"])
    values = seeds.pruned_runs(profile, role, store, saved, tokenizer, data_,
                               _encoded(profile, role, tokenizer, reviews, size["masks"]), size["mask_count"],
                               (choice["score"], choice["setting"]), SPLIT, design.mask_seed)
    if "refit_keeps_accuracy" in rows:
        refit = rows["refit_keeps_accuracy"].choice
        scored = score_study.compute(profile, role, clf, tokenizer, saved["similarity"], names=[refit["score"]])
        score_study.run_pruned(profile, store, scored, refit["score"], 0, refit["sparsity"], refit["setting"], SPLIT,
                               data_)
        key = keys.scores(role, "refit", keys.percent(refit["sparsity"]))
        values |= {f"{key}.score": refit["score"], f"{key}.setting": refit["setting"]}
    if "lower_layers_raise_accuracy" in rows:
        for rule in claims.lower_layers_pair(profile, role, len(ffn_widths(clf.body))):
            thresholds, one_sided = rule.thresholds(saved["layer_similarity"])
            store.run(claims.grid_name(rule), SPLIT, data_,
                      pruning.keep_by_threshold(saved["similarity"], thresholds, one_sided))
    if "high_cosine_neurons_matter" in rows:
        _masking_check(profile, design, role, clf, _encoded(profile, role, tokenizer, reviews, size["causal"]),
                       cosines, tokenizer.pad_token_id)
    anatomy.save_table(store.table(), folder, f"predictions_{role}")
    atomic_write_bytes(design.folder() / f"values_{role}.json", json.dumps(values, indent=1).encode())
    del clf, store
    gc.collect()  # one model in memory at a time
    return values


def _masking_check(profile: Profile, design: registration.Registration, role: str, clf, data_, cosines: np.ndarray,
                   pad_id: int) -> None:
    """03's masking check on ``data_``: the top 1% of neurons by mean cosine over the lens reviews, and as many random
    ones under each of the registered masks (seeds from ``mask_seed``), saved as 03 saves it."""
    paper_score = cosines.mean(axis=0)
    k = max(1, round(profile.anatomy.ablation_fraction * paper_score.size))
    rng = np.random.default_rng(design.mask_seed)
    drops = {"top_cosine": pruning.top_k_keep(paper_score, k)} | {
        anatomy.RANDOM_MASK.format(m): pruning.top_k_keep(rng.random(paper_score.shape), k)
        for m in range(design.rows[f"high_cosine_neurons_matter.{role}"].masks)}
    _, logits = anatomy.ablation(clf, data_, pad_id, getattr(profile, role).eval_batch_size, drops)
    anatomy.save_table(anatomy.logits_frame(data_.labels, logits), str(design.folder().relative_to(FIGURES)),
                       f"ablation_{role}")


def outputs(profile: Profile, design: registration.Registration, role: str) -> claims.Outputs:
    """One model's stored confirmation outputs as the ledger reads them (with its own summary values: each model has
    its own n)."""
    folder = design.folder()
    if not (folder / f"values_{role}.json").exists():
        raise claims.LedgerInputsMissing(f"No confirmation of the {role} under {folder}: run `make confirm "
                                         f"PROFILE={profile.name}`.")
    values = json.loads((folder / f"values_{role}.json").read_text())
    predictions = pd.read_csv(folder / f"predictions_{role}.csv.gz")
    judged = replace(profile, claims=replace(profile.claims, looks=None))  # one look, registered in advance
    return claims.Outputs(judged, values, predictions, design.folder(), split=SPLIT)


def holm(judge, keys_: list[str], alpha: float = registration.ALPHA) -> dict:
    """Holm's step-down, read off intervals: with k rows left, each is judged at 1 - alpha / k; the decided ones
    leave and the rest are judged again at the laxer level; it stops when none is decided. ``judge(key, level)``
    returns a ledger row. Each row keeps the interval of the step that decided it (or of the last step)."""
    rows, left = {}, list(keys_)
    while left:
        level = 1 - alpha / len(left)
        judged = {key: judge(key, level) for key in left}
        rows |= judged
        decided = [key for key in left if judged[key]["verdict"] != "inconclusive"]
        if not decided:
            break
        left = [key for key in left if key not in decided]
    return rows


def ledger(profile: Profile, design: registration.Registration) -> pd.DataFrame:
    """The confirmation's ledger from its stored outputs (no model is loaded): every registered row judged on its
    model's outputs, the primary family by Holm, each with its registered power, its one-sided bound and, when
    undecided, why."""
    out = {role: outputs(profile, design, role) for role in design.reviews}

    def judge(key: str, level: float) -> dict:
        row = design.rows[key]
        return claims.CLAIMS[row.claim](replace(out[row.role], levels={key: level}), row.role)

    rows = holm(judge, design.primary(), design.family_alpha) | {key: judge(key, stats.LEVEL) for key in design.rows
                                            if design.rows[key].family != "primary"}
    table = pd.DataFrame([rows[key] | _registered(design.rows[key], rows[key]) for key in design.rows])
    return claims.finish(table, out[next(iter(out))])


def _registered(row: registration.Row, judged: dict) -> dict:
    number = lambda v: claims._number(row.claim, v)  # noqa: E731
    found = {"registered": True, "power": row.power, "alternative": row.alternative, "n_registered": row.reviews,
             "family": row.family}
    if judged["verdict"] == "not testable":
        return found
    return found | {"bound": judged["ci_low"] if row.direction == "+" else judged["ci_high"],
                    "bound_text": registration.bound_text(judged | {"direction": row.direction}, number)}


def _null_data(rng, row: registration.Row) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic data set of a primary row with its truth at the null, its registered size and its planning
    variance: paired 0/1 outcomes whose discordance gives the planning standard error, or a model against random
    masks drawn from a distribution with the planning between-mask variance (truth: the model minus the
    distribution's mean) on reviews with the planning per-review variance."""
    n = row.reviews
    if row.masks is None:
        discordant = min(max(row.planning_se ** 2 * n + row.null ** 2, abs(row.null)), 1.0)
        up, down = (discordant + row.null) / 2, (discordant - row.null) / 2
        cells = rng.choice(3, n, p=[up, down, 1 - up - down])
        return (cells == 0).astype(float), (cells == 1).astype(float)
    accuracy = 0.5 + np.sqrt(max(0.25 - min(row.review_var, 0.5) / 2, 0.0))  # 2p(1 - p): a difference's variance
    masks = np.clip(accuracy + row.null + rng.normal(0, np.sqrt(row.mask_var), row.masks), 0, 1)
    return ((rng.random(n) < accuracy + row.null).astype(float),
            (rng.random((row.masks, n)) < masks[:, None]).astype(float))


def familywise_error(design: registration.Registration, datasets: int = 2000, resamples: int = 4000,
                     seed: int = 0) -> float:
    """The primary family's familywise error of the design as registered, by simulation: every primary row's truth
    at its null, its instrument on synthetic data of its registered size and planning variance, Holm's step-down
    over the family; the share of ``datasets`` in which any row is confirmed or refuted (wrongly: at the null).
    Two-level rows resample ``resamples`` times, as the ledger does."""
    rng = np.random.default_rng(seed)
    rows = {key: design.rows[key] for key in design.primary()}
    wrong = 0
    for _ in range(datasets):
        drawn = {key: _null_data(rng, row) for key, row in rows.items()}

        def judge(key: str, level: float) -> dict:
            (a, b), row = drawn[key], rows[key]
            found = (stats.matched_pairs(a, b, level) if row.masks is None else
                     stats.two_level(a, b, level, resamples, int(rng.integers(1 << 30))))
            return stats.judge(found, row.null, row.margin, row.direction)

        wrong += any(r["verdict"] in ("confirmed", "refuted")
                     for r in holm(judge, list(rows), design.family_alpha).values())
    return wrong / datasets


def predicted_minutes(profile: Profile, design: registration.Registration, sample: int = 32) -> dict:
    """Minutes each model's confirmation should take: its seconds per review, measured now on the first ``sample``
    pilot test reviews (read before; no fresh one), times the review passes the design makes."""
    minutes = {}
    for role in design.reviews:
        size = _sizes(design, role)
        models = 5 + 2 * (f"lower_layers_raise_accuracy.{role}" in design.rows)  # dense, rule 30/50, best, refit, grid
        passes = (size["lens"] + models * size["reviews"] + size["mask_count"] * (size["masks"] + size["causal"])
                  + 2 * size["causal"])
        clf, tokenizer, _ = fine_tune(profile, role)
        data_ = encoded_split(profile, role, tokenizer, "test", sample)
        batch = getattr(profile, role).eval_batch_size
        predict(clf, encoded_split(profile, role, tokenizer, "test", batch), tokenizer.pad_token_id, batch)  # warm-up
        start = time.perf_counter()
        predict(clf, data_, tokenizer.pad_token_id, batch)
        minutes[role] = passes * (time.perf_counter() - start) / sample / 60
    return minutes


def design_table(design: registration.Registration) -> pd.DataFrame:
    """The registered design, one row per ledger row: family, the fresh reviews (and masks) it reads, the pre-stated
    alternative, the planning standard error and the power there."""
    number = claims._number
    return pd.DataFrame([{"row": key, "family": r.family, "n": r.reviews, "masks": r.masks or "–",
                          "null": number(r.claim, r.null), "alternative": number(r.claim, r.alternative),
                          "planning SE": claims._number(r.claim, r.planning_se).lstrip("+"),
                          "power": f"{r.power:.2f}"} for key, r in design.rows.items()]).set_index("row")


def registered(profile: Profile) -> registration.Registration | None:
    """The profile's registration, or None when it has none."""
    return registration.load(profile.name) if registration.path(profile.name).exists() else None


def stored_ledger(profile: Profile) -> pd.DataFrame | None:
    """The confirmation's ledger rebuilt from its stored outputs, or None until ``make confirm`` has run on the
    profile's current registration."""
    design = registered(profile)
    if design is None or summary.read(profile.name).get(keys.registration("sha256")) != design.sha256:
        return None
    return ledger(profile, design)


def header(profile: Profile) -> str:
    """What the confirmation of ``profile`` is, in a few lines: its registration and digest, the expected number of
    decided rows, the simulated familywise error, and whether it has run (and how many rows it decided)."""
    design = registered(profile)
    if design is None:
        return (f"No registration for profile {profile.name} (params/registration/{profile.name}.yaml): its ledger is "
                f"the pilot's alone.")
    values = summary.read(profile.name)
    lines = [f"registration v{design.version} ({registration.path(profile.name).relative_to(ROOT)}, sha256 "
             f"{design.sha256[:16]}), frozen {design.frozen}",
             f"{len(design.rows)} registered rows ({len(design.primary())} primary, Holm at "
             f"{1 - design.family_alpha:.1%} familywise), "
             f"expected to decide {design.expected_decided():.1f} of them (the sum of their powers at the pre-stated "
             f"alternatives); not confirmed: {', '.join(design.not_confirmed)}"]
    if values.get(keys.registration("sha256")) != design.sha256:
        return "\n".join(lines + [f"not run yet on this registration: `make confirm PROFILE={profile.name}`"])
    return "\n".join(lines + [
        f"ran in {values[keys.registration('confirm_minutes')]:.0f} min on "
        + ", ".join(f"{n:,} fresh {role} reviews" for role, n in design.reviews.items())
        + f"; decided {values[keys.registration('decided')]} of {values[keys.registration('rows')]} rows; simulated "
          f"familywise error of the primary family at its nulls: {values[keys.claim('familywise_error')]:.3f}"])


def run(profile_name: str) -> pd.DataFrame:
    """``make confirm``: check the registration is frozen, print the predicted minutes, measure both models on fresh
    reviews, judge, and record ``claims.*`` (the confirmation's ledger), ``registration.*`` and the minutes."""
    profile, design = load_profile(profile_name), registration.load(profile_name)
    registration.check_frozen(design)
    start = time.perf_counter()
    predicted = predicted_minutes(profile, design)
    print(f"Registration v{design.version} of {profile_name} (sha256 {design.sha256[:12]}): "
          + "; ".join(f"{role} on {n:,} fresh reviews, about {predicted[role]:.0f} min" for role, n in
                      design.reviews.items()))
    reviews = fresh_reviews(profile, max(design.reviews.values()), design.fresh_from)
    registration.stamp(design)
    for role, count in design.reviews.items():
        measure(profile, design, role, reviews.select(range(count)))
        print(f"  {role}: done after {(time.perf_counter() - start) / 60:.1f} min")
    table = ledger(profile, design)
    minutes = (time.perf_counter() - start) / 60
    summary.record(profile_name, claims.summary_values(table) | {
        keys.claim("familywise_error"): familywise_error(design),
        keys.registration("sha256"): design.sha256, keys.registration("version"): design.version,
        keys.registration("expected_decided"): design.expected_decided(),
        keys.registration("decided"): int((~table["verdict"].isin(["inconclusive", "not testable"])).sum()),
        keys.registration("rows"): len(table), keys.registration("confirm_minutes"): minutes,
        **{keys.registration(role, "predicted_minutes"): m for role, m in predicted.items()}},
        forget=(keys.under(keys.claim()),))
    print(claims.table_text(table), claims.conclusions(table), sep="\n\n")
    return table


def main(profile_name: str) -> int:
    """``make confirm``: run the confirmation, or say in one line why it cannot run."""
    try:
        run(profile_name)
    except (registration.RegistrationError, claims.LedgerInputsMissing, data.DataError) as error:
        print(error)
        return 2
    return 0
