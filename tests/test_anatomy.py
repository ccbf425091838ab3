import numpy as np
import torch

from anatomy_utils import anatomy
from anatomy_utils.classifier import SentimentClassifier
from anatomy_utils.families import neuron_vectors
from conftest import tiny_body


def test_layer_similarity_is_one_at_the_final_layer_and_exact_elsewhere():
    states = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]])
    np.testing.assert_allclose(anatomy.layer_similarity(states), [[0.0, 2 ** -0.5, 1.0]], atol=1e-6)


def test_a_neuron_equal_to_the_target_has_cosine_one():
    clf = SentimentClassifier(tiny_body("gpt2"), dropout=0.0)
    target = neuron_vectors(clf.family.layers(clf.body)[1], clf.family)[7].detach()
    cosines = anatomy.neuron_cosines(clf, torch.stack([target, -target]))
    assert cosines.shape == (2, 2, 24)
    assert np.isclose(cosines[0, 1, 7], 1.0) and np.isclose(cosines[1, 1, 7], -1.0)


def test_above_threshold_lists_and_jaccard():
    cos = np.array([[[0.5, 0.1, 0.4]], [[0.5, 0.36, 0.0]]])
    sets = anatomy.above_threshold(cos, 0.35)
    assert sets == [[[0, 2]], [[0, 1]]]
    assert anatomy.jaccard([0, 2], [0, 1]) == 1 / 3 and anatomy.jaccard([], []) == 1.0
    assert anatomy.mean_pairwise_jaccard(sets) == 1 / 3


def test_graph_connects_consecutive_layers_only():
    graph = anatomy.neuron_graph([[1, 2], [5], [], [7]])
    assert graph.number_of_nodes() == 4
    assert sorted(graph.edges) == [((0, 1), (1, 5)), ((0, 2), (1, 5))]  # layer 3's neuron dangles


def test_decision_layer_is_where_the_sign_settles():
    lens = np.array([[1.0, -1.0, 2.0, 3.0], [1.0, -1.0, -1.0, 2.0], [-1.0, -1.0, 2.0, 2.0]])
    assert anatomy.decision_layer(lens) == 2


def test_a_neuron_that_never_activates_contributes_nothing():
    from anatomy_utils.classifier import Encoded

    torch.manual_seed(0)
    clf = SentimentClassifier(tiny_body("llama"), dropout=0.0)
    with torch.no_grad():
        clf.body.layers[0].mlp.up_proj.weight[3] = 0.0  # activation = act(gate) * up = 0 for neuron 3
    data = Encoded([[5, 6, 7, 8], [9, 10, 11]], np.array([1, 0]))
    result = anatomy.neuron_attribution(clf, data, pad_id=0, batch_size=2)
    assert result["contribution"].shape == (2, 24)
    assert result["contribution"][0, 3] == 0 and result["effect"][0, 3] == 0
    assert np.abs(result["effect"]).sum() > 0


def test_top_k_keep_drops_the_highest_scores_across_layers():
    keep = anatomy.top_k_keep(np.array([[0.1, 0.9, 0.2], [0.8, 0.0, 0.3]]), k=2)
    assert keep[0].tolist() == [0, 2] and keep[1].tolist() == [1, 2]
