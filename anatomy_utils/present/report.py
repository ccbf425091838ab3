"""Render the README's Findings section and results block from ``figures/<profile>/summary.json`` (so every quoted
number and sentence is produced by make)."""
from __future__ import annotations

import re

from .. import stats
from ..base import keys, paper, summary
from ..core import importance
from ..study import claims
from ..study.finetune import TRAINING_CODE
from ..base.cache import code_fingerprint
from ..base.runtime import ROOT
from ..study.score_study import CONTROLS
from ..core.timing import TOLERANCE
from . import front_page

ROLES = ("encoder", "decoder")
BASELINE = "random"  # the paper's baseline keeps its row; the other control (the mirror) stays in 06


def scores() -> list[str]:
    """The README's score rows: every registered score (``importance.register`` included) but the controls, then the
    random baseline."""
    return [name for name in importance.SCORES if name not in CONTROLS] + [BASELINE]


FIGURES = {  # Findings: (heading, (where, part) of the sentences' keys ``keys.finding(where, role, *part)``, figures)
    "Fine-tuning (paper §3.1)": (("01_finetune", ()), []),
    "Layer anatomy (paper §3.1, Figure 1)": (("02_layer_anatomy", ()),
                                            ["figure1_layer_similarity_input0", "lens_decision_layer"]),
    "Neuron anatomy (paper §3.2–3.3, Figures 2–3)": (("03_ffn_neurons", ("anatomy",)),
                                                    ["figure2_3_neuron_graph_input0"]),
    "Do high-cosine neurons matter? (causal check, beyond the paper)": (("03_ffn_neurons", ("causal",)), []),
    "The paper's rule against random pruning (paper §3.4, Figures 4 and 5)": (("prune", ()),
                                                                             ["figure4_accuracy", "figure5_accuracy"]),
    "The best retraining-free score (beyond the paper)": (("scores", ()), ["scores_accuracy"]),
    "Controls (beyond the paper)": (("scores", ("controls",)), []),
}


def _fmt(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value if isinstance(value, str) else f"{value:.{digits}f}"


def _interval(get, key: str, scale: float = 1, digits: int = 3, sep: str = ".") -> str:
    """`` [low, high]`` from ``key``.ci_low / .ci_high (``sep="_"``: ``key``_ci_low, the timing keys' spelling)."""
    low, high = get(f"{key}{sep}ci_low"), get(f"{key}{sep}ci_high")
    return "" if low is None else f" [{scale * low:.{digits}f}, {scale * high:.{digits}f}]"


def _named(role: str, sentence: str) -> str:
    """A findings sentence that names its model: those that do not start with the role get it as a label."""
    return sentence if sentence.startswith(role) else f"**{role}**: {sentence}"


def findings_markdown(profile: str) -> str:
    """The study's answers, one short paragraph per model and question, each followed by its figures."""
    get = summary.read(profile).get
    lines = []
    for heading, ((where, part), figures) in FIGURES.items():
        lines += [f"**{heading}.**", ""]
        said = {m: get(keys.finding(where, m, *part)) for m in ROLES}
        lines += [f"- {_named(m, sentence)}" for m, sentence in said.items() if sentence]
        lines.append("")
        if figures:
            lines += [" ".join(f"![{name}](figures/{profile}/{name}.png)" for name in figures), ""]
    speed = [_speed_line(get, m) for m in ROLES if get(keys.timing(m, "aa_ratio")) is not None]
    if speed:
        lines += ["**Real speed-up against the bound (paper §5.3, Figures 4-1 and 5-1).**", "", *speed, "",
                  f"![figure4-1_inference_time](figures/{profile}/figure4-1_inference_time.png) "
                  f"![figure5-1_inference_time](figures/{profile}/figure5-1_inference_time.png)", ""]
    return "\n".join(lines).rstrip()


def _speed_line(get, m: str) -> str:
    """One model's timing: where and on what shape it was timed, the controls, then removal against its bound."""
    at = _reader(get, keys.timing, m)
    removed = [f"{p}% removed {_fmt(at(_p(p), 'removed_ratio'), 2)}x"
               f"{_interval(get, keys.timing(m, _p(p), 'removed'), 1, 2, sep='_')} against a "
               f"{_fmt(at(_p(p), 'ceiling_flops'), 2)}x FLOP bound" for p in (30, 50)
               if at(_p(p), "removed_ratio") is not None]
    gate = "" if at("gate_passed") else " (timing noise exceeds tolerance: no speed verdict)"
    threads = get(keys.timing(m, "threads"), get(keys.env("threads")))
    return (f"- **{m}** ({at('device')}, {threads} thread{'' if threads == 1 else 's'}; batch "
            f"{at('batch')} x {at('tokens')} tokens; dense "
            f"{_fmt(at('dense_seconds_per_1000'), 1)} s per 1,000): A/A "
            f"{_fmt(at('aa_ratio'), 3)}x{_interval(get, keys.timing(m, 'aa'), 1, 3, sep='_')}{gate}, "
            f"zeroed weights {_fmt(at('zeroed_ratio'), 2)}x; " + "; ".join(removed) + ".")


def _reader(get, area, *prefix):
    """A function of a key's remaining parts that reads ``area(*prefix, *parts)`` with ``get``."""
    return lambda *parts: get(area(*prefix, *parts))


def _p(percent: int) -> str:
    """A sparsity given in percent as it appears in a key (``50`` -> ``p50``)."""
    return keys.percent(percent / 100)


def _row(get, label: str, area, *parts: str, digits: int = 3, paper: str = "") -> str:
    """One table row: the key ``area(role, *parts)`` (``area``: a function of ``keys``) for each role, then the
    paper's value."""
    return f"| {label} | " + " | ".join(_fmt(get(area(m, *parts)), digits) for m in ROLES) + f" | {paper} |"


def _provenance(values: dict, profile: str) -> list[str]:
    """Where the numbers come from and how long the run took, and the per-notebook minutes."""
    run, runtime, env = (_reader(values.get, area) for area in (keys.run, keys.runtime, keys.env))
    stale = run("code_fingerprint") not in (None, code_fingerprint(*TRAINING_CODE))
    cold = (f"`make cold` measured **{_fmt(run('wall_minutes'), 1)} minutes** of wall clock on this 2-core machine "
            f"({_fmt(run('setup_minutes'), 1)} for the venv and wheels, {_fmt(run('study_minutes'), 1)} for "
            f"the study, from an empty cache; commit {run('cold_commit')}); its summary.json "
            + ("reproduces every committed count, accuracy and decision exactly and every continuous value within "
               f"{run('cold_tolerance')} relative (timing keys aside)" if run("cold_reproduces_committed") else
               f"did not reproduce {run('cold_differences')} of the {run('cold_compared')} committed values"
               + ("" if run("cold_missing") is None else
                  f", {run('cold_missing')} of them keys it did not write at all")
               + " (`make cold` lists them, and the commit that adopted its outputs says why)") + "."
            if run("wall_minutes") is not None else
            f"Not a `make cold`: the last run's notebooks took {_fmt(runtime('notebook_minutes'), 1)} minutes "
            f"on this machine, reusing cached checkpoints (their fine-tuning took "
            f"{_fmt(runtime('cached_training_minutes'), 1)} minutes when they were built) and whatever predictions "
            f"the cache held, so a cold run takes longer; `make cold` measures it.")
    return [f"Numbers from `figures/{profile}/summary.json` (profile `{profile}`, commit {run('commit')}, torch "
            f"{env('torch')}, transformers {env('transformers')}, device {env('device')}, CPU "
            f"{env('cpu_model')}). " + cold + (" **These results were made by training code that differs from "
                                               "the current code: rerun `make`.**" if stale else ""), "",
            "| notebook | minutes |", "|---|---|"] + [
        f"| {k.split('.')[2]} | {v:.1f} |" for k, v in sorted(values.items())
        if k.startswith(keys.under(keys.runtime("notebooks"))) and k.endswith(".minutes")]


def _anatomy_rows(get) -> list[str]:
    """Fine-tuning (01), the lens (02) and the neurons (03)."""
    rows = [_row(get, "model", keys.finetune, "model", paper="bert-base-uncased / gpt2"),
            _row(get, "max tokens", keys.finetune, "max_tokens", digits=0),
            _row(get, "fine-tuning minutes", keys.finetune, "train_minutes", digits=1),
            _row(get, "validation accuracy", keys.finetune, "validation_accuracy"),
            _row(get, "test accuracy", keys.finetune, "test_accuracy",
                 paper=" / ".join(f"{paper.FINE_TUNED[m]:g}" for m in ROLES)),
            _row(get, "decision layer of the lens (AUC stays at the criterion)", keys.anatomy, "decision_layer",
                 digits=0),
            _row(get, "neurons above 0.35 (probe mean)", keys.anatomy, "neurons_above_0.35", digits=1),
            _row(get, "Jaccard across inputs, layer pairs with a non-empty set", keys.anatomy, "jaccard_nonempty"),
            _row(get, "… the same for random sets of those sizes (chance)", keys.anatomy, "jaccard_chance"),
            _row(get, "… non-empty layer pairs", keys.anatomy, "nonempty_pairs", digits=0),
            _row(get, "Jaccard across inputs of the top-k sets per layer", keys.anatomy, "topk", "jaccard"),
            _row(get, "… the same for random top-k sets (chance)", keys.anatomy, "topk", "jaccard_chance")]
    for key, label in (("top_cosine", "top-k by cosine"), ("top_contribution", "top-k by contribution"),
                       ("random", "k random")):
        rows.append(f"| accuracy change, {label} masked (masked − dense, 03) | " + " | ".join(
            _fmt(get(keys.anatomy(m, "ablation", key, "delta_accuracy")))
            + _interval(get, keys.anatomy(m, "ablation", key))
            for m in ROLES) + " |  |")
    return rows + [_row(get, "Spearman(abs. cosine, ablation effect)", keys.anatomy, "spearman_cosine_vs_effect")]


def _pruning_rows(get) -> list[str]:
    """The rule against the random masks and dense (04/05) and its timing."""
    rows = [_row(get, "test reviews of every pruning comparison (04–06)", keys.evaluation, "test_reviews", digits=0),
            _row(get, "validation reviews of every choice (06)", keys.evaluation, "validation_reviews", digits=0),
            _row(get, "dense accuracy on those test reviews", keys.prune, "dense", "accuracy")]
    for p in (10, 30, 50, 70):
        if get(keys.prune("encoder", _p(p), "paper_rule", "accuracy")) is None:
            continue
        at = {m: _reader(get, keys.prune, m, _p(p)) for m in ROLES}
        said = [paper.RULE["encoder"].get(p / 100), paper.RANDOM["encoder"].get(p / 100)]
        said = " vs ".join("–" if x is None else f"{x:g}" for x in said)
        rows.append(f"| {p}% pruned: paper rule vs random masks (mean ± SD between masks, masks) | " + " | ".join(
            f"{_fmt(at[m]('paper_rule', 'accuracy'))} vs {_fmt(at[m]('random', 'accuracy_mean'))}"
            f" ± {_fmt(at[m]('random_spread'))} ({at[m]('random_masks')})"
            for m in ROLES) + f" | {said} (BERT) |")
        for what, label in (("rule_vs_random", "rule − random masks"), ("rule_vs_dense", "rule − dense")):
            rows.append(f"| {p}% pruned: {label} (pt) [simultaneous CI], n: verdict | " + " | ".join(
                f"{_pt(get, k)}: {_fmt(get(f'{k}.verdict'))}"
                for k in (keys.prune(m, _p(p), what) for m in ROLES)) + " |  |")
    for p in (30, 50):
        if get(keys.timing("encoder", _p(p), "removed_ratio")) is not None:
            at = {m: _reader(get, keys.timing, m, _p(p)) for m in ROLES}
            rows.append(f"| {p}% pruned: speed-up removed [95% CI] / FLOP bound / measured-time bound | " + " | ".join(
                f"{_fmt(at[m]('removed_ratio'), 2)}{_interval(get, keys.timing(m, _p(p), 'removed'), 1, 2, sep='_')}"
                f" / {_fmt(at[m]('ceiling_flops'), 2)} / {_fmt(at[m]('ceiling_time'), 2)}"
                for m in ROLES) + " | 1.33 (zeroed, 10%) |")
    return rows + [_row(get, "speed-up of zeroed weights (same FLOPs; A/A control beside it)",
                        keys.timing, "zeroed_ratio"),
                   _row(get, f"A/A ratio, two dense copies (gate: 95% CI inside 1 ± {TOLERANCE:g})",
                        keys.timing, "aa_ratio"),
                   _row(get, "dense seconds per 1,000 reviews (timed shape, CPU)",
                        keys.timing, "dense_seconds_per_1000", digits=1)]


def _score_rows(get) -> list[str]:
    """06: the best score, its choice and its confirmation."""
    rows = [_row(get, "best score, chosen on validation (06)", keys.scores, "best", "score"),
            _row(get, "its budget and repair or refit, chosen on validation (06)", keys.scores, "best", "setting"),
            _row(get, "share of validation bootstraps choosing the same best score",
                 keys.scores, "selection", "best_score_stability", digits=2)]
    for p in (30, 50):
        if get(keys.scores("encoder", "best", _p(p), "accuracy_drop")) is None:
            continue
        rows.append(f"| {p}% removed, best score: change vs dense (pt) [simultaneous CI] | " + " | ".join(
            _change(get, keys.scores(m, "best", _p(p)), keys.evaluation(m, "test_reviews")) for m in ROLES) + " |  |")
        for score in scores():
            rows.append(f"| {p}% removed, {score} score at its setting: accuracy [95% CI] | " + " | ".join(
                _fmt(get(keys.scores(m, score, _p(p), "accuracy"))) + _interval(get, keys.scores(m, score, _p(p)))
                for m in ROLES) + " |  |")
    rows.append("| confirmation: best score's change on unseen test reviews (pt) [95% CI], n | " + " | ".join(
        _pt(get, keys.scores(m, "confirm", _p(50)), "accuracy_drop", sign=-1) for m in ROLES) + " |  |")
    for p in (50, 70):
        refit = ("refit", _p(p))
        if get(keys.scores("encoder", *refit, "n")) is None:
            continue
        rows += [f"| {p}% removed and refitted ({get(keys.scores('encoder', *refit, 'score'))} / "
                 f"{get(keys.scores('decoder', *refit, 'score'))}): change on unseen test reviews (pt) [95% CI], n | "
                 + " | ".join(_change(get, keys.scores(m, *refit)) for m in ROLES) + " |  |",
                 _row(get, f"{p}% refitted: seconds to refit (06)", keys.scores, *refit, "prune_seconds", digits=0),
                 _row(get, f"{p}% refitted: layer fits refused", keys.scores, *refit, "fell_back"),
                 _row(get, f"{p}% refitted: speed-up over dense (time-share ceiling beside it)", keys.scores, *refit,
                      "speedup"),
                 _row(get, f"{p}% refitted: time-share ceiling", keys.scores, *refit, "ceiling_time")]
    return rows + [_row(get, f"seconds to compute the {score} score (06)", keys.scores, score, "seconds", digits=1)
                   for score in scores()]


def results_markdown(profile: str) -> str:
    values = summary.read(profile)
    get = values.get
    header = ["", "Accuracy changes are pruned minus dense, in points (negative: worse), as everywhere in this README; "
              "the summary's `accuracy_drop` keys store the opposite sign; \"rule − random\" is the rule's "
              "accuracy minus the distribution of random masks, paired on the same reviews (two-level bootstrap); "
              "intervals are simultaneous across the sparsities of each question (level shown in the notebooks), and "
              "each verdict is read off its own interval.", "",
              "| | encoder | decoder | paper (BERT / GPT-2) |", "|---|---|---|---|"]
    return "\n".join(_provenance(values, profile) + header + _anatomy_rows(get) + _pruning_rows(get) + _score_rows(get))


def _pt(get, key: str, delta: str = "delta", low: str = "ci_low", high: str = "ci_high", n: str | None = None,
        sign: int = 1) -> str:
    """A paired difference in points with its interval and n, from the keys ``key``.{delta, low, high} and ``n``
    (default ``key``.n; no n when the summary records none); ``sign`` -1 turns a drop (dense - pruned) into the
    README's one convention, a change (pruned - dense)."""
    value, count = get(f"{key}.{delta}"), get(n or f"{key}.n")
    if value is None:
        return "–"
    ends = sorted(sign * get(f"{key}.{end}") for end in (low, high))
    return (f"{100 * sign * value:+.1f} pt [{100 * ends[0]:+.1f}, {100 * ends[1]:+.1f}]"
            + ("" if count is None else f", n = {count}"))


def _change(get, key: str, n: str | None = None) -> str:
    """A stored drop (``accuracy_drop``, ``drop_ci_low``, ``drop_ci_high``: dense - pruned) as a change,
    pruned - dense."""
    return _pt(get, key, "accuracy_drop", "drop_ci_low", "drop_ci_high", n, sign=-1)


def _claim_cell(get, claim: str, role: str) -> str:
    key = keys.claim(claim, role)
    verdict = get(f"{key}.verdict")
    if verdict is None:
        return "–"
    pilot = " *(pilot)*" if get(f"{key}.source") == "pilot" else ""
    if verdict == "not testable":  # the sentence reads "<role>: not testable: <reason>."
        return "**not tested**: " + str(get(f"{key}.sentence", "")).split("not testable: ", 1)[-1].rstrip(".") + pilot
    scale = 100 if claim in claims.ACCURACY_CLAIMS else 1
    unit, digits = (" pt", 1) if scale == 100 else ("", 3)  # 08's table's digits: a share of 0.004 is not +0.00
    number = lambda name: f"{scale * get(f'{key}.{name}'):+.{digits}f}"  # noqa: E731
    level = f"{100 * get(f'{key}.level', stats.LEVEL):.4g}%"  # 95.00004% (a look with little information) reads 95%
    text = (f"**{claims.OUTCOMES[verdict]}** ({verdict}): {number('effect')}{unit} [{number('ci_low')}, "
            f"{number('ci_high')}]{'' if level == f'{100 * stats.LEVEL:.4g}%' else f' ({level})'}"
            f"{' (exact)' if get(f'{key}.exact') else ''} vs {number('null')}, n = {get(f'{key}.n')}")
    if get(f"{key}.bound_text") is not None:
        text += f"; {get(f'{key}.bound_text')}, power {get(f'{key}.power'):.2f}"
    if verdict == "inconclusive" and get(f"{key}.mde") is not None:
        text += f"; MDE {scale * get(f'{key}.mde'):.{digits}f}{unit}"
    return text + pilot


def _in_short(values: dict, profile: str) -> str:
    """One line per profile: which claims hold, which do not, how many are undecided or not tested."""
    rows = [(claim, m, values.get(keys.claim(claim, m, "verdict"))) for claim in claims.PAPER for m in ROLES]
    rows = [(claim, m, verdict) for claim, m, verdict in rows if verdict is not None]
    parts = []
    for outcome in dict.fromkeys(claims.OUTCOMES.values()):
        named = [f"`{c}` ({m}{', ' + v if outcome == 'does not hold' else ''})" for c, m, v in rows
                 if claims.OUTCOMES[v] == outcome]
        if named:
            parts.append(f"*{outcome}* ({len(named)}): " + (", ".join(named) if outcome in ("holds", "does not hold")
                                                            else "see the table"))
    return f"- **In short, {profile}**: " + "; ".join(parts) + "." if parts else f"- **In short, {profile}**: not run."


def ledger_markdown(first: str = "default", second: str = "rotten_tomatoes") -> str:
    """The claims ledger of two profiles side by side, and whether each claim gets the same answer on both (decided
    from the two intervals, not from the verdict strings: ``claims.across``)."""
    a, b = (claims.ledger_values(summary.read(p)) for p in (first, second))
    if not any(k.startswith(keys.under(keys.claim())) for k in a):
        return f"(Run `make` and `make PROFILE={second}` to fill this table.)"
    source = keys.data("source")
    lines = [f"| claim (paper) | model | {first}: {a.get(source)} | {second}: {b.get(source, '–')} | "
             f"same answer on both? |", "|---|---|---|---|---|"]
    for claim, said in claims.PAPER.items():
        for m in ROLES:
            cells = [_claim_cell(v.get, claim, m) + (f"; *{s}*" if (s := claims.seeds_text(v, claim, m)) else "")
                     for v in (a, b)]
            lines.append(f"| `{claim}` ({said}) | {m} | {cells[0]} | {cells[1]} | {claims.across(a, b, claim, m)} |")
    lines += ["", *(_in_short(values, p) for p, values in ((first, a), (second, b)))]
    lines += ["", "Where a profile has a registered confirmation (`make confirm`, "
              "`params/registration/<profile>.yaml`), its rows come from it: reviews no notebook had read, a design "
              "frozen before them, the primary family "
              "judged by Holm's step-down, each row with the one-sided bound it can state and the design's power at "
              "its pre-stated alternative; rows marked *(pilot)* come from the exploratory runs of 01-07 (all of a "
              "profile's rows where no confirmation ran) and are read as exploratory.",
              "", "Effects are in accuracy points for accuracy claims (a paired difference on the same examples) and "
              "in their own unit otherwise (an AUC, a share of a layer, a Jaccard, a correlation, a speed ratio); each "
              "row's interval is 95% unless its level is shown (the primary family, or a row looked at before: below) "
              "and its verdict is read off "
              "that interval (notebook 08 explains each procedure; `make claims` prints a profile's ledger in "
              f"seconds). The pilot's rule: {claims.MULTIPLICITY} \"Same answer\" is *yes* when both verdicts "
              "are decisive and equal, **different** when the interval of the difference of the two effects excludes "
              "zero, *not comparable* when either side is inconclusive or not testable. Published references: "
              + "; ".join(f"{p}: {g.get(keys.reference('source'))}" for p, g in ((first, a), (second, b))) + "."]
    return "\n".join(lines)


def seeds_markdown(profile: str = "rotten_tomatoes") -> str:
    """07's seed study of ``profile``: per claim and model, the committed run's verdict, each run's, and the pool."""
    values = claims.ledger_values(summary.read(profile))
    get = values.get
    seeds = keys.under(keys.seeds())
    rows = sorted({k.rsplit(".", 1)[0] for k in values if k.startswith(seeds) and k.endswith(".stable")},
                  key=lambda k: (list(claims.CLAIMS).index(k.split(".")[1]), ROLES.index(k.split(".")[2])))
    if not rows:
        return f"(Run `make PROFILE={profile}` to fill this table: its notebook 07 fine-tunes the extra seeds.)"
    lines = ["| claim | model | committed run (ledger) | runs, by seed | pooled effect [interval] | between-seed SD "
             "(within-run SE) | pooled verdict |", "|---|---|---|---|---|---|---|"]
    for key in rows:
        _, claim, role = key.split(".")
        number = lambda x: "–" if x is None else claims._number(claim, x)  # noqa: E731
        lines.append(f"| `{claim}` | {role} | {get(keys.claim(claim, role, 'verdict'), '–')} | {get(f'{key}.stable')} "
                     f"({get(f'{key}.verdicts')}) | {number(get(f'{key}.pooled_effect'))} "
                     f"[{number(get(f'{key}.pooled_ci_low'))}, {number(get(f'{key}.pooled_ci_high'))}] | "
                     f"{number(get(f'{key}.between_sd')).lstrip('+')} ({number(get(f'{key}.within_sd')).lstrip('+')}) "
                     f"| {get(f'{key}.pooled_verdict', 'not pooled')} |")
    return "\n".join(lines + ["", f"In words (07): {get(keys.finding('07_seeds'))}"])


def datasets_markdown(first: str = "default", second: str = "rotten_tomatoes") -> str:
    """Sizes and cold-run times of the two datasets' runs."""
    a, b = summary.read(first).get, summary.read(second).get
    return ("| | " + " | ".join(f"{p}: {g(keys.data('source'))}" for p, g in ((first, a), (second, b)))
            + " |\n|---|---|---|\n"
            + "\n".join(f"| {label} | " + " | ".join(_fmt(g(key), digits) for g in (a, b)) + " |"
                        for label, key, digits in (
                ("test examples", keys.data("test"), 0),
                ("encoder test accuracy", keys.finetune("encoder", "test_accuracy"), 3),
                ("decoder test accuracy", keys.finetune("decoder", "test_accuracy"), 3),
                ("encoder pruning comparisons: test examples", keys.evaluation("encoder", "test_reviews"), 0),
                ("decoder pruning comparisons: test examples", keys.evaluation("decoder", "test_reviews"), 0),
                ("cold run, minutes (set-up + study)", keys.run("wall_minutes"), 1),
                ("notebooks of the last `make`, minutes (training included unless cached)",
                 keys.runtime("notebook_minutes"), 1),
                ("of which the seed study (07), minutes", keys.runtime("notebooks", "07_seeds", "minutes"), 1)))
            + "\n| reproduced the summary committed before it (`make cold`) | "
            + " | ".join(_reproduced(g) for g in (a, b)) + " |")


def _reproduced(get) -> str:
    """``yes``, or how many committed values the cold run did not reproduce, and how many of them it did not write."""
    run = _reader(get, keys.run)
    if run("cold_reproduces_committed") is None:
        return "–"
    if run("cold_reproduces_committed"):
        return "yes"
    missing = run("cold_missing")
    return (f"no: {run('cold_differences')} of {run('cold_compared')} values"
            + ("" if missing is None else f" ({missing} of them keys the fresh run did not write)"))


def _replace(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    return re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n{body}\n{end}", text, flags=re.S)


README_PROFILES = ("default", "rotten_tomatoes")  # the profiles whose summaries the README quotes


def update_readme(profile: str = "default") -> None:
    """Replace the Findings section, the results block and the two-dataset table of README.md with current numbers."""
    readme = ROOT / "README.md"
    text = _replace(readme.read_text(), "findings", findings_markdown(profile))
    text = _replace(text, "headline", front_page.headline_markdown(profile))
    text = _replace(text, "datasets", datasets_markdown(*README_PROFILES))
    text = _replace(text, "ledger", ledger_markdown(*README_PROFILES))
    text = _replace(text, "seeds", seeds_markdown(README_PROFILES[1]))
    readme.write_text(_replace(text, "results", results_markdown(profile)))
