import pytest
import torch

from anatomy_utils import pruning, timing
from anatomy_utils.classifier import Encoded
from conftest import FFN, HIDDEN, tiny_body


def test_matmul_flops_and_ffn_share_match_a_hand_count():
    body, tokens = tiny_body("bert"), 10
    attention_weights, ffn_weights = 4 * HIDDEN * HIDDEN, 2 * HIDDEN * FFN  # per layer; the pooler is not a layer
    per_layer = 2 * tokens * (attention_weights + ffn_weights) + 4 * tokens * tokens * HIDDEN
    assert timing.matmul_flops(body, tokens) == 2 * per_layer
    assert timing.ffn_share(body, tokens) == pytest.approx(2 * tokens * ffn_weights / per_layer)


def test_the_ceiling_of_removing_half_the_neurons_follows_the_ffn_share(body):
    half = {l: torch.arange(FFN // 2) for l in range(2)}
    pruned = tiny_body(body.config.model_type)
    pruning.remove_neurons(pruned, half)
    share = timing.ffn_share(body, 8)
    assert timing.speedup_ceiling(body, pruned, 8) == pytest.approx(1 / (1 - share / 2))


def test_fixed_batch_takes_only_full_length_reviews_and_says_when_there_are_too_few():
    data = Encoded([[1, 2, 3], [4, 5], [6, 7, 8, 9]], labels=None)
    assert timing.fixed_batch(data, 2, 3)["input_ids"].tolist() == [[1, 2, 3], [6, 7, 8]]
    with pytest.raises(ValueError, match="Only 2 reviews"):
        timing.fixed_batch(data, 3, 3)
