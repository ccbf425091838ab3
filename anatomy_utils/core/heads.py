"""Attention heads beside FFN neurons (Kwon et al. 2022): mask key/value groups, score both kinds of unit by the
Fisher information of their masks in one pass, and choose which to keep under one budget of forward FLOPs.

A head unit is a key/value group (``families.Heads``): one head under multi-head attention, a key/value head and the
query heads that read it under grouped-query attention. Removal is ``families.remove_heads``.
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .capture import input_batches
from .classifier import Encoded, SentimentClassifier
from .families import ffn_widths, family_of, head_groups, heads_of, linear_weight, remove_heads, remove_neurons
from .importance import loss
from .pruning import masked_inputs
from .refit import Refit


@contextmanager
def masked_heads(body: nn.Module, keep: dict[int, torch.Tensor]):
    """Silence the key/value groups not in ``keep[layer]`` (indices kept) with a hook on the attention output
    projection's input while the context is open: what removing them computes."""
    family, geometry = family_of(body), heads_of(body)
    layers = family.layers(body)
    masks = {}
    for index, kept in keep.items():
        out = family.attn_out(layers[index])
        mask = torch.zeros(linear_weight(out).shape[1], device=out.weight.device)
        mask[geometry.columns(out, kept).to(mask.device)] = 1.0
        masks[out] = mask
    with masked_inputs(masks):
        yield body


def fisher(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Fisher information of every key/value group's mask ``(layers, groups)`` and every FFN neuron's mask
    ``(layers, neurons)``, from one pass with gradients: per review, d loss / d mask is the sum over its tokens of the
    masked input times its gradient (06's ``taylor`` for the neurons), squared and summed over reviews."""
    family, geometry = clf.family, heads_of(clf.body)
    layers = family.layers(clf.body)
    modules = [family.attn_out(layer) for layer in layers] + [family.ffn_out(layer) for layer in layers]
    heads = neurons = 0
    for batch in input_batches(clf, modules, data, pad_id, batch_size, loss, "Fisher of heads and neurons"):
        slopes = [(a * g * batch.mask).sum(1) for a, g in zip(batch.activations, batch.gradients)]  # (reviews, units)
        groups = [s.view(len(s), geometry.groups(layer, family), -1).sum(2) for s, layer in zip(slopes, layers)]
        heads = heads + torch.stack([(g ** 2).sum(0) for g in groups])
        neurons = neurons + torch.stack([(s ** 2).sum(0) for s in slopes[len(layers):]])
    return heads.double().cpu().numpy(), neurons.double().cpu().numpy()


def unit_flops(body: nn.Module, tokens: int) -> tuple[float, float]:
    """Forward FLOPs of one key/value group and of one FFN neuron, per sequence of ``tokens`` tokens, as
    ``timing.matmul_flops`` counts them: 2 per weight per token, and attention's scores and weighted sum
    (4 x tokens per query feature per token)."""
    family, geometry = family_of(body), heads_of(body)
    layer = family.layers(body)[0]
    groups = geometry.groups(layer, family)
    weights = sum(linear_weight(m).numel() for m in [*family.attn_in(layer), family.attn_out(layer)])
    queries = linear_weight(family.attn_out(layer)).shape[1]
    group = tokens * (2 * weights + 4 * tokens * queries) / groups
    out = linear_weight(family.ffn_out(layer))
    neuron = tokens * 2 * (len(family.ffn_in(layer)) * linear_weight(family.ffn_in(layer)[0]).shape[1]
                           + out.shape[0])
    return group, neuron


def budget(body: nn.Module, sparsity: float, tokens: int) -> float:
    """The FLOPs of all heads and FFN neurons that removing ``sparsity`` of the neurons alone leaves: the budget at
    which a search over both is compared with the neurons alone."""
    group, neuron = unit_flops(body, tokens)
    return sum(head_groups(body)) * group + (1 - sparsity) * sum(ffn_widths(body)) * neuron


def pruned(clf: SentimentClassifier, keep_heads: dict, keep_neurons: dict,
           refit: Refit | None = None) -> tuple[SentimentClassifier, dict]:
    """A copy of ``clf`` with the key/value groups outside ``keep_heads`` and the neurons outside ``keep_neurons``
    removed; given ``refit``, the attention's and the FFN's output weights refitted layer by layer
    (``Refit.apply``); and what the refit reports (seconds, refused layer fits)."""
    if refit is not None:
        return refit.apply(clf, keep_neurons, keep_heads=keep_heads)
    smaller = copy.deepcopy(clf).eval()
    remove_heads(smaller.body, keep_heads)
    remove_neurons(smaller.body, keep_neurons)
    return smaller, {"seconds": 0.0, "fell_back": []}


def search(head_scores: np.ndarray, neuron_scores: np.ndarray, costs: tuple[float, float], budget: float,
           floor: float = 0.05) -> tuple[dict, dict]:
    """Kwon et al.'s mask search: the key/value groups and FFN neurons to keep, under ``budget`` FLOPs for all of
    them (``costs``: one group's, one neuron's), that keep the most Fisher information. Every layer keeps its best
    group and the best ``floor`` of its neurons; for each count of further groups (best first, over all layers) the
    rest of the budget buys the best further neurons, and the count that keeps the most information wins."""
    group_cost, neuron_cost = costs
    fixed_heads, free_heads = _split(head_scores, 1)
    fixed_neurons, free_neurons = _split(neuron_scores, max(1, math.ceil(floor * neuron_scores.shape[1])))
    spare = budget - len(fixed_heads) * group_cost - len(fixed_neurons) * neuron_cost
    if spare < 0:
        raise ValueError("The budget is below what the floors keep (one group and the floor of neurons per layer).")
    head_gain = np.concatenate([[0], np.cumsum(free_heads[:, 0])])
    neuron_gain = np.concatenate([[0], np.cumsum(free_neurons[:, 0])])
    counts = np.arange(len(free_heads) + 1)
    affordable = counts[counts * group_cost <= spare]
    neurons = np.minimum(((spare - affordable * group_cost) // neuron_cost).astype(int), len(free_neurons))
    best = int(np.argmax(head_gain[affordable] + neuron_gain[neurons]))
    return (_keep(np.vstack([fixed_heads, free_heads[:affordable[best]]]), head_scores.shape[0]),
            _keep(np.vstack([fixed_neurons, free_neurons[:neurons[best]]]), neuron_scores.shape[0]))


def _split(scores: np.ndarray, fixed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (score, layer, unit): each layer's ``fixed`` best, and all the others, best first (stable)."""
    rank = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1)  # 0: the best of its layer
    layer, unit = np.indices(scores.shape)
    rows = np.stack([scores, layer, unit], -1).reshape(-1, 3)
    first = (rank < fixed).ravel()
    rest = rows[~first]
    return rows[first], rest[np.argsort(-rest[:, 0], kind="stable")]


def _keep(rows: np.ndarray, layers: int) -> dict[int, torch.Tensor]:
    return {index: torch.from_numpy(np.sort(rows[rows[:, 1] == index, 2].astype(np.int64)))
            for index in range(layers)}
