"""One figure style for the study; figures are saved under ``figures/<profile>/`` with names after the paper's."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ..base.runtime import FIGURES
from ..stats import LEVEL
from ..core.timing import TOLERANCE

sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "svg.hashsalt": "anatomy", "axes.titleweight": "bold"})


def save(fig, profile: str, name: str) -> None:
    """Write ``figures/<profile>/<name>.png`` (no timestamps, so reruns give the same file) and show the figure where
    the notebook is read (inline in Jupyter; nothing without a display)."""
    out = FIGURES / profile / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight", metadata={"Software": None})
    plt.show()


def training_curves(metas: dict[str, dict], title: str, window: int = 20):
    """Per model (``metas``: what ``finetune.fine_tune`` recorded), the running mean of the training loss and batch
    accuracy over the epoch, and on the accuracy axis the held-out accuracies measured after training (validation,
    test) with their n: how far the last training batches' accuracy is from what the model does on unseen reviews."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for k, (label, meta) in enumerate(metas.items()):
        history = meta["history"]
        epoch = [h["epoch"] for h in history]
        for ax, key in zip(axes, ("loss", "accuracy")):
            values = np.array([h[key] for h in history])
            smooth = np.convolve(values, np.ones(window) / window, mode="valid") if len(values) >= window else values
            ax.plot(epoch[len(epoch) - len(smooth):], smooth, color=f"C{k}", label=f"{label}, training")
        for split, marker in (("validation", "s"), ("test", "D")):
            held_out = meta["metrics"][split]
            axes[1].plot(epoch[-1], held_out["accuracy"], marker, color=f"C{k}", ms=7, mfc="none",
                         label=f"{label}, {split} (n = {held_out['n']})")
    axes[0].set(xlabel="epoch", ylabel=f"training loss (mean of {window} batches)")
    axes[1].set(xlabel="epoch", ylabel="accuracy", ylim=(0.4, 1.0))
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
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


def neuron_graph(graph, n_layers: int, title: str, ax=None, labelled: int = 40):
    """The paper's Figures 2/3: above-threshold neurons by layer (layer 0 on top), consecutive layers connected; neuron
    ids written beside the nodes when there are at most ``labelled`` of them, and a line saying so when there are
    none."""
    import networkx as nx

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    position = {}
    for layer in range(n_layers):
        nodes = sorted(n for n in graph.nodes if n[0] == layer)
        for k, node in enumerate(nodes):
            position[node] = (k - (len(nodes) - 1) / 2, -layer)
    crowded = graph.number_of_edges() > 500  # a top-k graph: fainter edges, smaller dots
    nx.draw_networkx_edges(graph, position, ax=ax, alpha=0.03 if crowded else 0.15, arrows=False, width=0.5)
    nx.draw_networkx_nodes(graph, position, ax=ax, node_size=12 if crowded else 60, node_color="C0")
    if graph.number_of_nodes() <= labelled:
        nx.draw_networkx_labels(graph, position, {n: str(n[1]) for n in graph.nodes}, ax=ax, font_size=7,
                                verticalalignment="bottom")
    if graph.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "no neuron above the threshold\nfor this input", transform=ax.transAxes, ha="center",
                va="center", fontsize=9)
    ax.set_yticks(-np.arange(n_layers), [f"layer {li}" for li in range(n_layers)], fontsize=7)
    ax.tick_params(left=True, labelleft=True)
    ax.set_ylim(-n_layers + 0.5, 0.5)
    ax.set_title(title, fontsize=10)
    ax.grid(False)
    return ax


def neuron_counts(counts: dict[str, np.ndarray], inputs, title: str):
    """Per model, a layer x input heatmap of how many neurons lie above the threshold (``counts[name]``:
    ``(layers, inputs)``): where the sets are, and how their sizes vary, before any graph or overlap is read."""
    depth = max(m.shape[0] for m in counts.values())
    fig, axes = plt.subplots(1, len(counts), figsize=(5.6 * len(counts), max(4.4, 0.24 * depth + 1.8)), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], counts.items()):
        sns.heatmap(matrix, annot=True, fmt="d", annot_kws={"fontsize": 7}, cmap="Blues", ax=ax, xticklabels=inputs,
                    yticklabels=[f"{layer}" if matrix.shape[0] <= 12 or layer % 5 == 0 else ""
                                 for layer in range(matrix.shape[0])],
                    cbar_kws={"label": "neurons above the threshold"})  # each panel its own scale
        ax.set(title=name, xlabel="probe input (Table 1)", ylabel="layer")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def heatmaps(matrices: dict[str, np.ndarray], labels, title: str, vmin=0.0, vmax=1.0, note: str | None = None,
             chance: float | None = None, scale: str = "Jaccard overlap"):
    """Side-by-side annotated heatmaps sharing one colour scale, drawn once beside the last panel (``chance``, when
    given, marked on it); NaN cells are left blank (white), and ``note``, when given, is printed under the panels (say
    there what a blank cell means)."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(4.6 * len(matrices) + 0.8, 4.2))
    for k, (ax, (name, matrix)) in enumerate(zip(np.atleast_1d(axes), matrices.items())):
        last = k == len(matrices) - 1
        sns.heatmap(matrix, mask=np.isnan(np.asarray(matrix, dtype=float)), vmin=vmin, vmax=vmax, annot=True, fmt=".2f",
                    annot_kws={"fontsize": 6}, cmap="viridis", cbar=last, ax=ax, xticklabels=labels,
                    yticklabels=labels, square=True,
                    cbar_kws={"label": scale + ("" if chance is None else f" (white line: chance, {chance:.2g})")}
                    if last else None)
        if last and chance is not None:
            ax.collections[0].colorbar.ax.axhline(chance, color="w", lw=2)
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
    and open markers where the lens predicts one class for every item; the lens's AUC against the final prediction
    (threshold-free) and the decision layer, from which that AUC stays at or above the criterion, dashed. On
    ``axes[1]`` the mean cosine of each layer's target token to the final one."""
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
    top.plot(layers, agreement["auc"], "^-", color="C1", ms=3, label="lens AUC against final prediction")
    if decision is not None:
        for ax in axes:
            ax.axvline(decision, color="k", ls="--", lw=1)
        top.plot([], [], "k--", lw=1, label=f"decision layer ({decision})")
    bottom_limit = min(0.4, chance - 0.1, float(agreement["ci_low"].min()) - 0.02, float(agreement["auc"].min()) - 0.02)
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
    fig, (ax, diff) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [3, 2]})
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
    if not paper_points:
        ax.text(0.99, 0.98, "the paper's text gives no accuracies\nfor this model to draw", transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color="0.35")
    ax.set(xlabel="FFN neurons pruned (%)", ylabel=f"test accuracy (n {unit}: see legend)", title=title)
    diff.errorbar(x, 100 * sweep["delta"], yerr=[100 * (sweep["delta"] - sweep["delta_ci_low"]),
                  100 * (sweep["delta_ci_high"] - sweep["delta"])], fmt="o", capsize=4, color="C0")
    diff.axhline(0, color="k", lw=1)
    level = float(sweep["level"].iloc[0])
    diff.set(xlabel="FFN neurons pruned (%)", ylabel="rule minus random masks, paired (points)",
             title=f"paired difference, {100 * level:.4g}% simultaneous CI\n(n = {n_masks} {unit} x masks)")
    return _legend_below(fig, ax, ncol=2)


def _legend_below(fig, ax, ncol: int):
    """``ax``'s legend under the whole figure, clear of every axis label and data point."""
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    fig.legend(*ax.get_legend_handles_labels(), loc="lower left", bbox_to_anchor=(0.01, 0), ncol=ncol, fontsize=7,
               frameon=False)
    return fig


def inference_time(table, title: str, device: str, threads: int, gate_passed: bool, paper: dict | None = None):
    """The paper's Figures 4-1 / 5-1 from ``speed_study.speed``'s table. Left: speed-up over dense copy A with 95%
    intervals (A/A control, zeroed, removed and width-rounded per sparsity), the two bounds drawn as lines over each
    sparsity's pair, the A/A tolerance shaded. Right: the paper's unit, seconds per 1,000 reviews (of the timed
    length), with the paper's own dense / zeroed figures written in when ``paper`` (``paper.TIMING[role]``)."""
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(12, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    rows = table[table["kind"].isin(["aa", "zeroed", "removed", "rounded"])].reset_index(drop=True)
    colours = {"aa": "grey", "zeroed": "C1", "removed": "C0", "rounded": "C2"}
    x = np.arange(len(rows))
    for kind, group in rows.groupby("kind", sort=False):
        ax.errorbar(x[group.index], group["speedup"], yerr=[group["speedup"] - group["ci_low"],
                    group["ci_high"] - group["speedup"]], fmt="o", capsize=4, color=colours[kind],
                    label={"aa": "A/A control (dense copy B)", "zeroed": "zeroed (dense FLOPs)",
                           "rounded": "removed, widths rounded"}.get(kind, kind))
    labelled = set()
    for _sparsity, group in rows[rows["kind"].isin(["removed", "rounded"])].groupby("sparsity"):
        span = [x[group.index].min() - 0.35, x[group.index].max() + 0.35]
        for column, style, label in (("ceiling_flops", "k--", "bound (FLOPs)"),
                                     ("ceiling_time", "m-.", "bound (measured FFN time)")):
            level = group.loc[group["kind"] == "removed", column].iloc[0]
            ax.plot(span, [level, level], style, lw=1.2, label=None if label in labelled else label)
            labelled.add(label)
    ax.axhspan(1 - TOLERANCE, 1 + TOLERANCE, color="grey", alpha=0.15, lw=0, label=f"A/A tolerance (1 ± {TOLERANCE:g})")
    ax.axhline(1, color="grey", lw=0.8)
    ax.set_xticks(x, [v.replace(" (A/A)", "\n(A/A)").replace(" (x", "\n(x") for v in rows["variant"]], fontsize=8)
    gate = "A/A gate passed" if gate_passed else "timing noise exceeds tolerance: no verdict"
    ax.set(ylabel="speed-up over dense copy A\n(median, 95% CI)", title="speed-up per variant")
    fig.suptitle(f"{title}\n{device}, {threads} thread{'s' if threads != 1 else ''}; {gate}", fontsize=11)
    timed = table[table["kind"].isin(["dense", "zeroed", "removed", "rounded"])]
    bars.bar(np.arange(len(timed)), timed["seconds_per_1000"], color=[colours.get(k, "C7") for k in timed["kind"]])
    bars.set_xticks(np.arange(len(timed)),
                    [v.replace(" (reference)", "").replace(" (x", "\n(x") for v in timed["variant"]],
                    fontsize=8, rotation=30, ha="right")
    note = "" if not paper else (f"\npaper ({paper['model']}, T4 GPU):\n{paper['dense_seconds']:g} s dense, "
                                 f"{paper['zeroed_seconds']:g} s zeroed")
    bars.set_ylabel("seconds per 1,000 reviews\n(measured here)")
    bars.set_title(f"the paper's unit{note}", fontsize=9)
    return _legend_below(fig, ax, ncol=3)


def score_forest(table, title: str, margin: float, unit: str = "reviews", ax=None):
    """06's importance scores as a forest plot: one row per score, setting and sparsity, the paired accuracy change
    against dense on the same test items (points) with its simultaneous interval, coloured by its verdict; the zero line
    and the equivalence margin (shaded) drawn, so that "no worse than dense" reads as a row inside the band."""
    rows = table.sort_values(["sparsity", "drop"]).reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.6))
    y = np.arange(len(rows))[::-1]
    # the table's verdicts are about the drop (dense minus pruned): "higher" is a loss, "lower" a gain
    colours = {"higher": "C3", "lower": "C2", "equivalent": "C0", "inconclusive": "C7"}
    change, low, high = -100 * rows["drop"], -100 * rows["drop_ci_high"], -100 * rows["drop_ci_low"]
    for verdict, colour in colours.items():
        pick = (rows["verdict"] == verdict).to_numpy()
        if pick.any():
            ax.errorbar(change[pick], y[pick], xerr=[(change - low)[pick], (high - change)[pick]], fmt="o", capsize=3,
                        color=colour,
                        label={"higher": "worse than dense", "lower": "better than dense"}.get(verdict, verdict))
    ax.axvline(0, color="k", lw=1)
    ax.axvspan(-100 * margin, 100 * margin, color="C0", alpha=0.08, lw=0,
               label=f"equivalence margin (±{100 * margin:g} pt)")
    ax.set_yticks(y, [f"{r.score} ({r.setting}), {r.sparsity:.0%}" for r in rows.itertuples()], fontsize=8)
    level = float(rows["level"].iloc[0]) if "level" in rows else LEVEL
    ax.set(xlabel=f"accuracy change vs dense, paired (points; {100 * level:.3g}% simultaneous CI)",
           title=f"{title}\n(n = {int(rows['n'].iloc[0])} test {unit} per row)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)  # outside: hides no row
    return ax


def layer_shares(shares: dict, title: str):
    """Per model, a score x layer heatmap of the share of each layer's neurons removed."""
    fig, axes = plt.subplots(len(shares), 1, figsize=(11, 2.6 * len(shares)), squeeze=False)
    for ax, (label, table) in zip(axes[:, 0], shares.items()):
        sns.heatmap(table, vmin=0, vmax=1, cmap="magma_r", ax=ax, cbar_kws={"label": "share removed"})
        ax.set(title=f"{label}: {title}", xlabel="layer", ylabel="")
    fig.tight_layout()
    return fig


def seed_forest(rows, pooled, scale_of, title: str):
    """The seed study as forest plots, one panel per claim and model: each run's effect with its interval (points),
    the random-effects pool across runs (diamond), the claim's null (line) and margin (shaded). ``scale_of(claim)``
    gives 100 for accuracy claims (drawn in points), else 1."""
    panels = pooled.to_dict("records")
    cols = 4
    fig, axes = plt.subplots(-(-len(panels) // cols), cols, figsize=(4 * cols, 2.3 * -(-len(panels) // cols)),
                             squeeze=False)
    for ax, p in zip(axes.flat, panels):
        runs = rows[(rows["claim"] == p["claim"]) & (rows["role"] == p["role"])].sort_values("seed")
        scale = scale_of(p["claim"])
        tested = runs[runs["verdict"] != "not testable"]
        y = np.arange(len(runs), 0, -1)[(runs["verdict"] != "not testable").to_numpy()]
        ax.errorbar(scale * tested["delta"], y, xerr=[scale * (tested["delta"] - tested["ci_low"]),
                                                      scale * (tested["ci_high"] - tested["delta"])],
                    fmt="o", capsize=3)
        if not np.isnan(p.get("pooled_effect", np.nan)):
            ax.errorbar([scale * p["pooled_effect"]], [0], xerr=[[scale * (p["pooled_effect"] - p["pooled_ci_low"])],
                                                                 [scale * (p["pooled_ci_high"] - p["pooled_effect"])]],
                        fmt="D", color="red", capsize=3)
            ax.axvline(scale * p["null"], color="k", lw=1)
            if p.get("margin") is not None and not np.isnan(p["margin"]):
                ax.axvspan(scale * (p["null"] - p["margin"]), scale * (p["null"] + p["margin"]), color="C0", alpha=0.1,
                           lw=0)
        ax.set_yticks([*range(len(runs), 0, -1), 0], [*(f"seed {s}" for s in runs["seed"]), "pooled"], fontsize=7)
        ax.set_title(f"{p['claim']}, {p['role']}\n{p['stable']}", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
