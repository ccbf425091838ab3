"""What each figure shows in this run, in a sentence per model with its numbers.

A figure's caption (a markdown cell) says what to look for; the cell after it prints one of these, computed from the
data the figure was drawn from, so the reader also gets what this run shows. Every function returns lines that start
with "This run".
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .findings import layer_ranges


def _lines(parts: dict[str, str]) -> str:
    return "\n".join(f"This run, {label}: {text}." for label, text in parts.items())


def _pt(x: float) -> str:
    return f"{100 * x + 0.0:+.1f}"  # + 0.0: no "-0.0"


def _layers(used: list[int]) -> str:
    return ("layer " if len(used) == 1 else "layers ") + layer_ranges(used)


def _auc(x: float) -> str:
    return "undefined" if np.isnan(x) else f"{x:.2f}"


def training(metas: dict[str, dict]) -> str:
    """finetune_training_curves: the loss early and late in the epoch, and the held-out accuracies."""
    def one(meta):
        loss = np.array([h["loss"] for h in meta["history"]])
        tenth, held = max(1, len(loss) // 10), meta["metrics"]
        return (f"training loss {loss[:tenth].mean():.3f} over the first tenth of its {len(loss)} steps and "
                f"{loss[-tenth:].mean():.3f} over the last; validation accuracy {held['validation']['accuracy']:.3f} "
                f"(n = {held['validation']['n']}), test {held['test']['accuracy']:.3f} (n = {held['test']['n']})")
    return _lines({role: one(meta) for role, meta in metas.items()})


def confusion(metas: dict[str, dict]) -> str:
    """finetune_confusion_test: how the test errors split between the two kinds."""
    def one(meta):
        (tn, fp), (fn, tp) = meta["metrics"]["test"]["confusion"]
        if fp + fn == 0:
            return f"no error on {tn + tp} test items"
        return (f"{fp + fn} errors on {tn + fp + fn + tp} test items: {fp} negatives called positive and {fn} "
                f"positives called negative ({fp / (fp + fn):.0%} / {fn / (fp + fn):.0%} of the errors)")
    return _lines({role: one(meta) for role, meta in metas.items()})


def layer_curve(similarity: dict[str, np.ndarray], item: int = 0) -> str:
    """Figure 1: one input's cosine to the final target state at the embeddings, mid-depth and the last layer but
    one, and the first layer where it reaches 0.5."""
    def one(curve):
        last, middle = len(curve) - 1, (len(curve) - 1) // 2
        reached = np.flatnonzero(curve >= 0.5)
        return (f"cosine {curve[0]:.2f} at the embeddings, {curve[middle]:.2f} at layer {middle}, {curve[-2]:.2f} at "
                f"layer {last - 1} of {last}; it first reaches 0.5 at layer {reached[0]}")
    return _lines({role: one(s[item]) for role, s in similarity.items()})


def input_spread(similarity: dict[str, np.ndarray]) -> str:
    """Figure 1a: how far the inputs' curves lie apart (SD across inputs, per layer)."""
    def one(curves):
        sd = curves[:, :-1].std(axis=0)  # the last layer is 1 for every input
        return (f"the {len(curves)} inputs' cosines differ by an SD of {sd.mean():.3f} on average over the layers, "
                f"at most {sd.max():.3f} (layer {int(sd.argmax())})")
    return _lines({role: one(s) for role, s in similarity.items()})


def lens(agreement: dict[str, pd.DataFrame], decision: dict[str, int | None], criterion: float) -> str:
    """lens_decision_layer: the decision layer, the lens's AUC below it, and where agreement sits below chance."""
    def one(table, layer):
        last = len(table) - 1
        where = (f"the lens's AUC stays at or above {criterion} from layer {layer} of {last} on" if layer is not None
                 else f"the lens's AUC never stays at or above {criterion}")
        below = int((table["agreement"].iloc[:-1] < table["chance"].iloc[:-1]).sum())
        return (f"{where}; AUC {_auc(table['auc'].iloc[1])} at layer 1 and {_auc(table['auc'].iloc[last // 2])} at "
                f"layer {last // 2}; agreement below chance at {below} of {last} layers")
    return _lines({role: one(agreement[role], decision[role]) for role in agreement})


def neuron_counts(sets: dict[str, list], threshold: float) -> str:
    """Figures 2/3, counts: how many neurons lie above the threshold per input, and in which layers."""
    def one(per_input):
        totals = [sum(map(len, layers)) for layers in per_input]
        used = sorted({layer for layers in per_input for layer, ids in enumerate(layers) if ids})
        where = f"in {_layers(used)}" if used else "in no layer"
        return (f"{np.mean(totals):.1f} neurons above {threshold} per input (from {min(totals)} to {max(totals)} "
                f"across the {len(totals)} inputs), {where}")
    return _lines({role: one(s) for role, s in sets.items()})


def neuron_graph(sets: dict[str, list], cosines: dict[str, np.ndarray], threshold: float, item: int = 0) -> str:
    """Figures 2/3, graph: input ``item``'s above-threshold neurons, and its highest cosine (what the top-k row
    draws when no neuron passes)."""
    def one(layers, cos):
        used = [layer for layer, ids in enumerate(layers) if ids]
        layer, neuron = np.unravel_index(int(cos.argmax()), cos.shape)
        held = (f"{sum(map(len, layers))} neurons above {threshold}, in {_layers(used)}" if used
                else f"no neuron above {threshold}")
        return f"{held}; the highest cosine is {cos.max():.3f} (neuron {neuron} of layer {layer})"
    return _lines({role: one(sets[role][item], cosines[role][item]) for role in sets})


def overlaps(matrices: dict[str, np.ndarray], label: str, chance: float | None = None) -> str:
    """§3.3 heatmaps: the mean overlap between two different inputs in each group of layers, against chance."""
    def mean_off_diagonal(m):
        values = m[~np.eye(len(m), dtype=bool)]
        values = values[~np.isnan(values)]
        return "no pair to compare" if len(values) == 0 else f"{values.mean():.3f}"
    text = "; ".join(f"{group}: {mean_off_diagonal(m)}" for group, m in matrices.items())
    return _lines({label: f"mean overlap of two different inputs: {text}"
                   + ("" if chance is None else f" (two random sets: {chance:.3f})")})


def pruning(sweep: pd.DataFrame, dense: float, sparsities=(0.3, 0.5)) -> str:
    """Figures 4 / 5: dense, the rule and the random masks at the headline sparsities, and rule minus random."""
    parts = {"dense": f"accuracy {dense:.3f}"}
    for s in sparsities:
        if s in sweep.index:
            r = sweep.loc[s]
            parts[f"{s:.0%} pruned"] = (
                f"the rule {r['paper_rule']:.3f} [{r['rule_ci_low']:.3f}, {r['rule_ci_high']:.3f}], random masks "
                f"{r['random_mean']:.3f} (SD {r['random_spread']:.3f} over {int(r['random_masks'])}), rule minus "
                f"random {_pt(r['delta'])} pt [{_pt(r['delta_ci_low'])}, {_pt(r['delta_ci_high'])}] -> {r['verdict']}")
    return _lines(parts)


def speed(table: pd.DataFrame) -> str:
    """Figures 4-1 / 5-1 (machine-dependent): each variant's speed-up with its interval, against its FLOP bound."""
    rows = table[table["kind"].isin(["aa", "zeroed", "removed", "rounded"])]
    return _lines({r.variant: f"x{r.speedup:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]"
                   + ("" if pd.isna(r.ceiling_flops) else f", FLOP bound x{r.ceiling_flops:.3f}")
                   for r in rows.itertuples()})


def scores(tables: dict[str, pd.DataFrame], margin: float) -> str:
    """scores_accuracy: the best row, the paper's cosine, and how many rows sit inside the margin."""
    def one(table):
        best = table.sort_values("drop").iloc[0]
        cosine = table[table["score"] == "cosine"].sort_values("drop").iloc[0]
        inside = int((table["verdict"] == "equivalent").sum())
        return (f"best {best['score']} ({best['setting']}, {best['sparsity']:.0%}) {_pt(-best['drop'])} pt "
                f"[{_pt(-best['drop_ci_high'])}, {_pt(-best['drop_ci_low'])}]; the paper's cosine at its best setting "
                f"{_pt(-cosine['drop'])} pt; {inside} of {len(table)} rows equivalent to dense within "
                f"±{100 * margin:g} pt")
    return _lines({role: one(t) for role, t in tables.items()})


def agreement(tables: dict[str, pd.DataFrame], chance: float) -> str:
    """scores_agreement: the most and least alike pair of scores, against chance."""
    def one(table):
        pairs = table.where(~np.eye(len(table), dtype=bool)).stack()
        high, low = pairs.idxmax(), pairs.idxmin()
        return (f"most alike {high[0]} and {high[1]} ({pairs.max():.3f}), least {low[0]} and {low[1]} "
                f"({pairs.min():.3f}); chance {chance:.3f}")
    return _lines({role: one(t) for role, t in tables.items()})


def emptied(tables: dict[str, pd.DataFrame], score: dict[str, str]) -> str:
    """scores_layers_emptied: where the best score's global budget cuts most and least."""
    def one(table, name):
        row = table.loc[name]
        return (f"{name} removes most in layer {row.idxmax()} ({row.max():.0%}) and least in layer {row.idxmin()} "
                f"({row.min():.0%})")
    return _lines({role: one(tables[role], score[role]) for role in tables})


def seeds(pooled: pd.DataFrame) -> str:
    """seeds_forest: how many claim rows keep the committed run's verdict in every run."""
    runs = int(pooled["n_seeds"].max())
    if runs == 1:
        return _lines({"seed study": "one fine-tuning run per model, so nothing to compare across seeds"})
    every = int((pooled["agree"] == pooled["n_seeds"]).sum())
    return _lines({"seed study": f"{every} of {len(pooled)} claim rows keep the committed run's verdict in all {runs} "
                                 f"runs"})
