import numpy as np
import pytest
import torch
import torch.nn.functional as F

from anatomy_utils.core import importance, pruning
from anatomy_utils.core.passes import neuron_attribution
from anatomy_utils.core.classifier import Encoded, SentimentClassifier
from anatomy_utils.core.families import family_of, neuron_vectors
from conftest import FFN

DATA = Encoded([[5, 6, 7, 8, 9], [11, 12, 13], [14, 15, 16, 17]], np.array([1, 0, 1]))


def inputs(body, seed=0):
    torch.manual_seed(1)
    clf = SentimentClassifier(body, dropout=0.0).eval()
    similarity = np.linspace(-1, 1, 2 * FFN).reshape(2, FFN)
    return importance.ScoreInputs(clf, DATA, pad_id=0, batch_size=2, similarity=similarity, seed=seed)


def activations_by_hand(clf):
    """Each layer's FFN activations on DATA, one review at a time (no padding): (layer, review) -> (seq, n)."""
    captured, acts = [], {}
    layers = clf.family.layers(clf.body)
    hooks = [clf.family.ffn_out(layer).register_forward_pre_hook(lambda _m, a: captured.append(a[0]))
             for layer in layers]
    for r, ids in enumerate(DATA.ids):
        captured.clear()
        with torch.no_grad():
            clf(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
        acts |= {(li, r): a[0] for li, a in enumerate(captured)}
    for hook in hooks:
        hook.remove()
    return acts


def test_every_score_has_one_shape(body):
    x = inputs(body)
    for name, score in importance.SCORES.items():
        assert score(x).shape == (2, FFN), name


def test_cosine_mirror_random():
    x = importance.ScoreInputs(None, DATA, 0, 2, np.array([[-0.5, 0.1, 0.3]]), seed=3)
    assert importance.cosine(x).tolist() == [[0.5, 0.1, 0.3]]  # two-sided, as the paper's rule
    assert importance.mirror(x).tolist() == [[-0.5, -0.1, -0.3]]
    assert np.array_equal(importance.random_noise(x), importance.random_noise(x))
    assert not np.array_equal(importance.random_noise(x),
                              importance.random_noise(importance.ScoreInputs(None, DATA, 0, 2, x.similarity, 4)))


def test_magnitude_is_the_output_vector_norm(body):
    x = inputs(body)
    family = family_of(body)
    expected = [neuron_vectors(layer, family).norm(dim=1).detach().numpy() for layer in family.layers(body)]
    np.testing.assert_allclose(importance.magnitude(x), np.stack(expected), rtol=1e-6)


def test_activation_statistics_and_wanda_score_match_a_hand_count(body):
    x = inputs(body)
    acts = activations_by_hand(x.clf)
    tokens = sum(len(ids) for ids in DATA.ids)
    mean_abs = np.stack([sum(acts[layer, r].abs().sum(0) for r in range(3)).numpy() / tokens for layer in range(2)])
    mean = np.stack([sum(acts[layer, r].sum(0) for r in range(3)).numpy() / tokens for layer in range(2)])
    stats = importance.activation_stats(x)  # batched with padding: the padding must not count
    np.testing.assert_allclose(stats["mean_abs"], mean_abs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats["mean"], mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(importance.activation(x), mean_abs * importance.magnitude(x), rtol=1e-4, atol=1e-6)


def test_taylor_is_the_squared_gradient_of_a_neuron_mask(body):
    """Multiply every activation by a mask of ones and let autograd differentiate the loss of each review."""
    x = inputs(body)
    clf = x.clf
    layers = clf.family.layers(clf.body)
    masks = [torch.ones(FFN, requires_grad=True) for _ in layers]
    hooks = [clf.family.ffn_out(layer).register_forward_pre_hook(lambda _m, a, m=m: (a[0] * m,))
             for layer, m in zip(layers, masks)]
    expected = np.zeros((2, FFN))
    for ids, label in zip(DATA.ids, DATA.labels):
        logit = clf(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
        grads = torch.autograd.grad(F.binary_cross_entropy_with_logits(logit, torch.tensor([float(label)])), masks)
        expected += np.stack([g.numpy() ** 2 for g in grads])
    for hook in hooks:
        hook.remove()
    np.testing.assert_allclose(importance.taylor(x), expected, rtol=1e-3, atol=1e-9)


def test_contribution_is_the_attribution_of_03(body):
    x = inputs(body)
    np.testing.assert_array_equal(importance.contribution(x), neuron_attribution(x.clf, DATA, 0, 2)["contribution"])


def test_uniform_budget_prunes_the_same_fraction_everywhere():
    scores = np.random.default_rng(0).random((3, 100))
    assert importance.kept_counts(scores, 0.3, "uniform").tolist() == [70, 70, 70]
    assert importance.kept_counts(scores, 0.3, "uniform", multiple=32).tolist() == [64, 64, 64]  # 70 -> nearest 64


def test_global_budget_ranks_across_layers_with_a_floor():
    scores = np.vstack([np.full(10, 50.0), np.arange(10.0), np.full(10, -1.0)])  # layer 2 is worst everywhere
    counts = importance.kept_counts(scores, 0.5, "global", floor=0.2)
    assert counts.sum() == 15
    assert counts[2] == 2  # emptied down to the floor, not to zero
    assert counts.tolist() == [10, 3, 2]


def test_keep_top_keeps_the_highest_scores_sorted():
    keep = importance.keep_top(np.array([[0.1, 0.9, 0.2, 0.5], [3.0, 2.0, 1.0, 0.0]]), np.array([2, 1]))
    assert keep[0].tolist() == [1, 3] and keep[1].tolist() == [0]


def test_unknown_budget_is_a_clear_error():
    with pytest.raises(ValueError, match="uniform"):
        importance.kept_counts(np.zeros((1, 4)), 0.5, "layerwise")


def test_bias_repair_adds_the_pruned_neurons_mean_write(body, batch):
    x = inputs(body)
    family = family_of(body)
    keep = {0: torch.arange(0, FFN, 2), 1: torch.arange(FFN // 2)}
    mean_activation = np.random.default_rng(0).normal(size=(2, FFN)).astype(np.float32)
    plain = pruning.pruned_copy(x.clf, keep)
    repaired = pruning.pruned_copy(x.clf, keep, mean_activation)
    for layer, (dense_layer, p_layer, r_layer) in enumerate(zip(*(family.layers(m.body)
                                                                  for m in (x.clf, plain, repaired)))):
        pruned = np.setdiff1d(np.arange(FFN), keep[layer].numpy())
        shift = torch.from_numpy(mean_activation[layer, pruned]) @ neuron_vectors(dense_layer, family).detach()[pruned]
        before = family.ffn_out(p_layer).bias
        after = family.ffn_out(r_layer).bias
        torch.testing.assert_close(after.detach() - (0 if before is None else before.detach()), shift)
    with torch.no_grad():  # the repaired model still runs, and differs from the unrepaired one
        assert not torch.allclose(repaired(**batch), plain(**batch))


def test_repair_with_the_true_mean_restores_a_constant_neuron():
    """A neuron whose activation never varies is removed exactly by the repair: the outputs do not change."""
    from conftest import tiny_body

    body = tiny_body("bert")
    clf = SentimentClassifier(body, dropout=0.0).eval()
    layer = body.encoder.layer[0]
    with torch.no_grad():  # neuron 5 of layer 0: zero input weights, bias 3 -> GELU(3) on every token
        layer.intermediate.dense.weight[5] = 0.0
        layer.intermediate.dense.bias[5] = 3.0
    mean_activation = np.zeros((2, FFN), dtype=np.float32)
    mean_activation[0, 5] = F.gelu(torch.tensor(3.0)).item()
    keep = {0: torch.tensor([i for i in range(FFN) if i != 5])}
    ids = torch.tensor([[5, 6, 7, 8]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.testing.assert_close(pruning.pruned_copy(clf, keep, mean_activation)(ids, mask), clf(ids, mask))
        assert not torch.allclose(pruning.pruned_copy(clf, keep)(ids, mask), clf(ids, mask))
