"""Structured pruning of FFN neurons: keep-sets per layer, applied by masking (hooks), by zeroing weights (the paper's
way: same shapes, dense arithmetic) or by removal (smaller matrices)."""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .families import family_of, linear_weight, neuron_vectors, remove_neurons


@contextmanager
def masked_inputs(masks: dict[nn.Module, torch.Tensor]):
    """Multiply the input of each module by its mask (a hook) while the context is open."""
    handles = [module.register_forward_pre_hook(lambda _m, args, mask=mask: (args[0] * mask,))
               for module, mask in masks.items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def masked(body: nn.Module, keep: dict[int, torch.Tensor]):
    """Mask the FFN neurons not in ``keep[layer]`` (indices kept) with a hook while the context is open."""
    family = family_of(body)
    layers = family.layers(body)
    masks = {}
    for index, kept in keep.items():
        out = family.ffn_out(layers[index])
        mask = torch.zeros(linear_weight(out).shape[1], dtype=torch.float32, device=out.weight.device)
        mask[torch.as_tensor(kept, dtype=torch.long, device=mask.device)] = 1.0
        masks[out] = mask
    with masked_inputs(masks):
        yield body


def compensate_bias(body: nn.Module, keep: dict[int, torch.Tensor], mean_activation: np.ndarray) -> None:
    """FLAP-style repair, before removal: add what the pruned neurons write on average (mean activation times output
    vector, ``mean_activation`` ``(layers, neurons)`` from calibration data) to each FFN output bias.

    Output projections without a bias (Llama's ``down_proj``) get one; it lives in memory and is not saved.
    """
    family = family_of(body)
    layers = family.layers(body)
    for index, kept in keep.items():
        vectors = neuron_vectors(layers[index], family).detach()
        pruned = np.setdiff1d(np.arange(vectors.shape[0]), np.asarray(kept))
        shift = torch.from_numpy(mean_activation[index, pruned]).to(vectors.device, vectors.dtype) @ vectors[pruned]
        out = family.ffn_out(layers[index])
        out.bias = nn.Parameter(shift if out.bias is None else out.bias.detach() + shift)


def zeroed_copy(clf: nn.Module, keep: dict[int, torch.Tensor]) -> nn.Module:
    """A copy of a classifier with the weights of the neurons outside ``keep`` set to zero (the paper's pruning): every
    matrix keeps its shape, so the arithmetic stays dense."""
    zeroed = copy.deepcopy(clf)
    family = family_of(zeroed.body)
    layers = family.layers(zeroed.body)
    with torch.no_grad():
        for index, kept in keep.items():
            out = family.ffn_out(layers[index])
            dropped = torch.ones(linear_weight(out).shape[1], dtype=torch.bool, device=out.weight.device)
            dropped[torch.as_tensor(kept, dtype=torch.long, device=dropped.device)] = False
            for module in family.ffn_in(layers[index]):  # the neurons are its outputs: rows
                linear_weight(module)[dropped] = 0
                if module.bias is not None:
                    module.bias[dropped] = 0
            linear_weight(out)[:, dropped] = 0  # the neurons are its inputs: columns
    return zeroed


def pruned_copy(clf: nn.Module, keep: dict[int, torch.Tensor], mean_activation: np.ndarray | None = None) -> nn.Module:
    """A copy of a classifier with the neurons outside ``keep`` removed, its biases repaired when ``mean_activation``
    is given."""
    pruned = copy.deepcopy(clf)
    if mean_activation is not None:
        compensate_bias(pruned.body, keep, mean_activation)
    remove_neurons(pruned.body, keep)
    return pruned


def neuron_similarity(cosines: np.ndarray, how: str = "mean") -> np.ndarray:
    """One similarity per neuron from the probe inputs' cosines ``(input, layer, neuron)``.

    ``mean``: the signed mean over inputs (default); ``max_abs``: the cosine of largest magnitude.
    """
    if how == "mean":
        return cosines.mean(axis=0)
    if how == "max_abs":
        pick = np.abs(cosines).argmax(axis=0)
        return np.take_along_axis(cosines, pick[None], axis=0)[0]
    raise ValueError(f"Unknown neuron similarity {how!r}; use 'mean' or 'max_abs'.")


def focusing_layers(paper_layers: list[int], n_layers: int, paper_depth: int = 12) -> list[int]:
    """Map the paper's focusing layers (of a 12-layer model) to a model of ``n_layers`` by relative depth.

    Layer k of n spans [k/n, (k+1)/n) of the depth; it is focusing when that span overlaps a focusing layer's span
    [l/12, (l+1)/12). For n = 12 this is the identity.
    """
    return [k for k in range(n_layers)
            if any(k * paper_depth < (layer + 1) * n_layers and layer * n_layers < (k + 1) * paper_depth
                   for layer in paper_layers)]


@dataclass(frozen=True)
class PaperRule:
    """The paper's threshold rule (section 3.4) with the interpretations documented in 04_prune_bert."""

    kind: str  # "encoder": |S[l]*alpha_l + l*beta_l|; "decoder": S[l]*alpha_l
    alpha: float
    beta: float  # unused by the decoder rule
    focusing: tuple[int, ...]  # already mapped to this model's depth

    def thresholds(self, layer_similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-layer threshold and whether it is one-sided (prune cos < t) rather than two-sided (prune |cos| < t).

        ``layer_similarity[l]`` is the cosine of layer l's *input* state (0 = embeddings) to the final state.
        """
        n = len(layer_similarity) - 1
        layers = np.arange(n)
        focus = np.isin(layers, self.focusing)
        if self.kind == "encoder":  # focusing layers: 3x beta; last layer: 3x alpha and one-sided
            alpha = np.where(layers == n - 1, 3 * self.alpha, self.alpha)
            beta = np.where(focus, 3 * self.beta, self.beta)
            return np.abs(layer_similarity[:n] * alpha + layers * beta), layers == n - 1
        if self.kind == "decoder":  # focusing layers: 3x alpha; no abs, so a negative threshold prunes nothing
            return layer_similarity[:n] * np.where(focus, 3 * self.alpha, self.alpha), np.zeros(n, dtype=bool)
        raise ValueError(f"Unknown rule kind {self.kind!r}; use 'encoder' or 'decoder'.")


def keep_by_threshold(similarity: np.ndarray, thresholds: np.ndarray, one_sided: np.ndarray) -> dict[int, torch.Tensor]:
    """Neurons kept per layer: those *not* below their layer's threshold."""
    keep = {}
    for layer, (sim, t, single) in enumerate(zip(similarity, thresholds, one_sided)):
        pruned = sim < t if single else np.abs(sim) < t
        keep[layer] = torch.from_numpy(np.flatnonzero(~pruned))
    return keep


def keep_random(widths: list[int], n_pruned: list[int], protected: list[np.ndarray],
                seed: int) -> dict[int, torch.Tensor]:
    """The paper's baseline: prune the same number per layer at random, never a protected (above-0.35) neuron."""
    rng = np.random.default_rng(seed)
    keep = {}
    for layer, (width, count, safe) in enumerate(zip(widths, n_pruned, protected)):
        candidates = np.setdiff1d(np.arange(width), safe)
        pruned = rng.choice(candidates, size=min(count, len(candidates)), replace=False)
        keep[layer] = torch.from_numpy(np.setdiff1d(np.arange(width), pruned))
    return keep


def pruned_fraction(keep: dict[int, torch.Tensor], widths: list[int]) -> float:
    """Fraction of all FFN neurons removed."""
    return 1 - sum(len(k) for k in keep.values()) / sum(widths)


def scale_for_sparsity(similarity, thresholds, one_sided, widths, sparsity: float, steps: int = 50) -> float:
    """The factor on every threshold that prunes ``sparsity`` of the FFN neurons (bisection on a monotone count)."""
    low, high = 0.0, 1.0
    while pruned_fraction(keep_by_threshold(similarity, thresholds * high, one_sided), widths) < sparsity:
        high *= 2
        if high > 1e6:
            raise ValueError(f"No threshold scale prunes {sparsity:.0%} of the neurons.")
    for _ in range(steps):
        mid = (low + high) / 2
        if pruned_fraction(keep_by_threshold(similarity, thresholds * mid, one_sided), widths) < sparsity:
            low = mid
        else:
            high = mid
    return high


def top_k_keep(scores: np.ndarray, k: int) -> dict[int, torch.Tensor]:
    """Keep-sets that drop the ``k`` highest-scoring neurons over all layers of ``scores`` ``(L, n)``."""
    dropped = np.zeros(scores.size, dtype=bool)
    dropped[np.argsort(-scores, axis=None, kind="stable")[:k]] = True
    dropped = dropped.reshape(scores.shape)
    return {layer: torch.from_numpy(np.flatnonzero(~row)) for layer, row in enumerate(dropped)}
