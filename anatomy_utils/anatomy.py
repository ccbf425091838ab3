"""Layer and FFN-neuron anatomy: target-token states per layer, cosines to the final one, neuron cosines, graphs."""
from __future__ import annotations

import gzip
import itertools
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .capture import ffn_batches
from .classifier import Encoded, SentimentClassifier
from .data import PROBES
from .families import ffn_width, neuron_vectors, target_index
from .finetune import checkpoint_dir
from .profiles import Profile
from .cache import artifact, atomic_write_bytes, chain, code_fingerprint, sha256
from .runtime import FIGURES, progress
from .stats import LEVEL, auc, bootstrap, compare, wilson


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


def lens_agreement(lens: np.ndarray, level: float = LEVEL) -> pd.DataFrame:
    """Per layer of ``lens`` ``(reviews, L + 1)``: how often the lens's predicted class (logit > 0) is the final one.

    Columns: ``agreement`` with its Wilson interval (``ci_low``, ``ci_high``, at ``level``); ``chance``, the share of
    the more frequent final prediction, which is what a lens that predicts one class for every review gets at best;
    ``single_class``, whether the lens predicts the same class for every review at that layer (its agreement is then
    just the share of that class); ``auc``, the threshold-free reading (``lens_auc``); ``n``. The last row (the head on
    the last layer) agrees by construction.
    """
    predicted = lens > 0
    final = predicted[:, -1]
    share = float(final.mean())
    chance = max(share, 1 - share)
    aucs = lens_auc(lens)
    rows = []
    for layer in range(lens.shape[1]):
        agrees = (predicted[:, layer] == final).astype(int)
        low, high = wilson(agrees, level)
        rows.append({"agreement": float(agrees.mean()), "ci_low": low, "ci_high": high, "chance": chance,
                     "single_class": bool(predicted[:, layer].all() or not predicted[:, layer].any()),
                     "auc": aucs[layer], "n": len(agrees)})
    return pd.DataFrame(rows).rename_axis("layer")


def lens_auc(lens: np.ndarray) -> np.ndarray:
    """Per layer, the AUC of the lens's logit against the final prediction (``lens[:, -1] > 0``): how well the layer's
    logit ranks the reviews the model finally calls positive above the others, whatever threshold the head's bias
    sets. 0.5 is no information, 1 a perfect ranking; the last layer is 1 by construction. NaN with one final class."""
    final = lens[:, -1] > 0
    return np.array([auc(lens[:, layer], final) for layer in range(lens.shape[1])])


def decision_layer(lens: np.ndarray, criterion: float) -> int | None:
    """First layer from which the lens's AUC against the final prediction (``lens_auc``) stays at or above
    ``criterion`` at every later layer: where the decision can be read off the residual stream. The last layer
    always qualifies (its AUC is 1), so the answer can be any layer; None with one final class only."""
    aucs = lens_auc(lens)
    if np.isnan(aucs).all():
        return None
    below = np.flatnonzero(~(aucs >= criterion))
    return int(below[-1] + 1) if len(below) else 0


def lens_frame(lens: np.ndarray, labels, similarity: np.ndarray) -> pd.DataFrame:
    """Tidy per-review lens logits and cosines to the final state (``layer_similarity``): columns review, label,
    layer, logit, cosine (rounded to 5 decimals)."""
    n, layers = lens.shape
    return pd.DataFrame({"review": np.repeat(np.arange(n), layers), "label": np.repeat(np.asarray(labels), layers),
                         "layer": np.tile(np.arange(layers), n),
                         "logit": lens.astype(np.float64).ravel().round(5),
                         "cosine": np.asarray(similarity, dtype=np.float64).ravel().round(5)})


def logits_frame(labels, variants: dict[str, np.ndarray]) -> pd.DataFrame:
    """Tidy per-review logits of named variants: columns review, label, variant, logit (rounded to 5 decimals)."""
    labels = np.asarray(labels)
    return pd.concat([pd.DataFrame({"review": np.arange(len(labels)), "label": labels, "variant": name,
                                    "logit": np.asarray(logits, dtype=np.float64).round(5)})
                      for name, logits in variants.items()], ignore_index=True)


def save_table(table: pd.DataFrame, profile: str, name: str):
    """Write ``figures/<profile>/<name>.csv.gz`` (gzip without a timestamp, so reruns write the same bytes)."""
    path = FIGURES / profile / f"{name}.csv.gz"
    atomic_write_bytes(path, gzip.compress(table.to_csv(index=False).encode(), mtime=0))
    return path


@torch.no_grad()
def neuron_cosines(clf: SentimentClassifier, targets: torch.Tensor) -> np.ndarray:
    """Cosine of every FFN output vector to each target vector: ``(n_targets, L, n_neurons)`` (equal widths)."""
    targets = F.normalize(targets.float().cpu(), dim=-1)  # unit vectors: each cosine is then one dot product
    return np.stack([(targets @ F.normalize(neuron_vectors(layer, clf.family).float().cpu(), dim=-1).T).numpy()
                     for layer in clf.family.layers(clf.body)], axis=1)


COSINE_CODE = ("anatomy", "capture", "classifier", "families")  # modules whose code decides the neuron cosines


def cosines_key(checkpoint: str) -> str:
    """Key of the probe cosines of the checkpoint named ``checkpoint`` (itself keyed by its data, settings and training
    code): that name, the probe inputs and the cosine code, chained."""
    return chain(checkpoint, sha256(PROBES), code_fingerprint(*COSINE_CODE))


def cosines_path(profile: Profile, role: str) -> Path:
    """Where 03 stores the per-neuron probe cosines of ``role`` and 04-05 read them (``cosines_key``)."""
    key = cosines_key(checkpoint_dir(profile, role).name)
    return artifact(profile.name, f"neuron_cosines_{role}-{key}.npy")


def load_cosines(profile: Profile, role: str) -> np.ndarray:
    """The cosines 03 stored for the current checkpoint and code, or a one-line error naming the notebook to run."""
    path = cosines_path(profile, role)
    if not path.exists():
        raise FileNotFoundError(f"No {role} neuron cosines for this checkpoint and code ({path.name}): run "
                                f"03_ffn_neurons first (make PROFILE={profile.name}).")
    return np.load(path)


def target_alignment(targets: torch.Tensor) -> float:
    """Mean cosine between the final target states of different inputs (``(inputs, hidden)``): near 1, every input's
    target points the same way, so any neuron close to one is close to all and identical sets are expected."""
    unit = F.normalize(targets.float(), dim=-1)
    cos = (unit @ unit.T).cpu().numpy()
    return float(cos[~np.eye(len(cos), dtype=bool)].mean())


def above_threshold(cosines: np.ndarray, threshold: float) -> list[list[list[int]]]:
    """Indices of neurons whose cosine exceeds ``threshold``: ``[input][layer] -> sorted neuron ids``."""
    return [[np.flatnonzero(row > threshold).tolist() for row in per_input] for per_input in cosines]


def top_k(cosines: np.ndarray, k: int) -> list[list[list[int]]]:
    """The ``k`` neurons of highest cosine per input and layer: ``[input][layer] -> sorted neuron ids``."""
    order = np.argsort(-cosines, axis=-1, kind="stable")[..., :k]
    return [[sorted(row.tolist()) for row in per_input] for per_input in order]


def set_text(ids) -> str:
    return " ".join(map(str, ids))


def review_sets(cosines: np.ndarray, threshold: float, k: int) -> pd.DataFrame:
    """Per review and layer of ``cosines`` ``(reviews, L, n)``: the neurons above ``threshold`` and the top ``k`` by
    cosine, as space-separated ids (columns review, layer, above, top), the table 08 judges the anatomy claims on."""
    above, top = above_threshold(cosines, threshold), top_k(cosines, k)
    return pd.DataFrame([{"review": r, "layer": l, "above": set_text(above[r][l]), "top": set_text(top[r][l])}
                         for r in range(len(cosines)) for l in range(cosines.shape[1])])


def parse_sets(column: pd.Series, reviews: int, layers: int) -> list[list[list[int]]]:
    """``review_sets``' id strings back to ``[review][layer] -> ids`` (rows in review, layer order)."""
    ids = [list(map(int, str(text).split())) if isinstance(text, str) else [] for text in column]
    return [ids[r * layers:(r + 1) * layers] for r in range(reviews)]


def top_k_count(fraction: float, width: int) -> int:
    """k of the top-k sets: ``round(fraction * width)``, at least 1."""
    return max(1, round(fraction * width))


def jaccard(a: list[int], b: list[int]) -> float:
    """Overlap of two neuron sets; NaN for two empty sets (nothing to compare)."""
    union = set(a) | set(b)
    return len(set(a) & set(b)) / len(union) if union else math.nan


def jaccard_matrix(sets: list[list[list[int]]], layers) -> np.ndarray:
    """Mean Jaccard overlap between every pair of inputs over those of the given layers where at least one of the two
    sets is non-empty: ``(n_inputs, n_inputs)``, NaN where both sets are empty at every one of the layers (computed
    from indicator matrices, fast for hundreds of inputs)."""
    n = len(sets)
    width = 1 + max((i for per_input in sets for l in layers for i in per_input[l]), default=0)
    total, count = np.zeros((n, n)), np.zeros((n, n))
    for l in layers:
        member = np.zeros((n, width))
        for r in range(n):
            member[r, sets[r][l]] = 1
        inter = member @ member.T
        sizes = member.sum(1)
        union = sizes[:, None] + sizes[None, :] - inter
        seen = union > 0
        total[seen] += inter[seen] / union[seen]
        count += seen
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def chance_jaccard(a: int, b: int, n: int) -> float:
    """Expected Jaccard of two independent sets of sizes ``a`` and ``b`` drawn uniformly from ``n`` neurons (exact:
    the intersection is hypergeometric); NaN when both are empty. For ``a = b = k`` it is close to ``k / (2n - k)``."""
    if a == 0 and b == 0:
        return math.nan
    from scipy.stats import hypergeom

    x = np.arange(max(0, a + b - n), min(a, b) + 1)
    return float(np.sum(hypergeom.pmf(x, n, a, b) * x / (a + b - x)))


def _pair_cells(sets: list[list[list[int]]], widths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(input, input, layer)`` arrays of the Jaccard of two inputs' sets and of its chance value (random sets of the
    same sizes, exact), NaN where both sets are empty."""
    n_inputs, n_layers = len(sets), len(sets[0])
    value = np.full((n_inputs, n_inputs, n_layers), np.nan)
    chance = np.full((n_inputs, n_inputs, n_layers), np.nan)
    cache = {}
    for i, j in itertools.combinations(range(n_inputs), 2):
        for l in range(n_layers):
            a, b = sets[i][l], sets[j][l]
            if a or b:
                value[i, j, l] = value[j, i, l] = jaccard(a, b)
                key = (min(len(a), len(b)), max(len(a), len(b)), widths[l])
                if key not in cache:
                    cache[key] = chance_jaccard(*key)
                chance[i, j, l] = chance[j, i, l] = cache[key]
    return value, chance


def _input_resample(value: np.ndarray, upper: np.ndarray):
    """The statistic ``stats.bootstrap`` resamples inputs with: mean Jaccard over the non-empty cells of the drawn
    inputs (pairs of an input with itself left out); NaN when no such cell is drawn."""
    total, count = np.nansum(value, axis=2), np.isfinite(value).sum(axis=2)  # per input pair, over layers

    def statistic(idx: np.ndarray) -> float:
        keep = upper & (idx[:, None] != idx[None, :])
        c = count[np.ix_(idx, idx)][keep].sum()
        return total[np.ix_(idx, idx)][keep].sum() / c if c else math.nan
    return statistic


def overlap_summary(sets: list[list[list[int]]], widths, level: float = LEVEL, resamples: int = 2000,
                    seed: int = 0) -> dict:
    """How much the neuron sets of different inputs overlap, over the (input pair, layer) cells where at least one of
    the two sets is non-empty (two empty sets say nothing about which neurons an input uses).

    ``sets``: ``[input][layer] -> neuron ids``; ``widths``: neurons per layer (one int for all layers, or a list).
    Returns ``jaccard_nonempty`` (mean over those cells), ``nonempty_pairs`` (how many) of ``total_pairs``,
    ``jaccard_chance`` (the expected Jaccard of random sets of the same sizes, same cells, exact), and ``ci_low`` /
    ``ci_high``, a percentile bootstrap over inputs (inputs resampled with replacement, pairs of an input with itself
    left out, ``seed`` fixed). Values that do not exist (no non-empty cell) are None, never NaN.
    """
    n_inputs, n_layers = len(sets), len(sets[0])
    value, chance = _pair_cells(sets, [widths] * n_layers if np.isscalar(widths) else list(widths))
    upper = np.triu(np.ones((n_inputs, n_inputs), dtype=bool), 1)
    cells = value[upper]
    pairs = int(np.isfinite(cells).sum())
    out = {"jaccard_nonempty": None, "ci_low": None, "ci_high": None, "jaccard_chance": None, "nonempty_pairs": pairs,
           "total_pairs": int(upper.sum()) * n_layers, "inputs": n_inputs, "level": level}
    if pairs == 0:
        return out
    low, high = bootstrap(_input_resample(value, upper), n_inputs, level, resamples, seed)
    return out | {"jaccard_nonempty": float(np.nanmean(cells)), "jaccard_chance": float(np.nanmean(chance[upper])),
                  "ci_low": low, "ci_high": high}


OVERLAP_COLUMNS = ("nonempty_pairs", "total_pairs", "jaccard_nonempty", "ci_low", "ci_high", "jaccard_chance")


def overlap_table(results: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """``overlap_summary`` results keyed by (model, sets) as one table, a row each."""
    return pd.DataFrame([{"model": model, "sets": sets} | {k: r[k] for k in OVERLAP_COLUMNS}
                         for (model, sets), r in results.items()]).set_index(["model", "sets"])


def overlap_values(role: str, threshold_sets: dict, topk_sets: dict, k: int, width: int, alignment: float) -> dict:
    """The summary keys of 03's overlap results for one role (None, never NaN, where a value does not exist)."""
    prefix = f"anatomy.{role}"
    return {f"{prefix}.target_alignment": alignment,
            f"{prefix}.jaccard_nonempty": threshold_sets["jaccard_nonempty"],
            f"{prefix}.jaccard_nonempty_ci_low": threshold_sets["ci_low"],
            f"{prefix}.jaccard_nonempty_ci_high": threshold_sets["ci_high"],
            f"{prefix}.jaccard_chance": threshold_sets["jaccard_chance"],
            f"{prefix}.nonempty_pairs": threshold_sets["nonempty_pairs"],
            f"{prefix}.topk.k": k, f"{prefix}.topk.jaccard": topk_sets["jaccard_nonempty"],
            f"{prefix}.topk.ci_low": topk_sets["ci_low"], f"{prefix}.topk.ci_high": topk_sets["ci_high"],
            f"{prefix}.topk.jaccard_chance": topk_sets["jaccard_chance"], f"{prefix}.ffn_width": width}


def lens_values(role: str, agreement: pd.DataFrame, decision: int | None) -> dict:
    """The summary keys of 02's lens for one role: the decision layer and its depth (None when there is none), the
    chance level and the number of layers."""
    layers = len(agreement) - 1
    return {f"anatomy.{role}.decision_layer": decision,
            f"anatomy.{role}.decision_depth": None if decision is None else decision / layers,
            f"anatomy.{role}.lens_chance": float(agreement["chance"].iloc[0]), f"anatomy.{role}.layers": layers}


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
    direction = clf.head.weight[0].detach() * (norm.weight.detach() if norm is not None else 1.0)
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


ABLATIONS = ("top_cosine", "top_contribution", "random")  # the variants of 03's ablation, besides "dense"
RANDOM_MASK = "random mask {}"  # 03's random masks: their distribution is the "random" row


def ablation(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int, drops: dict[str, dict],
             level: float = LEVEL) -> tuple["pd.DataFrame", dict[str, np.ndarray]]:
    """Mask each named set of neurons (``drops``: name -> neurons kept per layer); per name, the change in accuracy
    (masked minus dense on the same reviews, ``stats.compare`` at ``level``), the number of neurons masked and the
    mean |change| of the positive-class logit. Names ``RANDOM_MASK.format(i)`` are one row, "random": their
    distribution against dense (two-level: masks and reviews). Also returns the per-review logits, "dense" first."""
    from .classifier import predict
    from .pruning import masked

    logits = {"dense": predict(clf, data, pad_id, batch_size)}
    correct = lambda values: ((values > 0) == data.labels).astype(int)  # noqa: E731
    layers = clf.family.layers(clf.body)
    dropped = {}
    for name, keep in drops.items():
        with masked(clf.body, keep):
            logits[name] = predict(clf, data, pad_id, batch_size)
        dropped[name] = sum(ffn_width(layers[l], clf.family) - len(kept) for l, kept in keep.items())
    groups = {}
    for name in drops:
        groups.setdefault("random" if name.startswith(RANDOM_MASK.format("")) else name, []).append(name)
    rows = []
    for row, names in groups.items():
        change = compare(np.stack([correct(logits[m]) for m in names]), correct(logits["dense"]), level)
        rows.append({"ablated": row, "masked": dropped[names[0]], "masks": len(names),
                     "delta_accuracy": change["delta"], "ci_low": change["ci_low"], "ci_high": change["ci_high"],
                     "n": change["n"], "level": level,
                     "mean_abs_delta_logit": float(np.mean([np.abs(logits[m] - logits["dense"]).mean()
                                                            for m in names]))})
    return pd.DataFrame(rows).set_index("ablated"), logits


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation over all neurons of two ``(L, n)`` scores."""
    from scipy.stats import spearmanr

    return float(spearmanr(a.ravel(), b.ravel()).statistic)
