"""The anatomy study (02, 03): the lens read layer by layer, neuron sets and their graph, the causal ablation, the
cached probe cosines and the tables and summary keys they make. The model passes are ``core.passes``."""
from __future__ import annotations

import gzip
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from ..base import keys
from ..base.cache import artifact, atomic_write_bytes, chain, code_fingerprint, sha256
from ..base.data import PROBES
from ..base.profiles import Profile
from ..base.runtime import FIGURES
from ..core.classifier import Encoded, SentimentClassifier
from ..core.families import ffn_width
from ..stats import LEVEL, auc, compare, wilson
from .finetune import checkpoint_dir


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


COSINE_CODE = ("core.passes",)  # with all it imports: what decides the neuron cosines


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
    return pd.DataFrame([{"review": r, "layer": layer, "above": set_text(above[r][layer]),
                          "top": set_text(top[r][layer])}
                         for r in range(len(cosines)) for layer in range(cosines.shape[1])])


def parse_sets(column: pd.Series, reviews: int, layers: int) -> list[list[list[int]]]:
    """``review_sets``' id strings back to ``[review][layer] -> ids`` (rows in review, layer order)."""
    ids = [list(map(int, str(text).split())) if isinstance(text, str) else [] for text in column]
    return [ids[r * layers:(r + 1) * layers] for r in range(reviews)]


def top_k_count(fraction: float, width: int) -> int:
    """k of the top-k sets: ``round(fraction * width)``, at least 1."""
    return max(1, round(fraction * width))


OVERLAP_COLUMNS = ("nonempty_pairs", "total_pairs", "jaccard_nonempty", "ci_low", "ci_high", "jaccard_chance")


def overlap_table(results: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """``overlap_summary`` results keyed by (model, sets) as one table, a row each."""
    return pd.DataFrame([{"model": model, "sets": sets} | {k: r[k] for k in OVERLAP_COLUMNS}
                         for (model, sets), r in results.items()]).set_index(["model", "sets"])


def overlap_values(role: str, threshold_sets: dict, topk_sets: dict, k: int, width: int, alignment: float) -> dict:
    """The summary keys of 03's overlap results for one role (None, never NaN, where a value does not exist)."""
    at = lambda *what: keys.anatomy(role, *what)  # noqa: E731
    return {at("target_alignment"): alignment, at("jaccard_nonempty"): threshold_sets["jaccard_nonempty"],
            at("jaccard_nonempty_ci_low"): threshold_sets["ci_low"],
            at("jaccard_nonempty_ci_high"): threshold_sets["ci_high"],
            at("jaccard_chance"): threshold_sets["jaccard_chance"],
            at("nonempty_pairs"): threshold_sets["nonempty_pairs"],
            at("topk", "k"): k, at("topk", "jaccard"): topk_sets["jaccard_nonempty"],
            at("topk", "ci_low"): topk_sets["ci_low"], at("topk", "ci_high"): topk_sets["ci_high"],
            at("topk", "jaccard_chance"): topk_sets["jaccard_chance"], at("ffn_width"): width}


def neuron_values(role: str, above: float, layers: int, causal: pd.DataFrame, correlation: float,
                  found: tuple[str, str]) -> dict:
    """The rest of 03's summary keys for one role: the neurons above the threshold (probe mean), the layers, each
    masking check's accuracy change with its interval (``causal``: ``ablation``'s table), the rank correlation of
    |cosine| with the masking effect, and the two findings (anatomy, causal check)."""
    values = {keys.anatomy(role, "ablation", name, column): causal.loc[name, column]
              for name in ABLATIONS for column in ("delta_accuracy", "ci_low", "ci_high")}
    return values | {keys.anatomy(role, "neurons_above_0.35"): above, keys.anatomy(role, "layers"): layers,
                     keys.anatomy(role, "spearman_cosine_vs_effect"): correlation,
                     keys.finding("03_ffn_neurons", role, "anatomy"): found[0],
                     keys.finding("03_ffn_neurons", role, "causal"): found[1]}


def lens_values(role: str, agreement: pd.DataFrame, decision: int | None) -> dict:
    """The summary keys of 02's lens for one role: the decision layer and its depth (None when there is none), the
    chance level and the number of layers."""
    layers = len(agreement) - 1
    return {keys.anatomy(role, "decision_layer"): decision,
            keys.anatomy(role, "decision_depth"): None if decision is None else decision / layers,
            keys.anatomy(role, "lens_chance"): float(agreement["chance"].iloc[0]), keys.anatomy(role, "layers"): layers}


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


def similarity_table(similarity: np.ndarray) -> "pd.DataFrame":
    """Per-layer mean and spread (std, min, max) over inputs of the cosine to the final state: ``Layer_similarity``."""
    import pandas as pd

    return pd.DataFrame({"mean": similarity.mean(0), "std": similarity.std(0), "min": similarity.min(0),
                         "max": similarity.max(0)}).rename_axis("layer").round(4)


def layer_groups(n_layers: int, parts: int = 3) -> dict[str, np.ndarray]:
    """Lower / middle / upper layers (fewer groups for shallow models), labelled by their range."""
    return {f"layers {g[0]}-{g[-1]}": g for g in np.array_split(np.arange(n_layers), min(parts, n_layers))}


ABLATIONS = ("top_cosine", "top_contribution", "random")  # the variants of 03's ablation, besides "dense"
RANDOM_MASK = "random mask {}"  # 03's random masks: their distribution is the "random" row


def ablation(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int, drops: dict[str, dict],
             level: float = LEVEL) -> tuple["pd.DataFrame", dict[str, np.ndarray]]:
    """Mask each named set of neurons (``drops``: name -> neurons kept per layer); per name, the change in accuracy
    (masked minus dense on the same reviews, ``stats.compare`` at ``level``), the number of neurons masked and the
    mean |change| of the positive-class logit. Names ``RANDOM_MASK.format(i)`` are one row, "random": their
    distribution against dense (two-level: masks and reviews). Also returns the per-review logits, "dense" first."""
    from ..core.classifier import predict
    from ..core.pruning import masked

    logits = {"dense": predict(clf, data, pad_id, batch_size)}
    correct = lambda values: ((values > 0) == data.labels).astype(int)  # noqa: E731
    layers = clf.family.layers(clf.body)
    dropped = {}
    for name, keep in drops.items():
        with masked(clf.body, keep):
            logits[name] = predict(clf, data, pad_id, batch_size)
        dropped[name] = sum(ffn_width(layers[layer], clf.family) - len(kept) for layer, kept in keep.items())
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
