"""Model passes the anatomy reads: each layer's target-token state, the lens (the head on every layer), the cosines of
FFN output vectors to a target, and each neuron's write to the decision."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..base.runtime import progress
from .capture import ffn_batches
from .classifier import Encoded, SentimentClassifier, encode
from .families import neuron_vectors, target_index


@torch.no_grad()
def target_states(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int = 16) -> torch.Tensor:
    """The target token's state after the embeddings (layer 0) and after every layer: ``(n, L + 1, hidden)``.

    The last entry is exactly what the head sees (for decoders: after the final norm).
    """
    clf.eval()
    out = []
    for start in progress(range(0, len(data.ids), batch_size), desc="hidden states"):
        batch = data.batch(range(start, min(start + batch_size, len(data.ids))), pad_id, clf.device)
        result = clf.body(**batch, output_hidden_states=True)
        layers = list(result.hidden_states[:-1]) + [result.last_hidden_state]
        out.append(torch.stack([clf.target_states(h, batch["attention_mask"]) for h in layers], dim=1))
    return torch.cat(out).cpu()


def layer_similarity(states: torch.Tensor) -> np.ndarray:
    """Cosine of each layer's target state to the final one: ``(n, L + 1)``, last column 1."""
    return F.cosine_similarity(states, states[:, -1:, :], dim=-1).numpy()


@torch.no_grad()
def lens_logits(clf: SentimentClassifier, states: torch.Tensor) -> np.ndarray:
    """The fine-tuned head applied to every layer's target state (final norm first, as the last layer gets it)."""
    norm = clf.family.final_norm(clf.body)
    inner = states[:, :-1] if norm is None else norm(states[:, :-1].to(clf.device)).cpu()
    clf.eval()
    return clf.logit(torch.cat([inner, states[:, -1:]], dim=1).to(clf.device)).cpu().numpy()


@torch.no_grad()
def neuron_cosines(clf: SentimentClassifier, targets: torch.Tensor) -> np.ndarray:
    """Cosine of every FFN output vector to each target vector: ``(n_targets, L, n_neurons)`` (equal widths)."""
    targets = F.normalize(targets.float().cpu(), dim=-1)  # unit vectors: each cosine is then one dot product
    return np.stack([(targets @ F.normalize(neuron_vectors(layer, clf.family).float().cpu(), dim=-1).T).numpy()
                     for layer in clf.family.layers(clf.body)], axis=1)


def target_alignment(targets: torch.Tensor) -> float:
    """Mean cosine between the final target states of different inputs (``(inputs, hidden)``): near 1, every input's
    target points the same way, so any neuron close to one is close to all and identical sets are expected."""
    unit = F.normalize(targets.float(), dim=-1)
    cos = (unit @ unit.T).cpu().numpy()
    return float(cos[~np.eye(len(cos), dtype=bool)].mean())


def probe_states(clf: SentimentClassifier, tokenizer, texts, cfg) -> torch.Tensor:
    """Target-token states of a list of texts, tokenized as the model was trained (labels are not needed)."""
    data = encode(tokenizer, texts, [0] * len(texts), cfg.max_tokens, cfg.truncation)
    return target_states(clf, data, tokenizer.pad_token_id, cfg.eval_batch_size)


def neuron_attribution(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int) -> dict[str, np.ndarray]:
    """Per FFN neuron ``(L, n)``, averaged over reviews:

    * ``contribution``: its direct write to the decision at the target token, activation times (output vector . head
      direction), the final norm's gain folded into the direction; signed towards the true label;
    * ``effect``: |activation x d logit / d activation| summed over positions, a first-order estimate of how much
      zeroing it moves the logit (what the ablation measures, for every neuron at once).
    """
    layers = clf.family.layers(clf.body)
    norm = clf.family.final_norm(clf.body)
    direction = clf.head.weight[0].detach() * (norm.weight.detach() if norm is not None else 1.0)
    writes = torch.stack([neuron_vectors(layer, clf.family).detach() @ direction for layer in layers])  # (L, n)
    contribution, effect = torch.zeros_like(writes), torch.zeros_like(writes)
    for batch in ffn_batches(clf, data, pad_id, batch_size, lambda logits, _labels: logits.sum(), "attribution"):
        sign = torch.from_numpy(2.0 * data.labels[batch.rows] - 1).float().to(clf.device)  # a batch of one stays 1-d
        target = target_index(batch.attention_mask, clf.family.target)
        for index, (act, grad) in enumerate(zip(batch.activations, batch.gradients)):
            at_target = act[torch.arange(len(batch.rows)), target]  # (batch, n)
            contribution[index] += (sign[:, None] * at_target * writes[index]).sum(0)
            effect[index] += ((act * grad).abs() * batch.mask).sum(1).sum(0)
    n = len(data.ids)
    return {"contribution": (contribution / n).cpu().numpy(), "effect": (effect / n).cpu().numpy()}
