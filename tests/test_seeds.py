"""The seed study's pooling (checked by simulation against a known truth), its per-row bookkeeping and its cache
keys."""
import numpy as np
import pytest
import pandas as pd

from anatomy_utils import stats
from anatomy_utils.base import profiles
from anatomy_utils.study import finetune, reseed, seeds


def _simulate(rng, k: int, truth: float, between: float, runs: int = 3000):
    """``runs`` seed studies of ``k`` runs: each run's true effect drawn around ``truth`` with SD ``between``, then
    measured with its own within-run standard error."""
    found = []
    for _ in range(runs):
        errors = rng.uniform(0.005, 0.02, k)
        effects = truth + rng.normal(0, between, k) + rng.normal(0, errors)
        found.append(stats.random_effects(effects, errors))
    return found


def test_the_pooled_interval_covers_the_mean_effect_across_seeds():
    rng = np.random.default_rng(0)
    for between in (0.0, 0.01, 0.03):
        pooled = _simulate(rng, 4, 0.01, between)
        coverage = np.mean([p["ci_low"] <= 0.01 <= p["ci_high"] for p in pooled])
        assert 0.94 <= coverage <= 1.0, (between, coverage)


def test_the_pooled_interval_widens_when_seeds_disagree():
    errors = [0.01] * 4
    agreeing = stats.random_effects([0.01, 0.012, 0.009, 0.011], errors)
    disagreeing = stats.random_effects([-0.03, 0.05, -0.01, 0.03], errors)
    assert agreeing["between_sd"] == 0.0 and disagreeing["between_sd"] > 0.02
    assert disagreeing["ci_high"] - disagreeing["ci_low"] > 2 * (agreeing["ci_high"] - agreeing["ci_low"])


def test_exact_runs_that_differ_are_pooled_by_their_spread_not_to_a_point():
    pooled = stats.random_effects([0.001, 0.002, 0.0015, 0.0025], [0.0] * 4)
    assert pooled["ci_low"] < 0.001 and pooled["ci_high"] > 0.0025
    assert abs(pooled["between_sd"] - np.std([0.001, 0.002, 0.0015, 0.0025], ddof=1)) < 1e-9


def _row(seed, verdict, delta, low, high):
    return {"claim": "rule_keeps_accuracy", "role": "encoder", "seed": seed, "verdict": verdict, "delta": delta,
            "ci_low": low, "ci_high": high, "level": 0.95, "null": -0.02, "margin": np.nan, "direction": "+"}


def test_pool_counts_agreement_and_leaves_untested_runs_out_of_the_effect():
    rows = pd.DataFrame([_row(0, "confirmed", 0.0, -0.01, 0.01), _row(1, "inconclusive", -0.015, -0.03, 0.0),
                         _row(2, "confirmed", 0.002, -0.008, 0.012),
                         {"claim": "rule_keeps_accuracy", "role": "encoder", "seed": 3, "verdict": "not testable"}])
    found = seeds.pool(rows, committed=0)
    assert found["verdicts"] == "confirmed, inconclusive, confirmed, not testable"
    assert found["agree"] == 2 and found["n_seeds"] == 4 and found["pooled_n"] == 3
    assert found["stable"] == "2/4 confirmed, 1/4 inconclusive, 1/4 not testable"
    assert found["pooled_ci_low"] < found["pooled_effect"] < found["pooled_ci_high"]
    assert found["pooled_verdict"] == stats.verdict(found["pooled_ci_low"], found["pooled_ci_high"], -0.02, None, "+")


def test_each_training_seed_has_its_own_checkpoint_and_the_profiles_seed_is_01s():
    profile = profiles.load_profile("smoke")
    own = reseed.checkpoint(profile, "encoder", profile.seed)
    others = {reseed.checkpoint(profile, "encoder", s) for s in (1, 2)}
    assert own == finetune.checkpoint_dir(profile, "encoder")
    assert len(others) == 2 and own not in others and all(p.parent == own.parent for p in others)


def test_a_bounded_statistic_is_pooled_on_its_own_scale_and_stays_in_range():
    shares = pd.DataFrame([_row(s, "confirmed", d, max(d - 0.01, 1e-6), d + 0.01) | {"claim": "sparse_neurons",
                                                                                      "null": 0.05, "direction": "-"}
                           for s, d in enumerate((0.001, 0.02, 0.0005, 0.03))])
    found = seeds.pool(shares, committed=0)
    assert found["scale"] == "logit" and 0 < found["pooled_ci_low"] < found["pooled_ci_high"] < 1
    raw = stats.random_effects(shares["delta"], (shares["ci_high"] - shares["ci_low"]) / (2 * 1.959964), 0.95)
    assert raw["ci_low"] < 0  # pooled on the raw scale, the same runs leave the range of a share
    assert found["between_sd"] == pytest.approx(raw["between_sd"])  # the spread is reported in the share's own unit
    at_bound = shares.assign(delta=[0.0, 0.02, 0.0005, 0.03])
    assert "not_pooled" in seeds.pool(at_bound, committed=0) and "pooled_effect" not in seeds.pool(at_bound, 0)
