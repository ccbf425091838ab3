"""Retraining-free importance scores of FFN neurons, and budgets that turn a score into keep-sets.

Every score has one signature, ``score(inputs: ScoreInputs) -> np.ndarray`` of shape ``(layers, neurons)``, where a
higher value means more important: the lowest-scoring neurons are pruned first. Scores that need data read the
calibration reviews (drawn from the training split) through forward hooks on each layer's FFN output projection,
whose input is the neurons' activation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .passes import neuron_attribution
from .capture import Objective, ffn_batches
from .classifier import Encoded, SentimentClassifier
from .families import neuron_vectors


@dataclass
class ScoreInputs:
    clf: SentimentClassifier  # the dense fine-tuned model
    calibration: Encoded  # training reviews only
    pad_id: int
    batch_size: int
    similarity: np.ndarray  # the paper's per-neuron probe cosine, ``(layers, neurons)``, as 04/05 use it
    seed: int = 0  # for ``random``


def _batches(inputs: ScoreInputs, objective: Objective | None = None):
    """The calibration reviews, one batch at a time: every layer's FFN neuron activations (``batch.activations``, one
    ``(reviews, tokens, neurons)`` tensor per layer), the attention mask (``batch.mask``, ``(reviews, tokens, 1)``: 1 on
    real tokens) and, when ``objective`` is given, the gradient of ``objective`` with respect to each of those
    activations (``batch.gradients``, the same shapes)."""
    return ffn_batches(inputs.clf, inputs.calibration, inputs.pad_id, inputs.batch_size, objective, "calibration")


def loss(logits: torch.Tensor, labels: np.ndarray) -> torch.Tensor:
    """The fine-tuning objective, summed over the batch: BCE of the logits against the true labels."""
    return F.binary_cross_entropy_with_logits(logits, torch.from_numpy(labels).float().to(logits.device),
                                              reduction="sum")


def activation_stats(inputs: ScoreInputs) -> dict[str, np.ndarray]:
    """Mean and mean absolute activation of every neuron over the calibration tokens (padding excluded)."""
    total = total_abs = tokens = 0
    for batch in _batches(inputs):
        real = [a[batch.attention_mask.bool()] for a in batch.activations]  # (tokens, neurons) per layer
        total = total + torch.stack([a.sum(0) for a in real]).double()
        total_abs = total_abs + torch.stack([a.abs().sum(0) for a in real]).double()
        tokens += len(real[0])
    return {"mean": (total / tokens).float().cpu().numpy(), "mean_abs": (total_abs / tokens).float().cpu().numpy()}


def _output_norms(clf: SentimentClassifier) -> np.ndarray:
    return torch.stack([neuron_vectors(layer, clf.family).detach().norm(dim=1)
                        for layer in clf.family.layers(clf.body)]).cpu().numpy()


def cosine(inputs: ScoreInputs) -> np.ndarray:
    """The paper's score: |cosine| of the output vector to the target state (two-sided, as its rule prunes)."""
    return np.abs(inputs.similarity)


def mirror(inputs: ScoreInputs) -> np.ndarray:
    """Sanity control: the paper's score upside down (prunes the most similar neurons first)."""
    return -cosine(inputs)


def random_noise(inputs: ScoreInputs) -> np.ndarray:
    """Uniform noise: the baseline every score must beat (registered as "random")."""
    return np.random.default_rng(inputs.seed).random(inputs.similarity.shape)


def magnitude(inputs: ScoreInputs) -> np.ndarray:
    """L2 norm of the neuron's output vector."""
    return _output_norms(inputs.clf)


def activation(inputs: ScoreInputs) -> np.ndarray:
    """Wanda-style: mean |activation| over the calibration tokens times the output vector's norm."""
    return activation_stats(inputs)["mean_abs"] * _output_norms(inputs.clf)


def taylor(inputs: ScoreInputs) -> np.ndarray:
    """Fisher information of a neuron mask (Kwon et al. 2022): sum over reviews of (d loss / d mask)^2.

    With a mask ``m`` multiplying the activation, d loss / d m = sum over tokens of activation x gradient.
    """
    fisher = 0
    for batch in _batches(inputs, loss):
        fisher = fisher + torch.stack([((a * g * batch.mask).sum(1) ** 2).sum(0)
                                       for a, g in zip(batch.activations, batch.gradients)])
    return fisher.cpu().numpy()


def contribution(inputs: ScoreInputs) -> np.ndarray:
    """03's measured contribution: activation times the output vector's projection on the decision direction at the
    target token, signed towards the true label (neurons that work against the decision go first)."""
    return neuron_attribution(inputs.clf, inputs.calibration, inputs.pad_id, inputs.batch_size)["contribution"]


SCORES = {"cosine": cosine, "mirror": mirror, "random": random_noise, "magnitude": magnitude, "activation": activation,
          "taylor": taylor, "contribution": contribution}


def register(score):
    """Add ``score`` (``ScoreInputs -> (layers, neurons)`` array, higher = more important) to the scores 06 compares,
    under its function name; usable as a decorator. README: "Extending the study"."""
    SCORES[score.__name__] = score
    return score


def kept_counts(scores: np.ndarray, sparsity: float, budget: Literal["uniform", "global"], floor: float = 0.05,
                multiple: int = 1) -> np.ndarray:
    """Neurons kept per layer when ``sparsity`` of all are pruned.

    ``uniform``: the same sparsity in every layer. ``global``: one ranking over all layers, each layer keeping at
    least ``floor`` of its neurons. Counts are then rounded to a ``multiple`` (at least one multiple, at most the
    width).
    """
    n_layers, width = scores.shape
    if budget == "uniform":
        counts = np.full(n_layers, width - round(width * sparsity))
    elif budget == "global":
        low = max(1, math.ceil(floor * width))
        ranked = -np.sort(-scores, axis=1)  # per layer, best first
        rest = ranked[:, low:].ravel()
        extra = max(0, round(scores.size * (1 - sparsity)) - low * n_layers)
        chosen = np.zeros(rest.size, dtype=bool)
        chosen[np.argsort(-rest, kind="stable")[:extra]] = True
        counts = low + chosen.reshape(n_layers, -1).sum(1)
    else:
        raise ValueError(f"Unknown budget {budget!r}; use 'uniform' or 'global'.")
    return np.clip(multiple * np.round(counts / multiple), multiple, width).astype(int)


def keep_top(scores: np.ndarray, counts: np.ndarray) -> dict[int, torch.Tensor]:
    """Keep the ``counts[l]`` highest-scoring neurons of every layer (sorted indices)."""
    return {layer: torch.from_numpy(np.sort(np.argsort(-row, kind="stable")[:k]))
            for layer, (row, k) in enumerate(zip(scores, counts))}
