import numpy as np
import pandas as pd
import pytest

from anatomy_utils.study import score_study
from anatomy_utils.study.predictions import Prediction


def selection(rows):
    return pd.DataFrame(rows, columns=["score", "setting", "accuracy", "loss"])


def test_validation_loss_decides_the_setting_and_the_best_score():
    table = selection([("taylor", "uniform", 0.80, 0.40), ("taylor", "global", 0.90, 0.50),
                       ("taylor", "uniform + repair", 0.85, 0.35), ("taylor", "global + repair", 0.70, 0.38),
                       ("cosine", "uniform", 0.75, 0.45), ("cosine", "global", 0.75, 0.45)])
    chosen = score_study.chosen_settings(table)
    assert chosen["taylor"] == "uniform + repair"  # the lowest loss, although "global" is more accurate
    assert chosen["cosine"] == "uniform"  # an exact tie goes to the simpler, earlier setting
    assert chosen["mirror"] == chosen["random"] == "uniform"  # controls are never chosen on validation
    assert score_study.best(table) == "taylor" and score_study.best(table, 1) == "cosine"


def test_bootstrap_stability_of_a_clear_and_of_a_coin_toss_choice():
    table = selection([("a", "uniform", 0.9, 0.2), ("a", "global", 0.8, 0.6), ("b", "uniform", 0.8, 0.50),
                       ("b", "global", 0.8, 0.51)])
    rng = np.random.default_rng(0)
    losses = {("a", "uniform"): np.full(200, 0.2) + rng.normal(0, 0.01, 200),
              ("a", "global"): np.full(200, 0.6) + rng.normal(0, 0.01, 200),
              ("b", "uniform"): rng.normal(0.5, 0.3, 200), ("b", "global"): rng.normal(0.5, 0.3, 200)}
    stable = score_study.stability(table, losses, resamples=400)
    assert stable["a"] == 1.0 and stable["best score"] == 1.0
    assert 0.05 < stable["b"] < 0.95  # two settings with the same loss: the choice is a coin toss


def test_selection_table_stars_the_chosen_setting_and_reports_stability():
    table = selection([(score, setting, 0.5 + 0.1 * i, 0.5 - 0.1 * i) for score in ("cosine", "taylor")
                       for i, setting in enumerate(score_study.SETTINGS)])
    shown = score_study.selection_table(table, {"cosine": 0.5, "taylor": 0.97})
    assert list(shown.columns) == [*score_study.SETTINGS, "same choice (bootstrap)"]
    assert shown.loc["taylor", "global + refit"] == "0.900 / 0.100 *"  # the last setting has the lowest loss here
    assert shown.loc["taylor", "uniform"] == "0.500 / 0.500"
    assert shown.loc["taylor", "same choice (bootstrap)"] == "97%"


def prediction(correct, labels):
    logits = np.where(np.asarray(correct) == 1, 1.0, -1.0) * (2 * labels - 1)
    return Prediction("x", "test", logits, labels)


def test_budget_table_and_comparisons_are_paired_on_the_same_reviews():
    labels = np.array([1, 0] * 50)
    dense = prediction(np.ones(100), labels)
    runs = {("taylor", "global", 0.5, 0): prediction(np.r_[np.ones(95), np.zeros(5)], labels),
            ("cosine", "global", 0.5, 0): prediction(np.r_[np.ones(70), np.zeros(30)], labels),
            ("random", "global", 0.5, 0): prediction(np.r_[np.zeros(30), np.ones(70)], labels),
            ("random", "global", 0.5, 1): prediction(np.r_[np.ones(60), np.zeros(40)], labels),
            "dense": dense}
    results = pd.DataFrame([{"score": k[0], "setting": k[1], "sparsity": k[2], "seed": k[3], "accuracy": p.accuracy}
                            | p.moved(dense) for k, p in runs.items() if k != "dense"])
    table = score_study.budget_table(results, runs, 0.02).set_index("score")
    assert table.loc["taylor", "drop"] == pytest.approx(0.05) and table.loc["taylor", "n"] == 100
    assert table.loc["taylor", "drop_ci_low"] >= 0 and table.loc["taylor", "agreement"] == pytest.approx(0.95)
    assert table.loc["random", "accuracy"] == pytest.approx(0.65)  # the seed mean
    runs |= {("mirror", "uniform", 0.5, 0): prediction(np.r_[np.ones(90), np.zeros(10)], labels),
             ("random", "uniform", 0.5, 0): prediction(np.r_[np.zeros(40), np.ones(60)], labels)}
    chosen = {"taylor": "global", "cosine": "global"}
    compared = score_study.comparisons(runs, chosen, "taylor", "cosine", 0.02).set_index("key")
    assert compared.loc["best_vs_cosine", "delta"] == pytest.approx(0.25)
    assert compared.loc["best_vs_cosine", "verdict"] == "higher"
    assert compared.loc["cosine_vs_random", "delta"] == pytest.approx(0.05)  # 0.70 vs the seeds' mean 0.65
    assert compared.loc["cosine_vs_random", "verdict"] == "inconclusive"  # two seeds 10 pt apart: no verdict
    assert compared.loc["cosine_vs_random", "masks"] == 2 and compared.loc["cosine_vs_random", "mde"] > 0
    assert compared.loc["mirror_vs_random", "verdict"] == "higher"  # the control beats random here
    agreement = pd.DataFrame([[1.0, 0.34], [0.34, 1.0]], index=["a", "b"], columns=["a", "b"])
    lines = score_study.control_findings(compared.reset_index(), agreement, 0.5)
    assert "MISBEHAVES" in lines[0]
    assert "overlap by 0.333" in lines[1] and "1 of 1 score pairs" in lines[1]


def test_the_best_refit_is_chosen_among_the_refit_rows_and_its_refusals_are_shown():
    rows = {("taylor", "global + repair"): (0.90, 0.20), ("taylor", "global + refit"): (0.88, 0.30),
            ("cosine", "global + refit"): (0.85, 0.25)}
    table = selection([(score, setting, *rows.get((score, setting), (0.5, 0.9))) for score in ("cosine", "taylor")
                       for setting in score_study.SETTINGS])
    assert score_study.best_refit(table) == ("cosine", "global + refit")  # lowest loss among refits, not overall
    refused = [2 if (s, t) == ("taylor", "global + refit") else 0 for s, t in zip(table["score"], table["setting"])]
    shown = score_study.selection_table(table.assign(refused=refused), {"cosine": 0.9, "taylor": 0.8})
    assert shown.loc["taylor", "global + refit"] == "0.880 / 0.300 (2 refused)"
    assert shown.loc["taylor", "global + repair"] == "0.900 / 0.200 *"


def test_refit_values_name_the_keys_of_the_issue_and_keep_drop_as_dense_minus_pruned():
    checked = pd.DataFrame([{"score": "taylor", "setting": "global + refit", "sparsity": 0.5, "accuracy": 0.9, "n": 400,
                             "drop": 0.01, "drop_ci_low": -0.01, "drop_ci_high": 0.03, "prune_seconds": 12.0,
                             "fell_back": 1}])
    speeds = pd.DataFrame([{"speedup": 1.3, "speedup_ci_low": 1.29, "speedup_ci_high": 1.31, "ceiling": 1.4,
                            "ceiling_time": 1.35, "speedup_vs_ceiling": 0.93, "speedup_vs_ceiling_time": 0.96}])
    values = score_study.refit_values("encoder", checked, speeds)
    assert values["scores.encoder.refit.p50.accuracy_drop"] == 0.01
    assert ({f"scores.encoder.refit.p50.{k}" for k in ("drop_ci_low", "drop_ci_high", "n", "prune_seconds")}
            <= set(values))
    line = score_study.refit_findings("encoder", checked)[0]
    assert "pruned minus dense -1.0 pt [-3.0, +1.0]" in line and "1 layer fit(s) refused" in line
    assert score_study.refit_values("encoder", None, None) == {} and score_study.refit_findings("encoder", None) == []


def test_a_drop_table_is_shown_as_pruned_minus_dense_in_points():
    table = pd.DataFrame({"score": ["taylor", "cosine"], "drop": [0.01, -0.02], "drop_ci_low": [-0.01, -0.05],
                          "drop_ci_high": [0.03, -0.01], "verdict": ["inconclusive", "lower"]})
    shown = score_study.as_change(table)
    assert "drop" not in shown and shown["change_pt"].tolist() == pytest.approx([-1.0, 2.0])
    assert shown["change_pt_low"].tolist() == pytest.approx([-3.0, 1.0])
    assert shown["change_pt_high"].tolist() == pytest.approx([1.0, 5.0])
    assert shown["verdict"].tolist() == ["inconclusive", "higher"]
