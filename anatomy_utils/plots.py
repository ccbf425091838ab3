"""One figure style for the study; figures are saved under ``figures/<profile>/`` with names after the paper's."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from .runtime import FIGURES

sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "svg.hashsalt": "anatomy", "axes.titleweight": "bold"})


def save(fig, profile: str, name: str) -> None:
    """Write ``figures/<profile>/<name>.png`` (no timestamps, so reruns give the same file) and show the figure where
    the notebook is read (inline in Jupyter; nothing without a display)."""
    out = FIGURES / profile / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight", metadata={"Software": None})
    plt.show()


def training_curves(histories: dict[str, list[dict]], window: int = 20):
    """Running mean of the training loss and batch accuracy per model."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for label, history in histories.items():
        epoch = [h["epoch"] for h in history]
        for ax, key in zip(axes, ("loss", "accuracy")):
            values = np.array([h[key] for h in history])
            smooth = np.convolve(values, np.ones(window) / window, mode="valid") if len(values) >= window else values
            ax.plot(epoch[len(epoch) - len(smooth):], smooth, label=label)
    axes[0].set(xlabel="epoch", ylabel=f"training loss (mean of {window} batches)")
    axes[1].set(xlabel="epoch", ylabel="training batch accuracy", ylim=(0.4, 1.0))
    axes[0].legend()
    fig.tight_layout()
    return fig


def confusion_matrices(confusions: dict[str, list[list[int]]]):
    fig, axes = plt.subplots(1, len(confusions), figsize=(4.2 * len(confusions), 3.6))
    for ax, (label, matrix) in zip(np.atleast_1d(axes), confusions.items()):
        sns.heatmap(np.array(matrix), annot=True, fmt="d", cbar=False, cmap="Blues", ax=ax,
                    xticklabels=["negative", "positive"], yticklabels=["negative", "positive"])
        ax.set(title=label, xlabel="predicted", ylabel="true")
    fig.tight_layout()
    return fig


def layer_curves(curves: dict[str, np.ndarray], ylabel: str, title: str, ax=None):
    """One line per label over layers 0 (embeddings) .. L."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    for label, values in curves.items():
        ax.plot(np.arange(len(values)), values, marker="o", markersize=3, label=label)
    ax.set(xlabel="layer (0 = embeddings)", ylabel=ylabel, title=title)
    return ax


def neuron_graph(graph, n_layers: int, title: str, ax=None):
    """The paper's Figures 2/3: above-threshold neurons by layer (layer 0 on top), consecutive layers connected."""
    import networkx as nx

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    position = {}
    for layer in range(n_layers):
        nodes = sorted(n for n in graph.nodes if n[0] == layer)
        for k, node in enumerate(nodes):
            position[node] = (k - (len(nodes) - 1) / 2, -layer)
    nx.draw_networkx_edges(graph, position, ax=ax, alpha=0.15, arrows=False, width=0.5)
    nx.draw_networkx_nodes(graph, position, ax=ax, node_size=60, node_color="C0")
    nx.draw_networkx_labels(graph, position, {n: str(n[1]) for n in graph.nodes}, ax=ax, font_size=5)
    ax.set_yticks(-np.arange(n_layers), [f"layer {l}" for l in range(n_layers)], fontsize=7)
    ax.tick_params(left=True, labelleft=True)
    ax.set_ylim(-n_layers + 0.5, 0.5)
    ax.set_title(title)
    ax.grid(False)
    return ax


def heatmaps(matrices: dict[str, np.ndarray], labels, title: str, vmin=0.0, vmax=1.0):
    """Side-by-side annotated heatmaps sharing one colour scale."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(4.6 * len(matrices), 4.2))
    for ax, (name, matrix) in zip(np.atleast_1d(axes), matrices.items()):
        sns.heatmap(matrix, vmin=vmin, vmax=vmax, annot=True, fmt=".2f", annot_kws={"fontsize": 6}, cmap="viridis",
                    cbar=False, ax=ax, xticklabels=labels, yticklabels=labels, square=True)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def pruning_accuracy(results, sweep, title: str):
    """The paper's Figures 4 / 5: accuracy against the fraction of FFN neurons pruned, rule against random baseline
    (Wilson 95% intervals), and beside it the paired difference rule minus random with its 95% interval."""
    fig, (ax, diff) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [3, 2]})
    x = 100 * sweep["pruned_fraction"]
    ax.errorbar(x, sweep["paper_rule"], yerr=[sweep["paper_rule"] - sweep["rule_ci_low"],
                sweep["rule_ci_high"] - sweep["paper_rule"]], fmt="o-", capsize=3, label="paper rule (threshold scaled)")
    random = results[results["method"].str.startswith("random")]
    for k, (seed, rows) in enumerate(random.groupby("seed")):
        ax.errorbar(100 * rows["pruned_fraction"] + 0.6 * (k + 1), rows["accuracy"], yerr=[rows["accuracy"] - rows["ci_low"],
                    rows["ci_high"] - rows["accuracy"]], fmt="s", ms=3, capsize=2, color="C1", alpha=0.6,
                    label="random, rule's layer counts (each seed)" if k == 0 else None)
    ax.plot(x, sweep["random_mean"], "--", color="C1", label="random: mean of seeds")
    grid = results[results["method"] == "paper grid"]
    ax.scatter(100 * grid["pruned_fraction"], grid["accuracy"], marker="*", s=90, color="C3", zorder=3,
               label=f"paper grid (Figure 5a, {int(grid['n'].iloc[0])} reviews)" if len(grid) else None)
    dense = results.loc[results["method"] == "dense", "accuracy"].iloc[0]
    ax.axhline(dense, color="grey", lw=1, ls=":", label=f"dense ({dense:.3f})")
    n = int(sweep["n"].iloc[0])
    ax.set(xlabel="FFN neurons pruned (%)", ylabel=f"test accuracy ({n} reviews, 95% CI)", title=title)
    ax.legend(fontsize=7)
    diff.errorbar(x, 100 * sweep["delta"], yerr=[100 * (sweep["delta"] - sweep["delta_ci_low"]),
                  100 * (sweep["delta_ci_high"] - sweep["delta"])], fmt="o", capsize=4, color="C0")
    diff.axhline(0, color="k", lw=1)
    diff.set(xlabel="FFN neurons pruned (%)", ylabel="rule minus random, paired (points)",
             title=f"paired difference, 95% CI (n = {n})")
    fig.tight_layout()
    return fig


def pruning_speed(table, n_test: int, title: str):
    """The paper's Figures 4-1 / 5-1: test-set inference time against neurons pruned, with the FLOP ceiling drawn in."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    dense = table.loc[table["variant"] == "dense", "test_set_seconds"].iloc[0]
    for kind, marker in (("zeroed", "s--"), ("removed", "o-")):
        rows = table[table["variant"].isin(["dense", kind])]
        ax.plot(100 * rows["pruned_fraction"], rows["test_set_seconds"], marker, label=f"{kind} (measured)")
    rows = table[table["variant"] != "zeroed"]
    ax.plot(100 * rows["pruned_fraction"], dense / rows["ceiling"], "k:", label="ceiling (dense time / FLOP ratio)")
    ax.set(xlabel="FFN neurons pruned (%)", ylabel=f"seconds for {n_test} test reviews (extrapolated)", title=title,
           ylim=(0, None))
    ax.legend(fontsize=8)
    return fig


def score_accuracy(table, paper, dense: float, flop_share: float, title: str, ax=None):
    """Accuracy against FFN neurons removed per importance score and setting (95% intervals), with 04/05's paper rule
    and its random baseline on the same test reviews; the top axis gives the share of forward FLOPs removed."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    for k, ((name, setting), rows) in enumerate(table.groupby(["score", "setting"], sort=False)):
        ax.errorbar(100 * rows["budget"] + 0.3 * k, rows["accuracy"], yerr=[rows["accuracy"] - rows["ci_low"],
                    rows["ci_high"] - rows["accuracy"]], fmt="o-", capsize=3, color=f"C{k % 10}",
                    label=f"{name} ({setting})")
    for method, style in (("paper rule (scaled)", "k^--"), ("random (rule's layer counts)", "kx:")):
        rows = paper[paper["method"] == method].groupby("target")
        ax.plot(rows["pruned_fraction"].mean() * 100, rows["accuracy"].mean(), style, label=f"04/05: {method}")
    ax.axhline(dense, color="grey", lw=1, ls=":", label=f"dense ({dense:.3f})")
    ax.set(xlabel="FFN neurons removed (%)", ylabel=f"test accuracy ({int(table['n'].iloc[0])} reviews, 95% CI)",
           title=title)
    top = ax.secondary_xaxis("top", functions=(lambda x: x * flop_share, lambda x: x / flop_share))
    top.set_xlabel("forward FLOPs removed (%)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), title="score (setting)", title_fontsize=8)
    return ax


def layer_shares(shares: dict, title: str):
    """Per model, a score x layer heatmap of the share of each layer's neurons removed."""
    fig, axes = plt.subplots(len(shares), 1, figsize=(11, 2.6 * len(shares)), squeeze=False)
    for ax, (label, table) in zip(axes[:, 0], shares.items()):
        sns.heatmap(table, vmin=0, vmax=1, cmap="magma_r", ax=ax, cbar_kws={"label": "share removed"})
        ax.set(title=f"{label}: {title}", xlabel="layer", ylabel="")
    fig.tight_layout()
    return fig
