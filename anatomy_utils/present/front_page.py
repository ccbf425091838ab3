"""The README's first screen: how to read the study, the terms it needs, and five findings of at most two short
sentences each, every number read from the claims ledger (``claims.ledger_values``: the confirmation's rows where one
ran, else the pilot's), so the first screen and the ledger cannot disagree."""
from __future__ import annotations

from ..base import keys, summary
from ..study import claims

ROLES = claims.ROLES
READING = (
    "**How to read this page.** These five findings first; then the claims ledger below (each claim of the paper, its "
    "verdict and its interval); then notebooks 01 to 08 in order, each of which opens with what it found; the glossary "
    "explains every other term. Four terms are needed here: an *FFN neuron* is one hidden unit of a layer's "
    "feed-forward block; *pruning* removes neurons from a trained model without training it again; *pt* is one "
    "percentage point of accuracy; and every change of accuracy is *paired*, measured with and without pruning on the "
    "same reviews.")


def _within(get, claim: str, role: str, number) -> str:
    """A row's interval as words, on the side of its null that the interval lies on: "at least 0.90", "at most
    0.63", "between 0.40 and 0.61"."""
    row = lambda field: get(keys.claim(claim, role, field))  # noqa: E731
    low, high, null = row("ci_low"), row("ci_high"), row("null")
    if null is not None and low > null:
        return f"at least {number(low)}"
    if null is not None and high < null:
        return f"at most {number(high)}"
    return f"between {number(low)} and {number(high)}"


def _loss(get, claim: str, role: str) -> str:
    """A paired change of accuracy in words: "loses at most 2.0 pt", "loses 17.3 to 25.4 pt", "gains 0.2 to
    1.0 pt"."""
    low, high = (100 * get(keys.claim(claim, role, field)) for field in ("ci_low", "ci_high"))
    if high < 0:
        return f"loses {-high:.1f} to {-low:.1f} pt"
    if low < 0:
        return f"loses at most {-low:.1f} pt"
    return f"gains {low:.1f} to {high:.1f} pt"


def _holds(get, claim: str) -> dict:
    """Role -> the ledger's outcome of ``claim`` in words ("holds", "does not hold", "undecided", "not tested")."""
    return {m: claims.OUTCOMES.get(get(keys.claim(claim, m, "verdict")), "not tested") for m in ROLES}


def _where(outcome: dict) -> str:
    """Where the ledger says a claim holds, in words: "in the decoder but not in the encoder", "in both models",
    "not in the decoder; undecided for the encoder"."""
    holds, fails = ([m for m, o in outcome.items() if o == said] for said in ("holds", "does not hold"))
    open_ = [m for m in outcome if m not in holds + fails]
    if len(holds) == len(outcome) or len(fails) == len(outcome):
        return "in both models" if holds else "in neither model"
    found = (f"in the {holds[0]}" if holds else "") + (" but " if holds and fails else "") \
        + (f"not in the {fails[0]}" if fails else "")
    return "; ".join(part for part in (found, f"undecided for the {' and the '.join(open_)}" if open_ else "") if part)


def findings(get, runs: str) -> list[str]:
    """The five findings, from the ledger's values ``get``."""
    link = lambda number, name: f"[{number}]({runs}/{number}_{name}.ipynb)"  # noqa: E731
    model = {m: get(keys.finetune(m, "model")) for m in ROLES}
    right = " and ".join(f"{model[m]} {100 * get(keys.finetune(m, 'test_accuracy')):.1f}%" for m in ROLES)
    auc = {m: _within(get, "late_decision", m, "{:.2f}".format) for m in ROLES}
    share = {m: _within(get, "sparse_neurons", m, lambda v: f"{100 * v:.2g}%") for m in ROLES}
    overlap = {m: f"{get(keys.claim('same_neurons', m, 'effect')):.2f}" for m in ROLES}
    speed = get(keys.claim("removal_speeds_up", "encoder", "effect"))
    fresh = get(keys.claim("rule_keeps_accuracy", "encoder", "source")) == "confirmation"
    return [
        f"1. **The small models learn the task.** Fine-tuned, {right} of {get(keys.data('test')):,} unseen test "
        f"reviews are classified right, close to the paper's BERT and GPT-2 on IMDB (86.2% and 84.9%) "
        f"({link('01', 'finetune')}).",
        f"2. **Where the decision forms.** Read off the layers from two-thirds of the depth up, the classifier already "
        f"ranks reviews as the final model does with an AUC of {auc['encoder']} in the encoder and {auc['decoder']} "
        f"in the decoder (1 is a perfect ranking, 0.5 chance; “late” means below 0.9): the paper's late decision "
        f"holds {_where(_holds(get, 'late_decision'))} ({link('02', 'layer_anatomy')}).",
        f"3. **The paper's neuron sets.** The share of a layer's FFN neurons whose cosine to the final state of the "
        f"token the classifier reads passes the paper's 0.35 is {share['encoder']} (encoder) and {share['decoder']} "
        f"(decoder). "
        f"Two reviews' top 1% of neurons overlap by a Jaccard of {overlap['encoder']} and {overlap['decoder']} "
        f"(“the same neurons for every input” needs 0.5): that claim holds {_where(_holds(get, 'same_neurons'))} "
        f"({link('03', 'ffn_neurons')}).",
        f"4. **The paper's pruning rule.** Pruning 30% of the FFN neurons by the rule, the encoder "
        f"{_loss(get, 'rule_keeps_accuracy', 'encoder')} and the decoder "
        f"{_loss(get, 'rule_keeps_accuracy', 'decoder')} of accuracy"
        + (" on reviews no notebook had read" if fresh else "") + f": the claim that it keeps accuracy holds "
        f"{_where(_holds(get, 'rule_keeps_accuracy'))} "
        f"({link('04', 'prune_bert')}, {link('05', 'prune_gpt2')}).",
        "5. **What pruning buys.** "
        + (f"With half its FFN neurons physically removed the encoder runs {speed:.2f}x faster. " if speed else "")
        + (f"With a better importance score and a least-squares refit of what is left, removing 70% of the neurons, "
           f"the encoder {_loss(get, 'refit_keeps_accuracy', 'encoder')} and the decoder "
           f"{_loss(get, 'refit_keeps_accuracy', 'decoder')} " if get(keys.claim('refit_keeps_accuracy', 'decoder',
                                                                               'ci_low')) is not None else "")
        + f"({link('06', 'importance_scores')}).",
    ]


def headline_markdown(profile: str = "default") -> str:
    """The README's first screen for ``profile``: how to read it, then the five findings and the paper's Figure 4."""
    get = claims.ledger_values(summary.read(profile)).get
    if get(keys.claim("late_decision", "encoder", "verdict")) is None:
        return "(Run `make` to fill this section.)"
    return "\n".join([READING, "", *findings(get, f"notebooks/executed/{profile}"), "",
                      f"![The paper's Figure 4 on this study's encoder](figures/{profile}/figure4_accuracy.png)"])
