"""Render the README's Findings section and results block from ``figures/<profile>/summary.json`` (so every quoted
number and sentence is produced by make)."""
from __future__ import annotations

import re

from . import summary
from .finetune import TRAINING_CODE
from .runtime import ROOT, code_fingerprint

ROLES = ("encoder", "decoder")
SCORES = ("cosine", "random", "magnitude", "activation", "taylor", "contribution")
TARGETS = {30: (0.005, 0.02), 50: (0.015, 0.03)}  # the best score's encoder drop and the upper end of its 95% CI
FIGURES = {  # Findings: (heading, summary keys of the sentences, figures)
    "Fine-tuning (paper §3.1)": (["findings.01_finetune.{m}"], []),
    "Layer anatomy (paper §3.1, Figure 1)": (["findings.02_layer_anatomy.{m}"],
                                            ["figure1_layer_similarity_input0", "lens_decision_layer"]),
    "Neuron anatomy (paper §3.2–3.3, Figures 2–3)": (["findings.03_ffn_neurons.{m}.anatomy"],
                                                    ["figure2_3_neuron_graph_input0"]),
    "Do high-cosine neurons matter? (causal check, beyond the paper)": (["findings.03_ffn_neurons.{m}.causal"], []),
    "The paper's rule against random pruning (paper §3.4, Figures 4 and 5)": (["findings.prune.{m}"],
                                                                             ["figure4_accuracy", "figure5_accuracy"]),
    "The best retraining-free score (beyond the paper)": (["findings.scores.{m}"], ["scores_accuracy"]),
}


def _fmt(value, digits=3):
    if value is None:
        return "–"
    return value if isinstance(value, str) else f"{value:.{digits}f}"


def _interval(get, key: str, scale: float = 1, digits: int = 3) -> str:
    low, high = get(f"{key}.ci_low"), get(f"{key}.ci_high")
    return "" if low is None else f" [{scale * low:.{digits}f}, {scale * high:.{digits}f}]"


def findings_markdown(profile: str) -> str:
    """The study's answers, one short paragraph per model and question, each followed by its figures."""
    get = summary.read(profile).get
    lines = []
    for heading, (keys, figures) in FIGURES.items():
        lines += [f"**{heading}.**", ""]
        lines += [f"- {get(key.format(m=m))}" for key in keys for m in ROLES if get(key.format(m=m))]
        lines.append("")
        if figures:
            lines += [" ".join(f"![{name}](figures/{profile}/{name}.png)" for name in figures), ""]
    speed = [f"{m}: {_fmt(get(f'prune.{m}.p{p}.removed.speedup'), 2)}x measured against a {_fmt(get(f'prune.{m}.p{p}.ceiling.speedup'), 2)}x "
             f"FLOP ceiling at {p}% removed (zeroed weights: {_fmt(get(f'prune.{m}.p{p}.zeroed.speedup'), 2)}x)"
             for m in ROLES for p in (30, 50) if get(f"prune.{m}.p{p}.removed.speedup") is not None]
    if speed:
        lines += ["**Real speed-up against the ceiling (paper §5.3, Figures 4-1 and 5-1).** " + "; ".join(speed) + ".", "",
                  f"![figure4-1_inference_time](figures/{profile}/figure4-1_inference_time.png) "
                  f"![figure5-1_inference_time](figures/{profile}/figure5-1_inference_time.png)", ""]
    return "\n".join(lines).rstrip()


def results_markdown(profile: str) -> str:
    s = summary.read(profile)
    get = s.get
    stale = get("run.code_fingerprint") not in (None, code_fingerprint(*TRAINING_CODE))
    cold = (f"`make cold` measured **{_fmt(get('run.wall_minutes'), 1)} minutes** of wall clock on this 2-core machine "
            f"({_fmt(get('run.setup_minutes'), 1)} for the venv and wheels, {_fmt(get('run.study_minutes'), 1)} for the "
            f"study, from an empty cache; commit {get('run.cold_commit')}); its summary.json "
            + ("reproduces every committed value, timing keys aside" if get("run.cold_reproduces_committed") else
               "did not reproduce the committed values (see the note of the run)") + "."
            if get("run.wall_minutes") is not None else
            f"A cold `make` takes about **{_fmt(get('runtime.minutes'), 1)} minutes** on this machine "
            f"({_fmt(get('runtime.notebook_minutes'), 1)} of notebook execution in the last run, plus "
            f"{_fmt(get('runtime.cached_training_minutes'), 1)} of fine-tuning that run found cached; not a `make cold`).")
    lines = [f"Numbers from `figures/{profile}/summary.json` (profile `{profile}`, commit {get('run.commit')}, torch "
             f"{get('env.torch')}, transformers {get('env.transformers')}, device {get('env.device')}). " + cold + (" **These results were made by training code that differs from "
                                                     "the current code: rerun `make`.**" if stale else ""), "",
             "| notebook | minutes |", "|---|---|"]
    lines += [f"| {k.split('.')[2]} | {v:.1f} |" for k, v in sorted(s.items())
              if k.startswith("runtime.notebooks.") and k.endswith(".minutes")]
    lines += ["", "Accuracy changes: \"drop\" is dense minus pruned (positive: worse); \"rule − random\" is the rule's "
              "accuracy minus the random seeds' mean, paired on the same reviews; intervals are 95%, p-values exact "
              "sign tests Holm-corrected across the sparsities.", "",
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
    for key, label in (("top_cosine", "top-k by cosine"), ("top_contribution", "top-k by contribution"),
                       ("random", "k random")):
        lines.append(f"| accuracy change, {label} masked (masked − dense, 03) | " + " | ".join(
            _fmt(get(f"anatomy.{m}.ablation.{key}.delta_accuracy")) + _interval(get, f"anatomy.{m}.ablation.{key}")
            for m in ROLES) + " |  |")
    row("Spearman(abs. cosine, ablation effect)", "anatomy.{m}.spearman_cosine_vs_effect")
    row("test reviews of every pruning comparison (04–06)", "eval.{m}.test_reviews", 0)
    row("validation reviews of every choice (06)", "eval.{m}.validation_reviews", 0)
    row("dense accuracy on those test reviews", "prune.{m}.dense.accuracy")
    for p in (10, 30, 50, 70):
        if get(f"prune.encoder.p{p}.paper_rule.accuracy") is None:
            continue
        paper = {30: "0.851 vs –", 50: "– vs 0.582", 70: "0.78 vs –"}.get(p, "– vs –")
        lines.append(f"| {p}% pruned: paper rule vs random (rule's layer counts), accuracy | " + " | ".join(
            f"{_fmt(get(f'prune.{m}.p{p}.paper_rule.accuracy'))} vs {_fmt(get(f'prune.{m}.p{p}.random.accuracy_mean'))}"
            for m in ROLES) + f" | {paper} (BERT) |")
        lines.append(f"| {p}% pruned: rule − random, paired (pt) [95% CI], Holm p: verdict | " + " | ".join(
            f"{_fmt(100 * get(f'{k}.delta'), 1) if get(f'{k}.delta') is not None else '–'}"
            f"{_interval(get, k, 100, 1)}, p = {_fmt(get(f'{k}.p_holm'), 3)}: {_fmt(get(f'{k}.verdict'))}"
            for k in (f"prune.{m}.p{p}.rule_vs_random" for m in ROLES)) + " |  |")
    for p in (30, 50):
        if get(f"prune.encoder.p{p}.removed.speedup") is None:
            continue
        lines.append(f"| {p}% pruned: speed-up removed / zeroed / ceiling | " + " | ".join(
            f"{_fmt(get(f'prune.{m}.p{p}.removed.speedup'), 2)} / {_fmt(get(f'prune.{m}.p{p}.zeroed.speedup'), 2)} / "
            f"{_fmt(get(f'prune.{m}.p{p}.ceiling.speedup'), 2)}" for m in ROLES) + " | 1.33 (zeroed, 10%) |")
    row("max abs logit difference, removed vs zeroed", "prune.{m}.logit_max_abs_diff_removed_vs_zeroed", 7)
    row("best score, chosen on validation (06)", "scores.{m}.best_p50.score")
    lines.append("| its budget and repair, chosen on validation (06) | " + " | ".join(
        _fmt(get(f"scores.{m}.{get(f'scores.{m}.best_p50.score')}.p50.setting")) for m in ROLES) + " |  |")
    row("share of validation bootstraps choosing the same best score", "scores.{m}.selection.best_score_stability", 2)
    for p in (30, 50):
        if get(f"scores.encoder.best_p{p}.accuracy_drop") is None:
            continue
        target, ceiling = TARGETS[p]
        lines.append(f"| {p}% removed, best score: drop vs dense (pt) [95% CI] (encoder target: ≤ {100 * target:.1f}, "
                     f"upper end ≤ {100 * ceiling:.0f}) | " + " | ".join(
                         f"{_fmt(100 * get(f'scores.{m}.best_p{p}.accuracy_drop'), 1)} "
                         f"[{_fmt(100 * get(f'scores.{m}.best_p{p}.drop_ci_low'), 1)}, "
                         f"{_fmt(100 * get(f'scores.{m}.best_p{p}.drop_ci_high'), 1)}]"
                         if get(f"scores.{m}.best_p{p}.drop_ci_high") is not None else "–" for m in ROLES) + " |  |")
        for score in SCORES:
            key = f"scores.{{m}}.{score}.p{p}"
            lines.append(f"| {p}% removed, {score} score at its setting: accuracy [95% CI] | " + " | ".join(
                _fmt(get(f"{key.format(m=m)}.accuracy")) + _interval(get, key.format(m=m)) for m in ROLES) + " |  |")
    for score in SCORES:
        row(f"seconds to compute the {score} score (06)", f"scores.{{m}}.{score}.seconds", 1)
    return "\n".join(lines)


def _pt(get, key: str, delta: str = "delta", low: str = "ci_low", high: str = "ci_high", n: str | None = None) -> str:
    """A paired difference in points with its 95% interval and n, from the keys ``key``.{delta, low, high} and ``n``
    (default ``key``.n; no n when the summary records none)."""
    value, count = get(f"{key}.{delta}"), get(n or f"{key}.n")
    return "–" if value is None else (f"{100 * value:+.1f} pt [{100 * get(f'{key}.{low}'):.1f}, "
                                      f"{100 * get(f'{key}.{high}'):.1f}]" + ("" if count is None else f", n = {count}"))


# Questions asked of both datasets: (label, cell from a summary's getter for a role, the qualitative answer compared)
QUESTIONS = [
    ("test accuracy (published reference)", lambda g, m: f"{_fmt(g(f'finetune.{m}.test_accuracy'))} "
     f"(n = {g('data.test')}; {_fmt(g(f'reference.{m}'))})", None),
    ("decision layer of the lens", lambda g, m: f"{g(f'anatomy.{m}.decision_layer')}", None),
    ("same neurons above 0.35 for every input (mean Jaccard)", lambda g, m: _fmt(g(f"anatomy.{m}.mean_jaccard_across_inputs"), 2),
     lambda g, m: g(f"anatomy.{m}.mean_jaccard_across_inputs") >= 0.9),
    ("masking the top-1% by cosine, masked − dense", lambda g, m: _pt(g, f"anatomy.{m}.ablation.top_cosine",
                                                                      "delta_accuracy"),
     lambda g, m: g(f"anatomy.{m}.ablation.top_cosine.ci_low") <= 0 <= g(f"anatomy.{m}.ablation.top_cosine.ci_high")),
    ("50% pruned, paper rule − random: verdict", lambda g, m: f"{_pt(g, f'prune.{m}.p50.rule_vs_random')}: "
     f"{g(f'prune.{m}.p50.rule_vs_random.verdict')}", lambda g, m: g(f"prune.{m}.p50.rule_vs_random.verdict")),
    ("best score at 50%, chosen on validation", lambda g, m: f"{g(f'scores.{m}.best_p50.score')} "
     f"({g(f'scores.{m}.' + str(g(f'scores.{m}.best_p50.score')) + '.p50.setting')})",
     lambda g, m: g(f"scores.{m}.best_p50.score")),
    ("best score at 50%: drop vs dense", lambda g, m: _pt(g, f"scores.{m}.best_p50", "accuracy_drop", "drop_ci_low",
                                                           "drop_ci_high", f"eval.{m}.test_reviews"), None),
    ("best score − paper's cosine at 50%: verdict", lambda g, m: f"{_pt(g, f'scores.{m}.compare.best_vs_cosine.p50')}: "
     f"{g(f'scores.{m}.compare.best_vs_cosine.p50.verdict')}",
     lambda g, m: g(f"scores.{m}.compare.best_vs_cosine.p50.verdict")),
]


def comparison_markdown(first: str = "default", second: str = "rotten_tomatoes") -> str:
    """The same questions answered on two profiles' data, side by side, and whether the qualitative answer is the same
    (a verdict, the chosen score, a Jaccard of at least 0.9, an interval that spans zero)."""
    a, b = summary.read(first).get, summary.read(second).get
    if b("finetune.encoder.test_accuracy") is None or a("finetune.encoder.test_accuracy") is None:
        return f"(Run `make PROFILE={second}` and `make` to fill this table.)"
    lines = [f"| question | role | {first}: {a('data.source')} | {second}: {b('data.source')} | same answer on both? |",
             "|---|---|---|---|---|"]
    agree = {"yes": [], "**no**": []}
    for label, cell, answer in QUESTIONS:
        for m in ROLES:
            try:
                same = "–" if answer is None or answer(a, m) is None else ("yes" if answer(a, m) == answer(b, m) else "**no**")
                lines.append(f"| {label} | {m} | {cell(a, m)} | {cell(b, m)} | {same} |")
            except TypeError:  # a key missing from one summary
                same = "–"
                lines.append(f"| {label} | {m} | – | – | – |")
            agree.get(same, []).append(f"{label} ({m})")
    lines += ["", f"**Same answer on both datasets:** {'; '.join(agree['yes']) or 'none'}. "
                  f"**Different answers:** {'; '.join(agree['**no**']) or 'none'}."]
    lines += ["", "Published references: " + "; ".join(f"{p}: {g('reference.source')}" for p, g in ((first, a), (second, b)))
              + ". Cold run time (`make cold PROFILE=…`, set-up + study, this 2-core machine): " + "; ".join(
                  f"{p}: {_fmt(g('run.wall_minutes'), 1)} min ({_fmt(g('run.setup_minutes'), 1)} + "
                  f"{_fmt(g('run.study_minutes'), 1)})" for p, g in ((first, a), (second, b))) + "."]
    return "\n".join(lines)


def _replace(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    return re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n{body}\n{end}", text, flags=re.S)


README_PROFILES = ("default", "rotten_tomatoes")  # the profiles whose summaries the README quotes


def update_readme(profile: str = "default") -> None:
    """Replace the Findings section, the results block and the two-dataset table of README.md with current numbers."""
    readme = ROOT / "README.md"
    text = _replace(readme.read_text(), "findings", findings_markdown(profile))
    text = _replace(text, "datasets", comparison_markdown(*README_PROFILES))
    readme.write_text(_replace(text, "results", results_markdown(profile)))
