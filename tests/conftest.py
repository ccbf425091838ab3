"""Tiny randomly initialised bodies of the three families: the real code paths, in milliseconds."""
import pytest
import torch
from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaModel

VOCAB, HIDDEN, FFN = 50, 16, 24


def tiny_body(family: str, grouped: bool = False) -> torch.nn.Module:
    """Two layers, two heads; ``grouped``: a Llama with 4 query heads reading 2 key/value heads."""
    torch.manual_seed(0)
    if family == "bert":
        config = BertConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=FFN, max_position_embeddings=64, pad_token_id=0)
        return BertModel(config).eval()
    if family == "gpt2":
        config = GPT2Config(vocab_size=VOCAB, n_embd=HIDDEN, n_layer=2, n_head=2, n_inner=FFN, n_positions=64,
                            bos_token_id=1, eos_token_id=2, pad_token_id=0)
        return GPT2Model(config).eval()
    heads = 4 if grouped else 2
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=heads,
                         num_key_value_heads=heads // 2, intermediate_size=FFN, max_position_embeddings=64,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return LlamaModel(config).eval()


@pytest.fixture(params=["bert", "gpt2", "llama"])
def body(request):
    return tiny_body(request.param)


@pytest.fixture
def batch():
    """Two right-padded sequences (pad id 0)."""
    ids = torch.tensor([[5, 6, 7, 8, 9, 10], [11, 12, 13, 0, 0, 0]])
    return {"input_ids": ids, "attention_mask": (ids != 0).long()}


@pytest.fixture
def word_tokenizer():
    """A two-token fast tokenizer: enough for save_pretrained / from_pretrained round trips."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1}, "[UNK]")),
                                   pad_token="[PAD]", unk_token="[UNK]")
