import copy

import numpy as np
import pytest
import torch

from anatomy_utils.core import pruning
from anatomy_utils.core.classifier import SentimentClassifier
from anatomy_utils.core.families import family_of, ffn_width, neuron_vectors
from conftest import FFN, HIDDEN


def random_keep(body, fraction=0.4, seed=0):
    rng = np.random.default_rng(seed)
    layers = family_of(body).layers(body)
    return {layer: torch.from_numpy(np.sort(rng.choice(FFN, int(FFN * (1 - fraction)), replace=False)))
            for layer in range(len(layers))}


def test_neuron_vectors_are_neurons_by_hidden(body):
    family = family_of(body)
    for layer in family.layers(body):
        assert neuron_vectors(layer, family).shape == (FFN, HIDDEN)


def test_removing_equals_masking_and_zeroing_weights(body, batch):
    torch.manual_seed(1)
    clf = SentimentClassifier(body, dropout=0.1).eval()
    keep = random_keep(body)
    with torch.no_grad(), pruning.masked(clf.body, keep):
        zeroed = clf(**batch)
    zeroed_weights = pruning.zeroed_copy(clf, keep)
    assert all(ffn_width(layer, clf.family) == FFN for layer in clf.family.layers(zeroed_weights.body))  # same shapes
    with torch.no_grad():
        torch.testing.assert_close(zeroed_weights(**batch), zeroed, atol=1e-5, rtol=0)
    with torch.no_grad():
        dense = clf(**batch)
    removed_clf = copy.deepcopy(clf)
    widths = pruning.remove_neurons(removed_clf.body, keep)
    with torch.no_grad():
        removed = removed_clf(**batch)
    assert widths == [len(k) for k in keep.values()]
    assert all(ffn_width(layer, clf.family) == w for layer, w in zip(clf.family.layers(removed_clf.body), widths))
    torch.testing.assert_close(removed, zeroed, atol=1e-5, rtol=0)
    assert not torch.allclose(dense, zeroed)  # the pruning did change something
    with torch.no_grad():  # the hooks are gone once the context closes
        torch.testing.assert_close(clf(**batch), dense)


def test_focusing_layers_map_by_relative_depth():
    assert pruning.focusing_layers([4, 6, 8, 10, 11], 12) == [4, 6, 8, 10, 11]
    assert pruning.focusing_layers([4, 6, 8, 10, 11], 6) == [2, 3, 4, 5]
    assert pruning.focusing_layers([11], 30) == [27, 28, 29]


def test_encoder_rule_matches_hand_computation():
    sim = np.array([0.4, 0.5, 0.9, 1.0])  # 3 layers + final
    rule = pruning.PaperRule("encoder", alpha=0.01, beta=0.001, focusing=(1,))
    thresholds, one_sided = rule.thresholds(sim)
    np.testing.assert_allclose(thresholds, [0.004, 0.005 + 0.003, 0.027 + 0.002])
    assert one_sided.tolist() == [False, False, True]


def test_decoder_rule_keeps_sign_so_negative_threshold_prunes_nothing():
    rule = pruning.PaperRule("decoder", alpha=0.05, beta=0.0, focusing=(1,))
    thresholds, one_sided = rule.thresholds(np.array([-0.2, 0.1, 1.0]))
    np.testing.assert_allclose(thresholds, [-0.01, 0.015])
    keep = pruning.keep_by_threshold(np.array([[0.0, 0.5], [0.01, -0.2]]), thresholds, one_sided)
    assert keep[0].tolist() == [0, 1] and keep[1].tolist() == [1]


def test_random_baseline_spares_protected_and_matches_counts():
    keep = pruning.keep_random([10, 10], [4, 9], [np.array([0, 1]), np.array([3])], seed=0)
    assert len(keep[0]) == 6 and {0, 1} <= set(keep[0].tolist())
    assert keep[1].tolist() == [3]  # only the protected neuron survives when nearly all must go


def test_scale_for_sparsity_reaches_its_sparsity():
    rng = np.random.default_rng(0)
    sim = rng.normal(0, 0.05, size=(3, 200))
    thresholds, one_sided = np.array([0.01, 0.02, 0.03]), np.array([False, False, True])
    scale = pruning.scale_for_sparsity(sim, thresholds, one_sided, [200] * 3, 0.5)
    fraction = pruning.pruned_fraction(pruning.keep_by_threshold(sim, thresholds * scale, one_sided), [200] * 3)
    assert fraction == pytest.approx(0.5, abs=0.01)


def test_neuron_similarity_modes():
    cos = np.array([[[0.1, -0.6]], [[0.3, 0.2]]])  # 2 inputs, 1 layer, 2 neurons
    np.testing.assert_allclose(pruning.neuron_similarity(cos, "mean"), [[0.2, -0.2]])
    np.testing.assert_allclose(pruning.neuron_similarity(cos, "max_abs"), [[0.3, -0.6]])
    with pytest.raises(ValueError, match="max_abs"):
        pruning.neuron_similarity(cos, "median")


def test_pruned_model_saves_and_loads_with_its_widths(body, batch, tmp_path, word_tokenizer):
    from anatomy_utils.core.classifier import footprint, load_classifier, save_classifier

    clf = SentimentClassifier(body, dropout=0.1).eval()
    dense_parameters = footprint(clf)["parameters"]
    widths = pruning.remove_neurons(clf.body, random_keep(body, fraction=0.5))
    save_classifier(clf, word_tokenizer, tmp_path / "pruned", {})
    loaded, _, meta = load_classifier(tmp_path / "pruned")
    assert meta["ffn_widths"] == widths
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch), clf(**batch), atol=0, rtol=0)
    size = footprint(loaded, tmp_path / "pruned")
    assert size["parameters"] < dense_parameters and size["bytes_on_disk"] > 0


def test_rule_against_random_masks_is_paired_per_review_and_simultaneous():
    import pandas as pd

    from anatomy_utils.study.predictions import Prediction
    from anatomy_utils.study.prune_study import RANDOM, RULE, comparisons, random_name, sweep_table, verdict

    labels = np.ones(200, dtype=np.int64)

    def variant(n_correct, n=200):
        correct = np.zeros(n)
        correct[:n_correct] = 1
        return Prediction("x", "test", np.where(correct == 1, 1.0, -1.0), labels[:n])

    predictions = {"dense": variant(190), f"{RULE} 30%": variant(150), f"{RULE} 50%": variant(180),
                   f"{RULE} 70%": variant(60)}
    masks = {0.3: (73, 75, 77), 0.5: (55, 60, 65), 0.7: (60, 60, 60)}  # of the first 100 reviews
    rows = [{"method": "dense", "sparsity": None, "mask": None, "accuracy": 0.95, "n": 200, "pruned_fraction": 0.0,
             "ci_low": 0.9, "ci_high": 1.0}]
    for t, counts in masks.items():
        rows.append({"method": RULE, "sparsity": t, "mask": None, "accuracy": predictions[f"{RULE} {t:.0%}"].accuracy,
                     "n": 200, "pruned_fraction": t, "ci_low": 0.0, "ci_high": 1.0})
        for m, count in enumerate(counts):
            predictions[random_name(t, m)] = variant(count, 100)
            rows.append({"method": RANDOM, "sparsity": t, "mask": m, "accuracy": count / 100, "n": 100,
                         "pruned_fraction": t, "ci_low": 0.0, "ci_high": 1.0})
    compared = comparisons(pd.DataFrame(rows), predictions, margin=0.02)
    random = compared[compared["against"] == "random masks"].set_index("sparsity")
    # the rule is right on the first 150 / 180 / 60 reviews: on the masks' 100 reviews 1.0 / 1.0 / 0.6
    assert random.loc[0.5, "delta"] == pytest.approx(1.0 - 0.6) and random.loc[0.5, "n"] == 100
    assert random.loc[0.5, "masks"] == 3 and random.loc[0.5, "level"] == pytest.approx(1 - 0.05 / 3)
    assert list(random["verdict"])[:2] == ["higher", "higher"]
    assert random.loc[0.7, "delta"] == 0 and random.loc[0.7, "ci_low"] < -0.01  # identical outcomes: not a point
    dense = compared[compared["against"] == "dense"].set_index("sparsity")
    assert dense.loc[0.7, "verdict"] == "lower" and dense.loc[0.7, "n"] == 200
    lines = verdict(compared)
    assert "rule minus random masks" in lines[0] and "n = 100 reviews x 3 masks -> higher" in lines[0]
    assert all(line.index("reviews") < line.index("detectable") for line in lines if "detectable" in line)
    table = sweep_table(pd.DataFrame(rows), compared)
    assert (table.loc[0.5, "random_mean"] == pytest.approx(0.6)
            and table.loc[0.5, "random_spread"] == pytest.approx(0.05))
