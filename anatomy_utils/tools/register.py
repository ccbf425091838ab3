"""Draft a profile's registration from its pilot: ``python -m anatomy_utils.tools.register PROFILE`` prints the YAML
of ``params/registration/<profile>.yaml`` (commit it before the confirmation runs; after that it is frozen).

What it writes comes from four places: the alternatives below (stated before any confirmation review is read: the
paper's figure where it gives one, else half the margin or a stated distance from the bar), the sizes given here (what
the 100-minute budget buys), the pilot's variance at each row (its interval's width, or for rows against random
masks the two variance components), scaled to the registered size: a nuisance parameter, never the pilot's effect; and
the primary family's Holm level, the largest of ``FAMILY_ALPHAS`` at which the simulated familywise error of this very
design, plus two Monte Carlo standard errors, stays within 5% (the discrete instruments err a little above their
nominal level at these nulls). A new draft over an existing registration is its next version, reading the fresh
reviews after the ones the earlier versions read.
"""
from __future__ import annotations

import datetime
import math
import sys

import yaml

from ..base import keys, summary
from ..base.profiles import load_profile
from ..study import claims, confirm, registration

# claim -> (alternative as a function of the profile's claims config, where it comes from)
ALTERNATIVES = {
    "finetune_accuracy": (lambda c: 0.0, "the paper's own figure: the model reaches the published reference"),
    "late_decision": (lambda c: c.decision_auc - 0.05, "a lens 0.05 below the bar at some late layer (the paper: the "
                                                       "decision surges after layer 8 of 12)"),
    "sparse_neurons": (lambda c: 0.025, "half the paper's 5% bar"),
    "same_neurons": (lambda c: 0.75, "three quarters of a top-k set shared by two reviews (the paper: the same "
                                     "neurons for every input)"),
    "high_cosine_neurons_matter": (lambda c: -c.accuracy_margin / 2, "half the margin"),
    "rule_keeps_accuracy": (lambda c: -0.001, "the paper's own figure: 85.2% -> 85.1% at 30%"),
    "rule_beats_random": (lambda c: 0.78 - 0.582, "the paper's own figures: the rule's 78% at 70% pruned (a floor for "
                                                  "its 50%) against random masks' 58.2% at 50%"),
    "lower_layers_raise_accuracy": (lambda c: c.accuracy_margin / 2, "half the margin"),
    "best_score_keeps_accuracy": (lambda c: -c.accuracy_margin / 2, "half the margin"),
    "refit_keeps_accuracy": (lambda c: -c.accuracy_margin / 2, "half the margin"),
}
# Which of a model's sizes each claim reads: "reviews" (dense and single pruned models), "lens", "masks", "causal".
READS = {"finetune_accuracy": "reviews", "late_decision": "lens", "sparse_neurons": "lens", "same_neurons": "lens",
         "high_cosine_neurons_matter": "causal", "rule_keeps_accuracy": "reviews", "rule_beats_random": "masks",
         "lower_layers_raise_accuracy": "reviews", "best_score_keeps_accuracy": "reviews",
         "refit_keeps_accuracy": "reviews"}
SIZES = {"default": {"encoder": {"reviews": 2000, "lens": 1000, "masks": 400, "causal": 400, "mask_count": 10},
                     "decoder": {"reviews": 1000, "lens": 1000, "masks": 200, "causal": 200, "mask_count": 10}},
         # sentences are short: the whole fresh pool; the masks' reviews are capped so that simulating the design's
         # familywise error (every resample of masks x reviews, for each of 2,000 designs) stays within minutes
         "rotten_tomatoes": {role: {"reviews": 2700, "lens": 1000, "masks": 500, "causal": 1000, "mask_count": 10}
                             for role in ("encoder", "decoder")},
         "smoke": {role: {"reviews": 100, "lens": 50, "masks": 50, "causal": 50, "mask_count": 3}
                   for role in ("encoder", "decoder")}}  # the code path only: its numbers mean nothing
NOT_CONFIRMED = {
    "neurons_by_depth": "descriptive: the neurons above the threshold are a handful fixed by the weights; no "
                        "instrument here can come out both ways",
    "zeroing_speeds_up": "a timing, not a review sample: re-measured by `make bench`, judged by its A/A gate",
    "removal_speeds_up": "a timing, not a review sample: re-measured by `make bench`, judged by its A/A gate",
}
PRIMARY = {f"{claim}.{role}" for claim, role in claims.PRIMARY}
FAMILY_ALPHAS = (0.05, 0.045, 0.04, 0.035, 0.03, 0.025, 0.02)


def calibrated_alpha(design: dict, datasets: int = 2000, resamples: int = 1000) -> tuple[float, float]:
    """The largest family level of ``FAMILY_ALPHAS`` at which the design's simulated familywise error plus two Monte
    Carlo standard errors is at most 5%, with that error."""
    for alpha in FAMILY_ALPHAS:
        error = confirm.familywise_error(registration.parse(design | {"family_alpha": alpha}), datasets, resamples)
        if error + 2 * math.sqrt(error * (1 - error) / datasets) <= registration.ALPHA:
            return alpha, error
    raise registration.RegistrationError(f"no family level in {FAMILY_ALPHAS} keeps the simulated familywise error "
                                         "within 5%: check the primary rows' instruments")


def _version(profile_name: str) -> tuple[int, int]:
    """The next version's number and the fresh reviews the earlier versions read."""
    if not registration.path(profile_name).exists():
        return 1, 0
    earlier = registration.load(profile_name)
    return earlier.version + 1, earlier.fresh_from + max(earlier.reviews.values())


def _choice(values: dict, role: str, claim: str) -> dict:
    if claim == "best_score_keeps_accuracy":
        key = keys.scores(role, "best")
        return {"score": values[f"{key}.score"], "setting": values[f"{key}.setting"]}
    sparsity = 0.7
    key = keys.scores(role, "refit", keys.percent(sparsity))
    return {"score": values[f"{key}.score"], "setting": values[f"{key}.setting"], "sparsity": sparsity}


def draft(profile_name: str, mask_seed: int = 1000) -> str:
    """The registration's YAML for ``profile_name``, from its pilot's stored outputs and ``SIZES``."""
    profile, sizes = load_profile(profile_name), SIZES[profile_name]
    pilot, values = claims.ledger(profile), summary.read(profile_name)
    rows, not_confirmed = {}, {}
    for row in pilot.to_dict("records"):
        row = {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}  # NaN: not set
        key, claim, role = f"{row['claim']}.{row['role']}", row["claim"], row["role"]
        if claim in NOT_CONFIRMED or row["verdict"] == "not testable":
            not_confirmed[key] = NOT_CONFIRMED.get(claim) or row["reason"]
            continue
        size = sizes[role]
        n = size[READS[claim]]
        masks = size["mask_count"] if READS[claim] in ("masks", "causal") else None
        se = registration.planning_se((row["ci_high"] - row["ci_low"]) / 2, row["level"], int(row["n"]), n,
                                      row.get("mask_var"), row.get("review_var"), masks)
        alternative, source = ALTERNATIVES[claim]
        rows[key] = {"null": float(row["null"]), "direction": row["direction"],
                     "family": "primary" if key in PRIMARY else "secondary",
                     "alternative": round(float(alternative(profile.claims)), 4), "alternative_source": source,
                     "reviews": n, "planning_se": round(float(se), 5),
                     "margin": row["margin"], "masks": masks}
        if masks is not None:
            rows[key] |= {part: round(float(row[part]), 6) for part in ("mask_var", "review_var")}
        if claim in ("best_score_keeps_accuracy", "refit_keeps_accuracy"):
            rows[key]["choice"] = _choice(values, role, claim)
    version, fresh_from = _version(profile_name)
    design = {"profile": profile_name, "version": version,
              "frozen": f"{datetime.date.today()}, from the pilot of commit {values.get(keys.run('commit'))}",
              "reviews": {role: s["reviews"] for role, s in sizes.items()}, "fresh_from": fresh_from,
              "mask_seed": mask_seed, "rows": rows, "not_confirmed": not_confirmed}
    alpha, error = calibrated_alpha(design)
    return (f"# The registered design of the {profile_name} profile's confirmation, drafted by `python -m "
            f"anatomy_utils.tools.register {profile_name}` from its pilot\n# and frozen by its commit, before `make "
            f"confirm` read a fresh review. Do not edit it: a changed design is a new version.\n# family_alpha: the "
            f"largest of {', '.join(map(str, FAMILY_ALPHAS))} whose simulated familywise error + 2 SE <= 5% "
            f"({error:.3f} on 2,000 designs)\n"
            + yaml.safe_dump({"family_alpha": alpha} | design, sort_keys=False, width=120))


if __name__ == "__main__":
    print(draft(sys.argv[1] if len(sys.argv) > 1 else "default"), end="")
