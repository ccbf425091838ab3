"""Timing protocol (warm-up, interleaved variants, medians) and the analytic FLOP ceiling of FFN pruning."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from .classifier import Encoded
from .families import family_of
from .runtime import synchronize


def fixed_batch(data: Encoded, batch_size: int, tokens: int) -> dict[str, torch.Tensor]:
    """A batch of ``batch_size`` reviews that all fill ``tokens`` tokens (no padding), for a fixed-shape timing."""
    rows = [i for i, ids in enumerate(data.ids) if len(ids) >= tokens][:batch_size]
    if len(rows) < batch_size:
        raise ValueError(f"Only {len(rows)} reviews have {tokens} tokens; lower the timing batch or length.")
    ids = torch.tensor([data.ids[r][:tokens] for r in rows])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def interleaved_medians(variants: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds per call of each variant; variants alternate within every repeat so drift hits all alike."""
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    synchronize()
    seconds = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate the order every repeat
            start = time.perf_counter()
            variants[name]()
            synchronize()
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def matmul_flops(model: nn.Module, tokens: int) -> int:
    """Forward FLOPs of one sequence of ``tokens`` through a transformer body's layers.

    Every Linear / Conv1D costs 2 * in * out per token; attention adds 4 * tokens * hidden per token per layer
    (scores and weighted sum). Embedding look-ups and norms are ignored (negligible).
    """
    layers = family_of(model).layers(model)
    per_token = sum(2 * m.weight.numel() for layer in layers for m in layer.modules() if isinstance(m, (nn.Linear, Conv1D)))
    attention = 4 * tokens * model.config.hidden_size * len(layers)
    return tokens * (per_token + attention)


def ffn_share(model: nn.Module, tokens: int) -> float:
    """Share of ``matmul_flops`` spent in the FFNs: removing a fraction f of the neurons saves f times this."""
    family = family_of(model)
    ffn = sum(2 * m.weight.numel() for layer in family.layers(model) for m in [*family.ffn_in(layer), family.ffn_out(layer)])
    return tokens * ffn / matmul_flops(model, tokens)


def speedup_ceiling(dense: nn.Module, pruned: nn.Module, tokens: int) -> float:
    """The best speed-up removing neurons could give: the ratio of forward FLOPs."""
    return matmul_flops(dense, tokens) / matmul_flops(pruned, tokens)
