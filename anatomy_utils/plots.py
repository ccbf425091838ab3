"""One figure style for the study; figures are saved under ``figures/<profile>/`` with names after the paper's."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from .runtime import FIGURES  # noqa: E402

sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "svg.hashsalt": "anatomy", "axes.titleweight": "bold"})


def save(fig, profile: str, name: str) -> str:
    """Write ``figures/<profile>/<name>.png`` (no timestamps, so reruns give the same file) and return its path."""
    out = FIGURES / profile / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight", metadata={"Software": None})
    return str(out.relative_to(FIGURES.parent))


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
    """The paper's Figures 4 / 5: accuracy against the fraction of FFN neurons pruned, rule against random baseline."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    grid = results[results["method"] == "paper grid"]
    ax.plot(100 * sweep["pruned_fraction"], sweep["paper_rule"], "o-", label="paper rule (threshold scaled)")
    ax.errorbar(100 * sweep["pruned_fraction"], sweep["random_mean"], yerr=sweep["random_std"].fillna(0), fmt="s--",
                capsize=3, label="random baseline (mean ± std over seeds)")
    ax.scatter(100 * grid["pruned_fraction"], grid["accuracy"], marker="*", s=90, color="C3", zorder=3,
               label="paper grid (Figure 5a)")
    dense = results.loc[results["method"] == "dense", "accuracy"].iloc[0]
    ax.axhline(dense, color="grey", lw=1, ls=":", label=f"dense ({dense:.3f})")
    ax.set(xlabel="FFN neurons pruned (%)", ylabel="test accuracy (eval subset)", title=title)
    ax.legend(fontsize=8)
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
    """Accuracy against FFN neurons removed per importance score (mean ± std over seeds), with 04/05's paper rule and
    random baseline on the same test subset; the top axis gives the share of forward FLOPs removed."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    for k, (name, rows) in enumerate(table.groupby("score", sort=False)):
        ax.errorbar(100 * rows["budget"], rows["accuracy"], yerr=rows["std"].fillna(0), fmt="o-", capsize=3,
                    color=f"C{k}", label=f"{name} ({rows['setting'].iloc[0]})")
    for method, style in (("paper rule (scaled)", "k^--"), ("random", "kx:")):
        rows = paper[paper["method"] == method]
        curve = rows.groupby(rows["setting"].str.extract(r"target (\d+)%")[0])
        ax.errorbar(curve["pruned_fraction"].mean() * 100, curve["accuracy"].mean(), yerr=curve["accuracy"].std().fillna(0),
                    fmt=style, capsize=3, label=f"04/05: {method}")
    ax.axhline(dense, color="grey", lw=1, ls=":", label=f"dense ({dense:.3f})")
    ax.set(xlabel="FFN neurons removed (%)", ylabel="test accuracy (eval subset)", title=title)
    top = ax.secondary_xaxis("top", functions=(lambda x: x * flop_share, lambda x: x / flop_share))
    top.set_xlabel("forward FLOPs removed (%)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), title="score (setting chosen on validation)",
              title_fontsize=8)
    return ax


def layer_shares(shares: dict, title: str):
    """Per model, a score x layer heatmap of the share of each layer's neurons removed."""
    fig, axes = plt.subplots(len(shares), 1, figsize=(11, 2.6 * len(shares)), squeeze=False)
    for ax, (label, table) in zip(axes[:, 0], shares.items()):
        sns.heatmap(table, vmin=0, vmax=1, cmap="magma_r", ax=ax, cbar_kws={"label": "share removed"})
        ax.set(title=f"{label}: {title}", xlabel="layer", ylabel="")
    fig.tight_layout()
    return fig
