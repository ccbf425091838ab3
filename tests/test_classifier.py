import numpy as np
import pytest
import torch

from anatomy_utils.core.classifier import (Encoded, SentimentClassifier, encode, load_classifier, predict,
                                           save_classifier, train)
from anatomy_utils.core import families
from anatomy_utils.core.families import target_index
from anatomy_utils.base.profiles import ModelConfig
from conftest import VOCAB, tiny_body


def test_target_index_first_and_last_for_both_padding_sides():
    right = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1]])
    assert target_index(right, "first").tolist() == [0, 0]
    assert target_index(right, "last").tolist() == [2, 3]
    assert target_index(left, "last").tolist() == [3, 3]


@pytest.mark.parametrize("family,expected", [("bert", [0, 0]), ("gpt2", [5, 2]), ("llama", [5, 2])])
def test_head_sees_cls_or_last_real_token(family, expected, batch):
    clf = SentimentClassifier(tiny_body(family), dropout=0.0)
    hidden = torch.arange(2 * 6, dtype=torch.float32).reshape(2, 6, 1).expand(2, 6, 3)
    picked = clf.target_states(hidden, batch["attention_mask"])[:, 0]
    assert picked.tolist() == [row * 6 + pos for row, pos in enumerate(expected)]


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_padding_does_not_change_the_logit(family, batch):
    clf = SentimentClassifier(tiny_body(family), dropout=0.1).eval()
    with torch.no_grad():
        padded = clf(**batch)[1]
        alone = clf(input_ids=batch["input_ids"][1:, :3], attention_mask=batch["attention_mask"][1:, :3])[0]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=0)


def config(**overrides):
    base = dict(model="tiny", train_examples=32, epochs=8, batch_size=8, lr=3e-3, warmup=0.1, weight_decay=0.0,
                max_grad_norm=1.0, dropout=0.0, attention_dropout=None, train_top_layers=None, max_tokens=16,
                truncation="right", eval_batch_size=8)
    return ModelConfig(**(base | overrides))


def separable_data(n=32):
    """Label 1 reviews use tokens 20-29, label 0 reviews tokens 30-39."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    ids = [list(rng.integers(20, 30, 6) if y else rng.integers(30, 40, 6)) for y in labels]
    return Encoded([[3] + [int(t) for t in row] for row in ids], labels)


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_a_few_steps_reduce_the_loss(family):
    torch.manual_seed(0)
    clf = SentimentClassifier(tiny_body(family), dropout=0.0)
    history = train(clf, separable_data(), config(), pad_id=0, seed=0)
    first, last = np.mean([h["loss"] for h in history[:4]]), np.mean([h["loss"] for h in history[-4:]])
    assert last < 0.7 * first


def test_training_only_top_layers_freezes_the_rest():
    torch.manual_seed(0)
    clf = SentimentClassifier(tiny_body("llama"), dropout=0.0)
    before = clf.body.layers[0].mlp.down_proj.weight.clone()
    train(clf, separable_data(), config(epochs=1, train_top_layers=1), pad_id=0, seed=0)
    torch.testing.assert_close(clf.body.layers[0].mlp.down_proj.weight, before)
    assert clf.body.layers[1].mlp.down_proj.weight.requires_grad


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_save_then_load_gives_identical_logits(family, tmp_path, word_tokenizer):
    clf = SentimentClassifier(tiny_body(family), dropout=0.1)
    data = separable_data(8)
    save_classifier(clf, word_tokenizer, tmp_path / "ckpt", {"note": "test"})
    loaded, _, meta = load_classifier(tmp_path / "ckpt")
    assert meta["note"] == "test" and not (tmp_path / "ckpt.tmp").exists()
    np.testing.assert_array_equal(predict(clf, data, 0, 4), predict(loaded, data, 0, 4))


def test_a_folder_without_recorded_widths_loads_a_stock_gpt2_config(tmp_path, word_tokenizer):
    """Stock GPT-2 configs leave ``n_inner`` None (the FFN is 4 x ``n_embd``): a folder saved before widths were
    recorded still loads, with the widths its config builds."""
    import json

    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(vocab_size=VOCAB, n_embd=8, n_layer=2, n_head=2, n_positions=64, pad_token_id=0)
    assert config.n_inner is None
    torch.manual_seed(0)
    clf = SentimentClassifier(GPT2Model(config).eval(), dropout=0.0)
    save_classifier(clf, word_tokenizer, tmp_path / "ckpt", {})
    meta = json.loads((tmp_path / "ckpt" / "meta.json").read_text())
    del meta["ffn_widths"]
    (tmp_path / "ckpt" / "meta.json").write_text(json.dumps(meta))
    loaded, _, _ = load_classifier(tmp_path / "ckpt")
    assert families.ffn_widths(loaded.body) == [32, 32]
    data = separable_data(8)
    np.testing.assert_array_equal(predict(clf, data, 0, 4), predict(loaded, data, 0, 4))


class WordTokenizer:
    """Just enough of a tokenizer for ``encode``: one id per word."""

    truncation_side = "right"

    def __call__(self, texts, truncation, max_length):
        ids = [list(range(1, len(t.split()) + 1)) for t in texts]
        cut = (lambda r: r[:max_length]) if self.truncation_side == "right" else (lambda r: r[-max_length:])
        return {"input_ids": [cut(r) for r in ids]}


def test_long_reviews_are_truncated_at_the_chosen_end():
    text = " ".join(["word"] * 50)
    assert encode(WordTokenizer(), [text], [1], 8, "right").ids[0] == list(range(1, 9))
    assert encode(WordTokenizer(), [text], [1], 8, "left").ids[0] == list(range(43, 51))


@pytest.mark.parametrize("texts,labels,message", [(["good", "  "], [1, 0], "Review 1 is empty"),
                                                   (["good", "bad"], [1, 2], "Review 1 has label 2")])
def test_bad_reviews_fail_clearly(texts, labels, message):
    with pytest.raises(ValueError, match=message):
        encode(WordTokenizer(), texts, labels, 8)


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_training_evaluating_and_pruning_twice_from_scratch_is_bit_identical(family):
    from anatomy_utils.core.pruning import pruned_copy

    def from_scratch():
        torch.manual_seed(0)
        clf = SentimentClassifier(tiny_body(family), dropout=0.1)
        train(clf, separable_data(), config(epochs=2), pad_id=0, seed=0)
        keep = {layer: torch.arange(0, 24, 2) for layer in range(2)}
        return predict(clf, separable_data(), 0, 4), predict(pruned_copy(clf, keep), separable_data(), 0, 4)

    first, second = from_scratch(), from_scratch()
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, second))
