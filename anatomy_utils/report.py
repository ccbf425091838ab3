"""Render the README's results block from ``figures/<profile>/summary.json`` (so every quoted number is produced by make)."""
from __future__ import annotations

import re

from . import summary
from .runtime import ROOT

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
ROLES = ("encoder", "decoder")


def _fmt(value, digits=3):
    if value is None:
        return "–"
    return value if isinstance(value, str) else f"{value:.{digits}f}"


def results_markdown(profile: str) -> str:
    s = summary.read(profile)
    get = s.get
    lines = [f"Numbers from `figures/{profile}/summary.json` (profile `{profile}`, torch {get('env.torch')}); "
             f"whole run: **{_fmt(get('runtime.minutes'), 1)} minutes** of notebook execution on this machine.", "",
             "| | encoder | decoder | paper (BERT / GPT-2) |", "|---|---|---|---|"]

    def row(label, key, digits=3, paper=""):
        cells = " | ".join(_fmt(get(key.format(m=m)), digits) for m in ROLES)
        lines.append(f"| {label} | {cells} | {paper} |")

    row("model", "finetune.{m}.model", paper="bert-base-uncased / gpt2")
    row("max tokens", "finetune.{m}.max_tokens", 0)
    row("fine-tuning minutes", "finetune.{m}.train_minutes", 1)
    row("validation accuracy", "finetune.{m}.validation_accuracy")
    row("test accuracy", "finetune.{m}.test_accuracy", paper="0.862 / 0.849")
    row("decision layer (lens)", "anatomy.{m}.decision_layer", 0)
    row("neurons above 0.35 (probe mean)", "anatomy.{m}.neurons_above_0.35", 1)
    row("mean Jaccard across inputs", "anatomy.{m}.mean_jaccard_across_inputs")
    row("Δ accuracy, top-k cosine ablated", "anatomy.{m}.ablation.top_cosine.delta_accuracy")
    row("Δ accuracy, top-k contribution ablated", "anatomy.{m}.ablation.top_contribution.delta_accuracy")
    row("Δ accuracy, k random ablated", "anatomy.{m}.ablation.random.delta_accuracy")
    row("Spearman(abs. cosine, ablation effect)", "anatomy.{m}.spearman_cosine_vs_effect")
    row("dense accuracy (pruning eval subset)", "prune.{m}.dense.accuracy")
    for p in (10, 30, 50, 70):
        if get(f"prune.encoder.p{p}.paper_rule.accuracy") is None:
            continue
        paper = {30: "0.851 vs –", 50: "– vs 0.582", 70: "0.78 vs –"}.get(p, "")
        lines.append(f"| {p}% pruned: paper rule vs random (mean ± std) | " + " | ".join(
            f"{_fmt(get(f'prune.{m}.p{p}.paper_rule.accuracy'))} vs {_fmt(get(f'prune.{m}.p{p}.random.accuracy_mean'))}"
            f" ± {_fmt(get(f'prune.{m}.p{p}.random.accuracy_std'))}" for m in ROLES) + f" | {paper} (BERT) |")
    for p in (30, 50):
        if get(f"prune.encoder.p{p}.removed.speedup") is None:
            continue
        lines.append(f"| {p}% pruned: speed-up removed / zeroed / ceiling | " + " | ".join(
            f"{_fmt(get(f'prune.{m}.p{p}.removed.speedup'), 2)} / {_fmt(get(f'prune.{m}.p{p}.zeroed.speedup'), 2)} / "
            f"{_fmt(get(f'prune.{m}.p{p}.ceiling.speedup'), 2)}" for m in ROLES) + " | 1.33 (zeroed, 10%) |")
    row("max abs logit difference, removed vs zeroed", "prune.{m}.logit_max_abs_diff_removed_vs_zeroed", 7)
    return "\n".join(lines)


def update_readme(profile: str = "default") -> None:
    """Replace the results block of README.md with the profile's current numbers."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    block = f"{BEGIN}\n{results_markdown(profile)}\n{END}"
    readme.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))
