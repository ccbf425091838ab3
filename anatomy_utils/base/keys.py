"""The schema of ``figures/<profile>/summary.json``: every dotted key is built by one of these functions.

A key is an area, then who it is about (a role, a claim, a notebook), then what: ``prune.encoder.p50.random_spread``
is ``prune("encoder", percent(0.5), "random_spread")``. Writers and readers call the same function, so a key cannot be
spelt two ways; ``tests/test_summary_keys.py`` checks that no other module and no notebook spells one out and that
every key a reader asks for is written by some run."""
from __future__ import annotations


def percent(sparsity: float) -> str:
    """How a sparsity appears in a key: ``0.5`` -> ``"p50"``."""
    return f"p{round(100 * sparsity)}"


def under(key: str) -> str:
    """The prefix every key below ``key`` starts with (``under(claim())`` is ``"claims."``)."""
    return f"{key}."


def _key(area: str, parts: tuple) -> str:
    return ".".join((area, *map(str, parts)))


def finetune(*parts) -> str:
    """01: the fine-tuned models (``finetune.<role>.test_accuracy``)."""
    return _key("finetune", parts)


def data(*parts) -> str:
    """The splits' sizes and source (``data.test``)."""
    return _key("data", parts)


def reference(*parts) -> str:
    """The published accuracy each model is held against (``reference.<role>``, ``reference.source``)."""
    return _key("reference", parts)


def anatomy(*parts) -> str:
    """02-03: the lens and the neurons (``anatomy.<role>.decision_layer``)."""
    return _key("anatomy", parts)


def evaluation(*parts) -> str:
    """How many examples 04-06 compare on (``eval.<role>.test_reviews``)."""
    return _key("eval", parts)


def prune(*parts) -> str:
    """04-05: the paper's rule against random masks and dense (``prune.<role>.p50.rule_vs_random.verdict``)."""
    return _key("prune", parts)


def timing(*parts) -> str:
    """04-06: timed speed-ups (``timing.<role>.p50.removed_ratio``)."""
    return _key("timing", parts)


def scores(*parts) -> str:
    """06: importance scores, the chosen setting, its confirmation and the refit (``scores.<role>.best.score``)."""
    return _key("scores", parts)


def seeds(*parts) -> str:
    """07: each claim across fine-tuning seeds (``seeds.<claim>.<role>.stable``)."""
    return _key("seeds", parts)


def claim(*parts) -> str:
    """08: the ledger (``claims.<claim>.<role>.verdict``)."""
    return _key("claims", parts)


def pilot_claim(*parts) -> str:
    """08: the pilot's ledger, from the exploratory runs (``pilot.claims.<claim>.<role>.verdict``)."""
    return _key("pilot.claims", parts)


def registration(*parts) -> str:
    """The confirmation's design and run (``registration.sha256``, ``registration.expected_decided``)."""
    return _key("registration", parts)


def finding(*parts) -> str:
    """A notebook's conclusion in words (``findings.<notebook>.<role>``)."""
    return _key("findings", parts)


def run(*parts) -> str:
    """Which commit and code made the summary, cold or not, in how many minutes (``run.wall_minutes``)."""
    return _key("run", parts)


def runtime(*parts) -> str:
    """Minutes per notebook (``runtime.notebooks.<notebook>.minutes``)."""
    return _key("runtime", parts)


def env(*parts) -> str:
    """The machine and library versions (``env.cpu_model``)."""
    return _key("env", parts)


# every key's first part: what the guard looks for elsewhere
AREAS = ("finetune", "data", "reference", "anatomy", "eval", "prune", "timing", "scores", "seeds", "claims", "pilot",
         "registration", "findings", "run", "runtime", "env")
