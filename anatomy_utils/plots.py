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


def heatmaps(matrices: dict[str, np.ndarray], labels, title: str, vmin=0.0, vmax=1.0, note: str | None = None):
    """Side-by-side annotated heatmaps sharing one colour scale; NaN cells are left blank (white), and ``note``, when
    given, is printed under the panels (say there what a blank cell means)."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(4.6 * len(matrices), 4.2))
    for ax, (name, matrix) in zip(np.atleast_1d(axes), matrices.items()):
        sns.heatmap(matrix, mask=np.isnan(np.asarray(matrix, dtype=float)), vmin=vmin, vmax=vmax, annot=True, fmt=".2f",
                    annot_kws={"fontsize": 6}, cmap="viridis", cbar=False, ax=ax, xticklabels=labels,
                    yticklabels=labels, square=True)
        ax.set_facecolor("white")
        ax.grid(False)
        if np.isnan(np.asarray(matrix, dtype=float)).all():
            ax.text(0.5, 0.5, "all sets empty in these layers", transform=ax.transAxes, ha="center", va="center",
                    fontsize=8)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title)
    if note:
        fig.text(0.5, -0.01, note, ha="center", va="top", fontsize=8, wrap=True)
    fig.tight_layout()
    return fig


def lens_agreement(agreement, cosine: np.ndarray, decision, title: str, axes, unit: str = "reviews"):
    """The lens of one model on two axes: on ``axes[0]`` the share of ``unit`` on which the head applied to each layer
    agrees with the final prediction, with its Wilson 95% interval, the chance line (the more frequent final class)
    and open markers where the lens predicts one class for every item; the decision layer dashed (when there is one).
    On ``axes[1]`` the mean cosine of each layer's target token to the final one."""
    top, bottom = axes
    layers = agreement.index.to_numpy()
    top.fill_between(layers, agreement["ci_low"], agreement["ci_high"], color="C0", alpha=0.2,
                     label="Wilson 95% interval")
    top.plot(layers, agreement["agreement"], "o-", color="C0", ms=3, label="lens agrees with final prediction")
    single = agreement["single_class"].to_numpy(dtype=bool)
    if single.any():
        top.plot(layers[single], agreement["agreement"].to_numpy()[single], "o", ms=7, mfc="none", color="C3",
                 label="lens predicts one class for all")
    chance = float(agreement["chance"].iloc[0])
    top.axhline(chance, color="grey", ls=":", lw=1.2, label=f"chance: more frequent final class ({chance:.0%})")
    if decision is not None:
        for ax in axes:
            ax.axvline(decision, color="k", ls="--", lw=1)
        top.plot([], [], "k--", lw=1, label=f"decision layer ({decision})")
    bottom_limit = min(0.4, chance - 0.1, float(agreement["ci_low"].min()) - 0.02)
    top.set(ylabel=f"agreement ({int(agreement['n'].iloc[0])} {unit})", ylim=(bottom_limit, 1.02), title=title)
    top.legend(fontsize=7, loc="best")
    bottom.plot(np.arange(len(cosine)), cosine, "s-", color="C2", ms=3)
    bottom.set(xlabel="layer (0 = embeddings)", ylabel="cosine to final\n(mean over items)")
    bottom.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    return axes


def pruning_accuracy(results, sweep, title: str, paper_points=(), unit: str = "reviews"):
    """The paper's Figures 4 / 5: accuracy against the fraction of FFN neurons pruned, the rule (Wilson 95% intervals)
    against the distribution of random masks (one dot each, mean +- SD between masks), the paper's own points, and
    beside it the paired difference rule minus random masks with its simultaneous interval."""
    fig, (ax, diff) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    x = 100 * sweep["pruned_fraction"]
    n, n_masks = int(sweep["n"].iloc[0]), int(sweep["random_n"].iloc[0])
    ax.errorbar(x, sweep["paper_rule"], yerr=[sweep["paper_rule"] - sweep["rule_ci_low"],
                sweep["rule_ci_high"] - sweep["paper_rule"]], fmt="o-", capsize=3,
                label=f"paper rule, threshold scaled (n = {n})")
    random = results[results["method"].str.startswith("random")]
    ax.scatter(100 * random["pruned_fraction"], random["accuracy"], s=9, color="C1", alpha=0.45,
               label=f"random masks, rule's layer counts (one dot each, n = {n_masks})")
    ax.errorbar(x, sweep["random_mean"], yerr=sweep["random_spread"].fillna(0), fmt="--", color="C1", capsize=3,
                label="random: mean +- SD between masks")
    grid = results[results["method"] == "paper grid"]
    if len(grid):
        ax.scatter(100 * grid["pruned_fraction"], grid["accuracy"], marker="*", s=90, color="C3", zorder=3,
                   label=f"paper grid (Figure 5a, n = {int(grid['n'].iloc[0])})")
    for k, (fraction, accuracy, what) in enumerate(paper_points):
        ax.scatter(100 * fraction, accuracy, marker="D", s=40, facecolors="none", edgecolors="k", zorder=4,
                   label="the paper's own points (BERT-base, IMDB)" if k == 0 else None)
        ax.annotate(what, (100 * fraction, accuracy), textcoords="offset points", xytext=(5, -10), fontsize=7)
    dense = results.loc[results["method"] == "dense", "accuracy"].iloc[0]
    ax.axhline(dense, color="grey", lw=1, ls=":", label=f"dense ({dense:.3f}, n = {n})")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--", alpha=0.5, label="chance (0.5)")
    ax.set(xlabel="FFN neurons pruned (%)", ylabel=f"test accuracy ({unit})", title=title)
    ax.legend(fontsize=7)
    diff.errorbar(x, 100 * sweep["delta"], yerr=[100 * (sweep["delta"] - sweep["delta_ci_low"]),
                  100 * (sweep["delta_ci_high"] - sweep["delta"])], fmt="o", capsize=4, color="C0")
    diff.axhline(0, color="k", lw=1)
    level = float(sweep["level"].iloc[0])
    diff.set(xlabel="FFN neurons pruned (%)", ylabel="rule minus random masks, paired (points)",
             title=f"paired difference, {100 * level:.4g}% simultaneous CI\n(n = {n_masks} {unit} x masks)")
    fig.tight_layout()
    return fig


def inference_time(table, title: str, device: str, threads: int, gate_passed: bool, paper: dict | None = None):
    """The paper's Figures 4-1 / 5-1 from ``speed_study.speed``'s table. Left: speed-up over dense copy A with 95%
    intervals (A/A control, zeroed, removed and width-rounded per sparsity), the two bounds drawn as lines over each
    sparsity's pair, the A/A tolerance shaded. Right: the paper's unit, seconds per 1,000 reviews (of the timed
    length), with the paper's own dense / zeroed figures written in when ``paper`` (``speed_study.PAPER[role]``)."""
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    rows = table[table["kind"].isin(["aa", "zeroed", "removed", "rounded"])].reset_index(drop=True)
    colours = {"aa": "grey", "zeroed": "C1", "removed": "C0", "rounded": "C2"}
    x = np.arange(len(rows))
    for kind, group in rows.groupby("kind", sort=False):
        ax.errorbar(x[group.index], group["speedup"], yerr=[group["speedup"] - group["ci_low"],
                    group["ci_high"] - group["speedup"]], fmt="o", capsize=4, color=colours[kind],
                    label={"aa": "A/A control (dense copy B)", "zeroed": "zeroed (dense FLOPs)",
                           "rounded": "removed, widths rounded"}.get(kind, kind))
    labelled = set()
    for target, group in rows[rows["kind"].isin(["removed", "rounded"])].groupby("target"):
        span = [x[group.index].min() - 0.35, x[group.index].max() + 0.35]
        for column, style, label in (("ceiling_flops", "k--", "bound (FLOPs)"),
                                     ("ceiling_time", "m-.", "bound (measured FFN time)")):
            level = group.loc[group["kind"] == "removed", column].iloc[0]
            ax.plot(span, [level, level], style, lw=1.2, label=None if label in labelled else label)
            labelled.add(label)
    ax.axhspan(0.98, 1.02, color="grey", alpha=0.15, lw=0, label="A/A tolerance (1 ± 0.02)")
    ax.axhline(1, color="grey", lw=0.8)
    ax.set_xticks(x, [v.replace(" (A/A)", "\n(A/A)").replace(" (x", "\n(x") for v in rows["variant"]], fontsize=8)
    gate = "A/A gate passed" if gate_passed else "timing noise exceeds tolerance: no verdict"
    ax.set(ylabel="speed-up over dense copy A (median, 95% CI)",
           title=f"{title}\n{device}, {threads} thread{'s' if threads != 1 else ''}; {gate}")
    ax.legend(fontsize=7, loc="upper left")
    timed = table[table["kind"].isin(["dense", "zeroed", "removed", "rounded"])]
    bars.bar(np.arange(len(timed)), timed["seconds_per_1000"], color=[colours.get(k, "C7") for k in timed["kind"]])
    bars.set_xticks(np.arange(len(timed)), [v.replace(" (reference)", "").replace(" (x", "\n(x") for v in timed["variant"]],
                    fontsize=8, rotation=30, ha="right")
    note = "" if not paper else (f"\npaper ({paper['model']}, T4 GPU): {paper['dense_seconds']:g} s dense, "
                                 f"{paper['zeroed_seconds']:g} s zeroed")
    bars.set(ylabel="seconds per 1,000 reviews (measured here)", title=f"the paper's unit{note}")
    fig.tight_layout()
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
