"""The one-call pruner: a tiny classifier made smaller, saved, and reloaded with the same logits."""
import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from anatomy_utils.core.classifier import SentimentClassifier, encode, load_classifier, predict, save_classifier
from anatomy_utils.core.families import ffn_widths, head_groups
from anatomy_utils.core.heads import budget, unit_flops
from anatomy_utils.tools import shrink as shrink_module
from anatomy_utils.tools.shrink import shrink

from conftest import VOCAB, FFN, tiny_body


@pytest.fixture
def words():
    vocab = {"[PAD]": 0, "[UNK]": 1} | {f"w{i}": i for i in range(2, VOCAB)}
    tokenizer = Tokenizer(models.WordLevel(vocab, "[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]")


def _texts(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(f"w{i}" for i in rng.integers(2, VOCAB, size=rng.integers(4, 16))) for _ in range(count)]


@pytest.mark.parametrize("family", ["bert", "llama"])
def test_shrink_returns_a_smaller_model_that_saves_and_reloads_with_the_same_logits(family, words, tmp_path):
    torch.manual_seed(0)
    clf = SentimentClassifier(tiny_body(family), 0.0).eval()
    smaller, tokenizer, info = shrink(clf, _texts(48, 0), 0.5, tokenizer=words, max_tokens=32)
    assert sum(ffn_widths(smaller.body)) == FFN  # half of 2 x 24 neurons
    assert info["widths"] == ffn_widths(smaller.body) and info["seconds"] > 0
    save_classifier(smaller, tokenizer, tmp_path / "smaller", {"pruned": info})
    again, _, meta = load_classifier(tmp_path / "smaller")
    unseen = encode(words, _texts(10, 1), np.zeros(10, dtype=np.int64), 32)
    assert meta["ffn_widths"] == info["widths"]
    np.testing.assert_allclose(predict(again, unseen, 0, 4), predict(smaller, unseen, 0, 4), atol=1e-6)


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_shrink_with_heads_removes_heads_or_neurons_for_the_same_flops(family, words, tmp_path):
    torch.manual_seed(0)
    clf = SentimentClassifier(tiny_body(family), 0.0).eval()
    texts = _texts(48, 0)
    smaller, tokenizer, info = shrink(clf, texts, 0.5, tokenizer=words, max_tokens=32, heads=True)
    tokens = max(len(words(t)["input_ids"]) for t in texts)
    group, neuron = unit_flops(clf.body, tokens)
    assert info["head_groups"] == head_groups(smaller.body)
    assert sum(info["head_groups"]) * group + sum(info["widths"]) * neuron <= budget(clf.body, 0.5, tokens)
    save_classifier(smaller, tokenizer, tmp_path / "smaller", {"pruned": info})
    again, _, meta = load_classifier(tmp_path / "smaller")
    unseen = encode(words, _texts(10, 1), np.zeros(10, dtype=np.int64), 32)
    assert meta["head_groups"] == info["head_groups"]
    np.testing.assert_allclose(predict(again, unseen, 0, 4), predict(smaller, unseen, 0, 4), atol=1e-6)


def test_shrink_says_which_scores_and_sparsities_it_takes(words):
    clf = SentimentClassifier(tiny_body("bert"), 0.0).eval()
    with pytest.raises(ValueError, match="cannot run from texts alone"):
        shrink(clf, _texts(8, 0), 0.5, tokenizer=words, score="cosine")
    with pytest.raises(ValueError, match="sparsity"):
        shrink(clf, _texts(8, 0), 1.0, tokenizer=words)
    with pytest.raises(ValueError, match="tokenizer"):
        shrink(clf, _texts(8, 0), 0.5)
    with pytest.raises(ValueError, match="Fisher"):
        shrink(clf, _texts(8, 0), 0.5, tokenizer=words, score="magnitude", heads=True)


def test_a_folder_alone_is_encoded_as_its_model_was_trained(words, tmp_path, monkeypatch):
    torch.manual_seed(0)
    save_classifier(SentimentClassifier(tiny_body("llama"), 0.0), words, tmp_path / "decoder",
                    {"config": {"max_tokens": 7, "truncation": "left"}})  # as fine-tuning saves it
    calls = []
    monkeypatch.setattr(shrink_module, "encode", lambda *args: calls.append(args[3:]) or encode(*args))
    _, _, info = shrink(tmp_path / "decoder", _texts(16, 0), 0.5)  # no tokenizer, length or side passed
    assert calls == [(7, "left")] and (info["max_tokens"], info["truncation"]) == (7, "left")
    shrink(tmp_path / "decoder", _texts(16, 0), 0.5, max_tokens=9, truncation="right")  # the call's own win
    assert calls[-1] == (9, "right")
