"""Render the README's results block from ``figures/<profile>/summary.json`` (so every quoted number is produced by make)."""
from __future__ import annotations

import re

from . import summary
from .runtime import ROOT

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
ROLES = ("encoder", "decoder")
SCORES = ("cosine", "random", "magnitude", "activation", "taylor", "contribution")
TARGETS = {30: 0.005, 50: 0.015}  # issue 6: the best score's encoder accuracy drop, retraining-free


def _fmt(value, digits=3):
    if value is None:
        return "–"
    return value if isinstance(value, str) else f"{value:.{digits}f}"


def results_markdown(profile: str) -> str:
    s = summary.read(profile)
    get = s.get
    lines = [f"Numbers from `figures/{profile}/summary.json` (profile `{profile}`, torch {get('env.torch')}); "
             f"a cold `make` takes **{_fmt(get('runtime.minutes'), 1)} minutes** on this machine "
             f"({_fmt(get('runtime.notebook_minutes'), 1)} of notebook execution in the last run, plus "
             f"{_fmt(get('runtime.cached_training_minutes'), 1)} of fine-tuning that run found cached).", "",
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
        paper = {30: "0.851 vs –", 50: "– vs 0.582", 70: "0.78 vs –"}.get(p, "– vs –")
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
    for p in (30, 50):
        if get(f"scores.encoder.best_p{p}.accuracy_drop") is None:
            continue
        row(f"{p}% removed, best score (06): accuracy drop vs dense (encoder target: at most {TARGETS[p]})",
            f"scores.{{m}}.best_p{p}.accuracy_drop", 3)
        for score in SCORES:
            row(f"{p}% removed, {score} score (06)", f"scores.{{m}}.{score}.p{p}.accuracy")
    row("best score chosen on validation (06)", "scores.{m}.best_p50.score")
    lines.append("| its budget and repair, chosen on validation (06) | " + " | ".join(
        _fmt(get(f"scores.{m}.{get(f'scores.{m}.best_p50.score')}.p50.setting")) for m in ROLES) + " |  |")
    for score in SCORES:
        row(f"seconds to compute the {score} score (06)", f"scores.{{m}}.{score}.seconds", 1)
    return "\n".join(lines)


def update_readme(profile: str = "default") -> None:
    """Replace the results block of README.md with the profile's current numbers."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    block = f"{BEGIN}\n{results_markdown(profile)}\n{END}"
    readme.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))
