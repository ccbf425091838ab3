"""Attention heads beside FFN neurons (Kwon et al. 2022): mask key/value groups, score both kinds of unit by the
Fisher information of their masks in one pass, and choose which to keep under one budget of forward FLOPs.

A head unit is a key/value group (``families.Heads``): one head under multi-head attention, a key/value head and the
query heads that read it under grouped-query attention. Removal is ``families.remove_heads``.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .capture import input_batches
from .classifier import Encoded, SentimentClassifier
from .families import family_of, heads_of, linear_weight
from .importance import loss


def _unit_mask(width: int, groups: int, kept, device) -> torch.Tensor:
    mask = torch.zeros(groups, width // groups, device=device)
    mask[torch.as_tensor(kept, dtype=torch.long, device=device)] = 1.0
    return mask.ravel()


@contextmanager
def masked_heads(body: nn.Module, keep: dict[int, torch.Tensor]):
    """Silence the key/value groups not in ``keep[layer]`` (indices kept) with a hook on the attention output
    projection's input while the context is open: what removing them computes."""
    family, geometry = family_of(body), heads_of(body)
    layers = family.layers(body)
    handles = []
    for index, kept in keep.items():
        out = family.attn_out(layers[index])
        mask = _unit_mask(linear_weight(out).shape[1], geometry.groups(layers[index], family), kept, out.weight.device)
        handles.append(out.register_forward_pre_hook(lambda _m, args, mask=mask: (args[0] * mask,)))
    try:
        yield body
    finally:
        for handle in handles:
            handle.remove()
