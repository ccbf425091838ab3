import numpy as np
import torch

from anatomy_utils import stats
from anatomy_utils.core import pruning
from anatomy_utils.core import passes
from anatomy_utils.study import anatomy
from anatomy_utils.core.classifier import SentimentClassifier
from anatomy_utils.core.families import neuron_vectors
from conftest import tiny_body


def test_layer_similarity_is_one_at_the_final_layer_and_exact_elsewhere():
    states = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]])
    np.testing.assert_allclose(passes.layer_similarity(states), [[0.0, 2 ** -0.5, 1.0]], atol=1e-6)


def test_a_neuron_equal_to_the_target_has_cosine_one():
    clf = SentimentClassifier(tiny_body("gpt2"), dropout=0.0)
    target = neuron_vectors(clf.family.layers(clf.body)[1], clf.family)[7].detach()
    cosines = passes.neuron_cosines(clf, torch.stack([target, -target]))
    assert cosines.shape == (2, 2, 24)
    assert np.isclose(cosines[0, 1, 7], 1.0) and np.isclose(cosines[1, 1, 7], -1.0)


def test_above_threshold_lists_and_jaccard():
    cos = np.array([[[0.5, 0.1, 0.4]], [[0.5, 0.36, 0.0]]])
    sets = anatomy.above_threshold(cos, 0.35)
    assert sets == [[[0, 2]], [[0, 1]]]
    assert stats.jaccard([0, 2], [0, 1]) == 1 / 3
    assert stats.overlap_summary(sets, 3)["jaccard_nonempty"] == 1 / 3


def test_graph_connects_consecutive_layers_only():
    graph = anatomy.neuron_graph([[1, 2], [5], [], [7]])
    assert graph.number_of_nodes() == 4
    assert sorted(graph.edges) == [((0, 1), (1, 5)), ((0, 2), (1, 5))]  # layer 3's neuron dangles


def test_a_neuron_that_never_activates_contributes_nothing():
    from anatomy_utils.core.classifier import Encoded

    torch.manual_seed(0)
    clf = SentimentClassifier(tiny_body("llama"), dropout=0.0)
    with torch.no_grad():
        clf.body.layers[0].mlp.up_proj.weight[3] = 0.0  # activation = act(gate) * up = 0 for neuron 3
    data = Encoded([[5, 6, 7, 8], [9, 10, 11]], np.array([1, 0]))
    result = passes.neuron_attribution(clf, data, pad_id=0, batch_size=2)
    assert result["contribution"].shape == (2, 24)
    assert result["contribution"][0, 3] == 0 and result["effect"][0, 3] == 0
    assert np.abs(result["effect"]).sum() > 0


def test_top_k_keep_drops_the_highest_scores_across_layers():
    keep = pruning.top_k_keep(np.array([[0.1, 0.9, 0.2], [0.8, 0.0, 0.3]]), k=2)
    assert keep[0].tolist() == [0, 2] and keep[1].tolist() == [1, 2]


# --- Jaccard over non-empty pairs, its chance level and its interval ---------------------------------------------

def test_two_empty_sets_are_not_counted():
    assert np.isnan(stats.jaccard([], [])) and stats.jaccard([1], []) == 0.0
    # layer 0 is empty for every input; layer 1 holds {1, 2} / {1, 2} / {1, 3}
    sets = [[[], [1, 2]], [[], [1, 2]], [[], [1, 3]]]
    result = stats.overlap_summary(sets, widths=10)
    assert result["nonempty_pairs"] == 3 and result["total_pairs"] == 6
    assert np.isclose(result["jaccard_nonempty"], (1 + 1 / 3 + 1 / 3) / 3)
    matrix = stats.jaccard_matrix(sets, [0])
    assert np.isnan(matrix).all()  # both sets empty everywhere: blank, not 1.0
    np.testing.assert_allclose(stats.jaccard_matrix(sets, [0, 1])[0], [1.0, 1.0, 1 / 3])


def test_no_nonempty_pair_gives_none_not_nan():
    result = stats.overlap_summary([[[], []], [[], []]], widths=[5, 5])
    assert result["nonempty_pairs"] == 0
    assert result["jaccard_nonempty"] is None and result["ci_low"] is None and result["jaccard_chance"] is None


def test_chance_jaccard_matches_a_hand_computation():
    # two random 2-subsets of 4 neurons share 0, 1 or 2 with probability 1/6, 4/6, 1/6: E[J] = 4/6 * 1/3 + 1/6 * 1
    assert np.isclose(stats.chance_jaccard(2, 2, 4), 7 / 18)
    assert np.isclose(stats.chance_jaccard(1, 1, 3), 1 / 3)
    assert stats.chance_jaccard(0, 3, 8) == 0.0 and np.isnan(stats.chance_jaccard(0, 0, 8))
    # one input with one neuron, the other with none, at one layer: chance 0; with sets of 1 and 1: 1/n
    result = stats.overlap_summary([[[0], [0]], [[], [1]]], widths=[4, 4])
    assert result["nonempty_pairs"] == 2 and np.isclose(result["jaccard_chance"], (0 + 1 / 4) / 2)


def test_chance_jaccard_agrees_with_a_simulation():
    rng = np.random.default_rng(0)
    sim = np.mean([stats.jaccard(rng.choice(50, 5, replace=False).tolist(), rng.choice(50, 5, replace=False).tolist())
                   for _ in range(20000)])
    assert abs(sim - stats.chance_jaccard(5, 5, 50)) < 0.003
    assert 5 / 95 < stats.chance_jaccard(5, 5, 50) < 1.2 * 5 / 95  # near k / (2n - k), a little above (Jensen)


def test_bootstrap_interval_over_inputs_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    sets = [[sorted(rng.choice(20, 4, replace=False).tolist()) for _ in range(3)] for _ in range(8)]
    a, b = stats.overlap_summary(sets, 20, seed=3), stats.overlap_summary(sets, 20, seed=3)
    assert a == b
    assert a["ci_low"] <= a["jaccard_nonempty"] <= a["ci_high"] and a["ci_low"] < a["ci_high"]
    same = stats.overlap_summary([[[1, 2], [3]]] * 5, 20)  # identical sets for every input: no spread at all
    assert same["jaccard_nonempty"] == same["ci_low"] == same["ci_high"] == 1.0


def test_top_k_sets_and_their_size():
    cos = np.array([[[0.1, 0.9, 0.5, 0.2]], [[0.8, 0.0, 0.7, 0.1]]])
    assert anatomy.top_k(cos, 2) == [[[1, 2]], [[0, 2]]]
    assert anatomy.top_k_count(0.01, 1536) == 15 and anatomy.top_k_count(0.01, 24) == 1


# --- the lens ----------------------------------------------------------------------------------------------------

def _lens(columns):
    return np.stack(columns, axis=1).astype(float)


def test_decision_layer_is_where_the_lens_auc_stays_at_the_criterion():
    final = np.where(np.arange(200) % 2 == 0, 1.0, -1.0)
    noisy = final.copy()
    noisy[:30] *= -1  # 85% agreement: AUC 0.85
    lens = _lens([np.ones(200), -final, noisy, final, final])
    table = anatomy.lens_agreement(lens)
    assert table["single_class"].tolist() == [True, False, False, False, False]
    assert np.allclose(table["chance"], 0.5) and np.isclose(table.loc[2, "agreement"], 0.85)
    assert np.allclose(table["auc"], [0.5, 0.0, 0.85, 1.0, 1.0])
    assert anatomy.decision_layer(lens, 0.8) == 2 and anatomy.decision_layer(lens, 0.9) == 3
    lens[:, 3] = noisy * np.where(np.arange(200) < 100, 1, -1)  # a later layer back at chance: the decision moves
    assert anatomy.decision_layer(lens, 0.8) == 4


def test_the_auc_reads_a_lens_that_predicts_one_class_and_can_come_out_either_way():
    final = np.where(np.arange(200) < 120, 1.0, -1.0)  # 60% positive: a constant-class lens agrees on 60%
    ranked = 5 + 0.1 * final  # every logit positive (one class), but ordered as the final prediction
    lens = _lens([np.ones(200), ranked, final])
    table = anatomy.lens_agreement(lens)
    assert np.allclose(table["agreement"][:2], 0.6) and table["single_class"][:2].all()
    assert anatomy.decision_layer(lens, 0.9) == 1  # the threshold-free reading sees the decision one layer early
    assert anatomy.decision_layer(_lens([np.ones(200), np.ones(200), final]), 0.9) == 2  # a flat lens: only the last
    assert anatomy.decision_layer(_lens([np.ones(200), np.ones(200)]), 0.9) is None  # one final class


def test_lens_at_the_last_layer_equals_the_classifier(body):
    from anatomy_utils.core.classifier import Encoded, predict

    torch.manual_seed(1)
    clf = SentimentClassifier(body, dropout=0.3)  # dropout must be off in the lens, as in predict
    data = Encoded([[5, 6, 7, 8, 9], [11, 12, 13], [14, 15, 16, 17]], np.array([1, 0, 1]))
    states = passes.target_states(clf, data, pad_id=0, batch_size=2)
    lens = passes.lens_logits(clf, states)
    assert lens.shape == (3, len(clf.family.layers(clf.body)) + 1)
    np.testing.assert_allclose(lens[:, -1], predict(clf, data, pad_id=0, batch_size=2), atol=1e-5)
    assert not np.allclose(lens[:, 0], lens[:, -1])


def test_lens_and_ablation_tables_are_gzipped_identically_on_rerun(tmp_path, monkeypatch):
    import gzip

    import pandas as pd

    monkeypatch.setattr(anatomy, "FIGURES", tmp_path)
    lens = np.array([[0.123456789, -1.0], [2.0, 3.0]])
    path = anatomy.save_table(anatomy.lens_frame(lens, [1, 0], lens / 10), "p", "lens_encoder")
    first = path.read_bytes()
    assert anatomy.save_table(anatomy.lens_frame(lens, [1, 0], lens / 10), "p", "lens_encoder").read_bytes() == first
    table = pd.read_csv(path)
    assert list(table.columns) == ["review", "label", "layer", "logit", "cosine"] and len(table) == 4
    assert table.loc[0, "logit"] == 0.12346 and table.loc[3, "layer"] == 1 and table.loc[3, "label"] == 0
    assert gzip.decompress(first)  # a plain gzip stream
    frame = anatomy.logits_frame([1, 0], {"dense": np.array([1.0, -1.0]), "random": np.array([0.5, -0.5])})
    assert list(frame.columns) == ["review", "label", "variant", "logit"] and frame["variant"].tolist()[-1] == "random"


def test_ablation_returns_paired_changes_and_the_logits():
    from anatomy_utils.core.classifier import Encoded

    torch.manual_seed(0)
    clf = SentimentClassifier(tiny_body("llama"), dropout=0.0)
    data = Encoded([[5, 6, 7, 8], [9, 10, 11], [12, 13], [14, 15, 16]], np.array([1, 0, 1, 0]))
    everything = {layer: torch.arange(24) for layer in range(2)}
    nothing_left = {layer: torch.tensor([], dtype=torch.long) for layer in range(2)}
    table, logits = anatomy.ablation(clf, data, 0, 2, {"top_cosine": everything, "random": nothing_left})
    assert list(logits) == ["dense", "top_cosine", "random"]
    np.testing.assert_allclose(logits["top_cosine"], logits["dense"])
    assert table.loc["top_cosine", "masked"] == 0 and table.loc["random", "masked"] == 48
    assert table.loc["top_cosine", "delta_accuracy"] == 0
    assert table.loc["top_cosine", "ci_low"] < 0 < table.loc["top_cosine", "ci_high"]  # matched pairs: never a point
    assert not np.allclose(logits["random"], logits["dense"])


def test_contribution_is_the_activation_times_the_neurons_write_to_the_head_by_hand():
    """A decoder of two equal-length reviews (the target is the last token): per neuron, the mean over reviews of
    (label sign) x activation at the target x (down-projection column . head weight x final-norm gain)."""
    from anatomy_utils.core.classifier import Encoded

    torch.manual_seed(0)
    clf = SentimentClassifier(tiny_body("llama"), dropout=0.0).eval()
    with torch.no_grad():
        clf.body.norm.weight.uniform_(0.5, 1.5)  # a gain that is not 1, so that folding it in matters
    data = Encoded([[5, 6, 7, 8], [9, 10, 11, 12]], np.array([1, 0]))
    got = passes.neuron_attribution(clf, data, pad_id=0, batch_size=2)["contribution"]
    acts = []
    hooks = [layer.mlp.down_proj.register_forward_pre_hook(lambda _m, args: acts.append(args[0][:, -1]))
             for layer in clf.body.layers]
    with torch.no_grad():
        clf(torch.tensor(data.ids), torch.ones(2, 4, dtype=torch.long))
        for hook in hooks:
            hook.remove()
        direction = clf.head.weight[0] * clf.body.norm.weight
        sign = torch.tensor([1.0, -1.0])
        expected = np.stack([(sign[:, None] * a * (layer.mlp.down_proj.weight.T @ direction)).mean(0).numpy()
                             for a, layer in zip(acts, clf.body.layers)])
    assert np.abs(expected).max() > 1e-6  # not all zero (a tiny random model writes little)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-9)


def test_neuron_cosines_match_torch_cosine_similarity_for_every_neuron():
    clf = SentimentClassifier(tiny_body("llama"), dropout=0.0)
    targets = torch.randn(5, clf.body.config.hidden_size, generator=torch.Generator().manual_seed(0))
    expected = np.stack([torch.nn.functional.cosine_similarity(
        neuron_vectors(layer, clf.family)[None], targets[:, None], dim=-1).detach().numpy()
        for layer in clf.family.layers(clf.body)], axis=1)
    np.testing.assert_allclose(passes.neuron_cosines(clf, targets), expected, atol=1e-6)
