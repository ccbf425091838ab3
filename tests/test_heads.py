"""Attention heads as removable units on tiny bodies of the three families: removal equals masking, Fisher scores by
hand, unit costs against the FLOP count, the search under a budget."""
import copy

import numpy as np
import pandas as pd
import pytest
import torch

from anatomy_utils.core import heads, importance, pruning, timing
from anatomy_utils.core.classifier import Encoded, SentimentClassifier, footprint, load_classifier, save_classifier
from anatomy_utils.core.families import ffn_widths, head_groups, heads_of, remove_heads
from anatomy_utils.core.refit import Refit
from conftest import FFN, VOCAB, tiny_body


@pytest.fixture(params=["bert", "gpt2", "llama"])
def multihead(request):
    """A body of every family with two key/value groups per layer."""
    return tiny_body(request.param, grouped=True)


def test_geometry_reads_the_config(multihead):
    geometry = heads_of(multihead)
    assert head_groups(multihead) == [2, 2]
    assert geometry.per_group == (2 if multihead.config.model_type == "llama" else 1)


def test_removing_heads_equals_masking_them(multihead, batch):
    clf = SentimentClassifier(multihead, dropout=0.1).eval()
    keep = {0: torch.tensor([1]), 1: torch.tensor([0])}
    with torch.no_grad():
        dense = clf(**batch)
        with heads.masked_heads(clf.body, keep):
            masked = clf(**batch)
        smaller = copy.deepcopy(clf)
        assert remove_heads(smaller.body, keep) == [1, 1]
        removed = smaller(**batch)
    assert not torch.allclose(masked, dense, atol=1e-4)  # the heads mattered
    torch.testing.assert_close(removed, masked, atol=1e-5, rtol=0)


def test_a_layer_keeps_at_least_one_group(multihead):
    with pytest.raises(ValueError, match="keep at least one group"):
        remove_heads(multihead, {0: torch.tensor([], dtype=torch.long)})


def test_heads_and_neurons_removed_save_and_reload(multihead, batch, tmp_path, word_tokenizer):
    clf = SentimentClassifier(multihead, dropout=0.1).eval()
    dense_parameters = footprint(clf)["parameters"]
    remove_heads(clf.body, {1: torch.tensor([1])})
    pruning.remove_neurons(clf.body, {0: torch.arange(0, FFN, 2)})
    save_classifier(clf, word_tokenizer, tmp_path / "pruned", {})
    loaded, _, meta = load_classifier(tmp_path / "pruned")
    assert meta["head_groups"] == [2, 1] and head_groups(loaded.body) == [2, 1]
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch), clf(**batch), atol=0, rtol=0)
    assert footprint(loaded)["parameters"] < dense_parameters


DATA = Encoded([[5, 6, 7, 8, 9], [11, 12, 13], [14, 15, 16, 17]], np.array([1, 0, 1]))


def test_fisher_of_neurons_is_the_taylor_score_and_of_heads_the_squared_mask_gradient(multihead):
    torch.manual_seed(1)
    clf = SentimentClassifier(multihead, dropout=0.0).eval()
    head_fisher, neuron_fisher = heads.fisher(clf, DATA, pad_id=0, batch_size=2)
    taylor = importance.taylor(importance.ScoreInputs(clf, DATA, 0, 2, np.zeros((2, FFN))))
    np.testing.assert_allclose(neuron_fisher, taylor, rtol=1e-5)
    # by hand: one review at a time, a mask of ones on every group, its gradient squared and summed over reviews
    layers = clf.family.layers(clf.body)
    expected = np.zeros((2, 2))
    for ids, label in zip(DATA.ids, DATA.labels):
        masks = [torch.ones(2, requires_grad=True) for _ in layers]
        hooks = [clf.family.attn_out(layer).register_forward_pre_hook(
            lambda _m, args, m=m: (args[0] * m.repeat_interleave(args[0].shape[-1] // 2),)) for layer, m in
            zip(layers, masks)]
        logit = clf(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
        grads = torch.autograd.grad(importance.loss(logit, np.array([label])), masks)
        expected += np.stack([g.numpy() ** 2 for g in grads])
        for hook in hooks:
            hook.remove()
    np.testing.assert_allclose(head_fisher, expected, rtol=1e-4, atol=1e-12)


def test_unit_costs_are_what_removal_saves(multihead):
    tokens = 7
    group, neuron = heads.unit_flops(multihead, tokens)
    dense = timing.matmul_flops(multihead, tokens)
    remove_heads(multihead, {1: torch.tensor([0])})
    assert dense - timing.matmul_flops(multihead, tokens) == pytest.approx(group)
    after_heads = timing.matmul_flops(multihead, tokens)
    pruning.remove_neurons(multihead, {0: torch.arange(FFN - 3)})
    assert after_heads - timing.matmul_flops(multihead, tokens) == pytest.approx(3 * neuron)


def _cost(keep_heads, keep_neurons, costs):
    return sum(map(len, keep_heads.values())) * costs[0] + sum(map(len, keep_neurons.values())) * costs[1]


def test_the_search_keeps_within_budget_the_floors_and_the_most_information():
    rng = np.random.default_rng(0)
    head_scores, neuron_scores = rng.random((3, 4)), rng.random((3, 20))
    costs = (10.0, 1.0)
    everything = _cost({0: range(12)}, {0: range(60)}, costs)
    keep_heads, keep_neurons = heads.search(head_scores, neuron_scores, costs, everything)
    assert _cost(keep_heads, keep_neurons, costs) == everything  # a budget for all keeps all
    for budget in (60.0, 90.0, 120.0):
        keep_heads, keep_neurons = heads.search(head_scores, neuron_scores, costs, budget, floor=0.1)
        assert _cost(keep_heads, keep_neurons, costs) <= budget
        assert all(len(k) >= 1 for k in keep_heads.values()) and all(len(k) >= 2 for k in keep_neurons.values())
    # heads worth nothing beyond each layer's best are all dropped, their FLOPs spent on neurons
    head_scores[:, 1:] = 0
    head_scores[:, 0] = 5
    keep_heads, keep_neurons = heads.search(head_scores, neuron_scores, costs, 60.0)
    assert [k.tolist() for k in keep_heads.values()] == [[0], [0], [0]]
    assert sum(map(len, keep_neurons.values())) == 30
    with pytest.raises(ValueError, match="below what the floors keep"):
        heads.search(head_scores, neuron_scores, costs, 10.0)


def test_heads_and_neurons_pruned_and_refitted_in_one_call(multihead):
    clf = SentimentClassifier(multihead, dropout=0.0).eval()
    rng = np.random.default_rng(0)
    data = Encoded([list(rng.integers(3, VOCAB, size=rng.integers(5, 20))) for _ in range(24)],
                   rng.integers(0, 2, 24))
    keep_neurons = {layer: torch.arange(0, FFN, 2) for layer in range(2)}
    smaller, info = heads.pruned(clf, {0: torch.tensor([0])}, keep_neurons, Refit(data, 0, 8))
    assert head_groups(smaller.body) == [1, 2] and ffn_widths(smaller.body) == [FFN // 2] * 2
    assert head_groups(clf.body) == [2, 2] and "fell_back" in info
    assert torch.isfinite(smaller(**data.batch(range(4), 0))).all()


def test_the_attention_refit_brings_a_head_pruned_model_closer_to_dense_on_unseen_inputs(multihead):
    from test_refit import _final_states, _reviews

    clf = SentimentClassifier(multihead, 0.0).eval()
    keep_heads = {0: torch.tensor([1]), 1: torch.tensor([0])}
    every_neuron = {layer: torch.arange(FFN) for layer in range(2)}
    fitted, info = heads.pruned(clf, keep_heads, every_neuron, Refit(_reviews(80, 0), 0, 8, ridge=1e-3))
    plain, _ = heads.pruned(clf, keep_heads, every_neuron)
    unseen = _reviews(40, 1)
    dense = _final_states(clf, unseen)
    assert head_groups(fitted.body) == [1, 1] and info["attention_fell_back"] == []
    assert ((_final_states(fitted, unseen) - dense).pow(2).sum(1).mean()
            < (_final_states(plain, unseen) - dense).pow(2).sum(1).mean())


def test_make_heads_compares_both_arms_at_the_same_flops_on_the_confirmation_reviews(monkeypatch, tmp_path):
    from anatomy_utils.base.profiles import load_profile
    from anatomy_utils.core import models
    from anatomy_utils.study import predictions, score_study
    from anatomy_utils.tools import heads as make_heads

    profile = load_profile("smoke")
    body, tokenizer = models.load_body("tiny-gpt2")
    clf = SentimentClassifier(body, 0.0).eval()
    monkeypatch.setattr(make_heads, "load_trained", lambda _profile, _role: (clf, tokenizer, {}))
    monkeypatch.setattr(predictions, "artifact", lambda _profile, name: (tmp_path / name).parent.mkdir(
        parents=True, exist_ok=True) or tmp_path / name)
    timed = {}

    def untimed(_profile, _role, _dense, variants, _tokenizer):  # the timing protocol has tests of its own
        timed.update(variants)
        return pd.DataFrame({"speedup": 1.0, "speedup_ci_low": 0.9, "speedup_ci_high": 1.1, "ceiling": 1.5,
                             "aa_gate_passed": True}, index=list(variants))

    monkeypatch.setattr(score_study, "speed", untimed)
    table, speed = make_heads.compare(profile, "decoder")
    assert list(table["arm"]) == ["neurons", "heads + neurons"] * len(profile.scores.refit_sparsities)
    assert (table["n"] == profile.sizes["decoder"].confirm).all()
    assert (table.loc[table["arm"] == "neurons", "heads_removed"] == 0).all()
    tokens = score_study.speed_study.timing_tokens(profile, "decoder")
    for sparsity in profile.scores.refit_sparsities:  # the joint arm spends no more FLOPs than the neurons alone
        alone, joint = timed[f"neurons, {sparsity:.0%}"], timed[f"heads + neurons, {sparsity:.0%}"]
        assert timing.matmul_flops(joint.body, tokens) <= timing.matmul_flops(alone.body, tokens) * (1 + 1e-9)
    values = make_heads.values("decoder", table, speed)
    assert {"decoder.neurons.p50.drop", "decoder.heads_and_neurons.p70.extra_drop",
            "decoder.heads_and_neurons.p50.aa_gate_passed"} <= set(values)
