import copy

import pytest
import torch
from transformers import LlamaConfig, LlamaModel

from anatomy_utils.core import heads, pruning
from anatomy_utils.core.classifier import SentimentClassifier, footprint, load_classifier, save_classifier
from anatomy_utils.core.families import head_groups, heads_of, remove_heads
from conftest import FFN, HIDDEN, VOCAB, tiny_body


def grouped_llama() -> torch.nn.Module:
    """Grouped-query attention with something to remove: 4 query heads reading 2 key/value heads."""
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=FFN, max_position_embeddings=64,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return LlamaModel(config).eval()


@pytest.fixture(params=["bert", "gpt2", "llama"])
def multihead(request):
    """A body of every family with two key/value groups per layer."""
    return grouped_llama() if request.param == "llama" else tiny_body(request.param)


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
