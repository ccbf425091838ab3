"""Layer and FFN-neuron anatomy: target-token states per layer, cosines to the final one, neuron cosines, graphs."""
from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F

from .capture import ffn_batches
from .classifier import Encoded, SentimentClassifier
from .families import neuron_vectors, target_index
from .runtime import progress


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
    return clf.head(torch.cat([inner, states[:, -1:]], dim=1).to(clf.device)).cpu().numpy()


def decision_layer(lens: np.ndarray) -> int:
    """First layer from which the lens logit has the final sign on most reviews, and keeps it to the end."""
    agrees = (np.sign(lens) == np.sign(lens[:, -1:])).mean(axis=0) > 0.5
    settled = [l for l in range(lens.shape[1]) if agrees[l:].all()]
    return settled[0]


@torch.no_grad()
def neuron_cosines(clf: SentimentClassifier, targets: torch.Tensor) -> np.ndarray:
    """Cosine of every FFN output vector to each target vector: ``(n_targets, L, n_neurons)`` (equal widths)."""
    layers = clf.family.layers(clf.body)
    return np.stack(
        [F.cosine_similarity(neuron_vectors(layer, clf.family).cpu()[None], targets[:, None, :].cpu(), dim=-1).numpy()
         for layer in layers], axis=1)


def above_threshold(cosines: np.ndarray, threshold: float) -> list[list[list[int]]]:
    """Indices of neurons whose cosine exceeds ``threshold``: ``[input][layer] -> sorted neuron ids``."""
    return [[np.flatnonzero(row > threshold).tolist() for row in per_input] for per_input in cosines]


def jaccard(a: list[int], b: list[int]) -> float:
    """Overlap of two neuron sets; two empty sets count as identical."""
    union = set(a) | set(b)
    return len(set(a) & set(b)) / len(union) if union else 1.0


def jaccard_matrix(sets: list[list[list[int]]], layers) -> np.ndarray:
    """Mean Jaccard overlap between every pair of inputs over the given layers: ``(n_inputs, n_inputs)``."""
    n = len(sets)
    return np.array([[np.mean([jaccard(sets[i][l], sets[j][l]) for l in layers]) for j in range(n)] for i in range(n)])


def mean_pairwise_jaccard(sets: list[list[list[int]]]) -> float:
    """Mean Jaccard over all input pairs and layers."""
    pairs = itertools.combinations(range(len(sets)), 2)
    return float(np.mean([jaccard(sets[i][l], sets[j][l]) for i, j in pairs for l in range(len(sets[0]))]))


def neuron_graph(layer_sets: list[list[int]]) -> nx.DiGraph:
    """The paper's graph: above-threshold neurons as nodes, each fully connected to those of the next layer.

    An empty layer breaks the chain, leaving the paper's "dangling nodes".
    """
    graph = nx.DiGraph()
    for layer, neurons in enumerate(layer_sets):
        graph.add_nodes_from(((layer, n) for n in neurons), layer=layer)
    for layer in range(len(layer_sets) - 1):
        graph.add_edges_from(((layer, a), (layer + 1, b)) for a in layer_sets[layer] for b in layer_sets[layer + 1])
    return graph


def probe_states(clf: SentimentClassifier, tokenizer, texts, cfg) -> torch.Tensor:
    """Target-token states of a list of texts, tokenized as the model was trained (labels are not needed)."""
    from .classifier import encode

    data = encode(tokenizer, texts, [0] * len(texts), cfg.max_tokens, cfg.truncation)
    return target_states(clf, data, tokenizer.pad_token_id, cfg.eval_batch_size)


def similarity_table(similarity: np.ndarray) -> "pd.DataFrame":
    """Per-layer mean and spread (std, min, max) over inputs of the cosine to the final state: ``Layer_similarity``."""
    import pandas as pd

    return pd.DataFrame({"mean": similarity.mean(0), "std": similarity.std(0), "min": similarity.min(0),
                         "max": similarity.max(0)}).rename_axis("layer").round(4)


def layer_groups(n_layers: int, parts: int = 3) -> dict[str, np.ndarray]:
    """Lower / middle / upper layers (fewer groups for shallow models), labelled by their range."""
    return {f"layers {g[0]}-{g[-1]}": g for g in np.array_split(np.arange(n_layers), min(parts, n_layers))}


def neuron_attribution(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int) -> dict[str, np.ndarray]:
    """Per FFN neuron ``(L, n)``, averaged over reviews:

    * ``contribution``: its direct write to the decision at the target token, activation times (output vector . head
      direction), the final norm's gain folded into the direction; signed towards the true label;
    * ``effect``: |activation x d logit / d activation| summed over positions, a first-order estimate of how much
      zeroing it moves the logit (what the ablation measures, for every neuron at once).
    """
    layers = clf.family.layers(clf.body)
    norm = clf.family.final_norm(clf.body)
    direction = clf.dense.weight[0].detach() * (norm.weight.detach() if norm is not None else 1.0)
    writes = torch.stack([neuron_vectors(layer, clf.family).detach() @ direction for layer in layers])  # (L, n)
    contribution, effect = torch.zeros_like(writes), torch.zeros_like(writes)
    for batch in ffn_batches(clf, data, pad_id, batch_size, lambda logits, _labels: logits.sum(), "attribution"):
        sign = torch.from_numpy(2.0 * data.labels[batch.rows] - 1).float().to(clf.device)  # a batch of one stays 1-d
        target = target_index(batch.attention_mask, clf.family.target)
        for l, (act, grad) in enumerate(zip(batch.activations, batch.gradients)):
            at_target = act[torch.arange(len(batch.rows)), target]  # (batch, n)
            contribution[l] += (sign[:, None] * at_target * writes[l]).sum(0)
            effect[l] += ((act * grad).abs() * batch.mask).sum(1).sum(0)
    n = len(data.ids)
    return {"contribution": (contribution / n).cpu().numpy(), "effect": (effect / n).cpu().numpy()}


def top_k_keep(scores: np.ndarray, k: int) -> dict[int, torch.Tensor]:
    """Keep-sets that drop the ``k`` highest-scoring neurons over all layers of ``scores`` ``(L, n)``."""
    dropped = np.zeros(scores.size, dtype=bool)
    dropped[np.argsort(-scores, axis=None, kind="stable")[:k]] = True
    dropped = dropped.reshape(scores.shape)
    return {l: torch.from_numpy(np.flatnonzero(~row)) for l, row in enumerate(dropped)}


def ablation(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int, drops: dict[str, dict]) -> "pd.DataFrame":
    """Mask each named set of neurons (``drops``: name -> neurons kept); change in accuracy (ablated minus dense, paired
    on the same reviews, with its 95% interval) and mean |change| of the positive-class logit."""
    import pandas as pd

    from .classifier import predict
    from .pruning import masked
    from .stats import paired

    dense = predict(clf, data, pad_id, batch_size)
    correct = lambda logits: ((logits > 0) == data.labels).astype(float)  # noqa: E731
    rows = []
    for name, keep in drops.items():
        with masked(clf.body, keep):
            logits = predict(clf, data, pad_id, batch_size)
        change = paired(correct(logits), correct(dense))
        rows.append({"ablated": name, "delta_accuracy": change["delta"], "ci_low": change["ci_low"],
                     "ci_high": change["ci_high"], "n": change["n"],
                     "mean_abs_delta_logit": float(np.abs(logits - dense).mean())})
    return pd.DataFrame(rows).set_index("ablated")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation over all neurons of two ``(L, n)`` scores."""
    from scipy.stats import spearmanr

    return float(spearmanr(a.ravel(), b.ravel()).statistic)
