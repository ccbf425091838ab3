"""Passes over reviews that capture every FFN's neuron activations (the input of its output projection), or the
inputs of any modules, and optionally their gradients: the one loop behind 03's attribution, 06's data-driven scores
and repairs, and the head scores."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from .classifier import Encoded, SentimentClassifier
from ..base.runtime import progress

Objective = Callable[[torch.Tensor, np.ndarray], torch.Tensor]  # (logits, labels of the batch) -> scalar


@dataclass
class Batch:
    rows: list[int]
    attention_mask: torch.Tensor  # (batch, seq)
    activations: list[torch.Tensor]  # per layer (or module), (batch, seq, neurons), detached
    gradients: list[torch.Tensor] | None  # d objective / d activations, per layer (or module)

    @property
    def mask(self) -> torch.Tensor:
        """``(batch, seq, 1)``: 1 on real tokens, 0 on padding."""
        return self.attention_mask[..., None].float()


def ffn_batches(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int,
                objective: Objective | None = None, desc: str = "FFN activations") -> Iterator[Batch]:
    """Run ``data`` through ``clf`` in order, one :class:`Batch` of every layer's neuron activations at a time;
    gradients only when ``objective`` is given."""
    outs = [clf.family.ffn_out(layer) for layer in clf.family.layers(clf.body)]
    return input_batches(clf, outs, data, pad_id, batch_size, objective, desc)


def input_batches(clf: SentimentClassifier, modules: list, data: Encoded, pad_id: int, batch_size: int,
                  objective: Objective | None = None, desc: str = "activations") -> Iterator[Batch]:
    """Run ``data`` through ``clf`` in order, one :class:`Batch` of the inputs of ``modules`` (in their order) at a
    time; gradients only when ``objective`` is given."""
    captured = {}
    hooks = [m.register_forward_pre_hook(lambda _m, args, i=i: captured.__setitem__(i, args[0]))
             for i, m in enumerate(modules)]
    clf.eval()
    try:
        for start in progress(range(0, len(data.ids), batch_size), desc=desc):
            rows = list(range(start, min(start + batch_size, len(data.ids))))
            batch = data.batch(rows, pad_id, clf.device)
            captured.clear()
            with torch.set_grad_enabled(objective is not None):
                logits = clf(**batch)
            inputs = [captured[i] for i in range(len(modules))]
            grads = None if objective is None else torch.autograd.grad(objective(logits, data.labels[rows]), inputs)
            yield Batch(rows, batch["attention_mask"], [a.detach() for a in inputs], grads)
    finally:
        for hook in hooks:
            hook.remove()
