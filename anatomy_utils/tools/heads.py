"""``make heads``: attention heads pruned beside FFN neurons, against the neurons alone at the same FLOPs.

For each fine-tuned model of a profile and each of ``scores.refit_sparsities``: the neurons alone (Fisher scores,
one global budget, each layer keeping ``scores.floor`` of its neurons, refitted: 06's "taylor, global + refit") and
Kwon et al.'s search over key/value groups and neurons together at the same forward FLOPs (each layer keeping a group
and the same floor of neurons; the kept neurons refitted the same way on the head-pruned model). Both are measured on
06's confirmation reviews against dense and against each other (paired, Tango 95%), and timed with 06's protocol
(``score_study.speed``: an A/A pair of dense copies, rounds in random orders). Writes ``figures/<profile>/heads.json``.

    python -m anatomy_utils.tools.heads [PROFILE] [--roles encoder decoder]

Needs the profile's fine-tuned checkpoints (``make PROFILE=...`` runs 01 first).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from .. import stats
from ..base.cache import atomic_write_bytes
from ..base.profiles import load_profile
from ..base.runtime import FIGURES, setup
from ..core import heads, importance
from ..core.classifier import predict
from ..core.families import ffn_widths, head_groups
from ..core.refit import Refit
from ..study import score_study, speed_study
from ..study.finetune import load_trained
from ..study.predictions import Store


def compare(profile, role: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """One row per sparsity and arm (``neurons``, ``heads + neurons``): what was removed, accuracy on the
    confirmation reviews, its drop from dense, the extra drop of the joint search over the neurons alone, the
    seconds it took (the Fisher pass included) and the layer fits refused (FFN, attention); and the speed table of both
    arms. None when the profile sets no confirmation reviews."""
    clf, tokenizer, _ = load_trained(profile, role)
    unseen = score_study.confirmation_reviews(profile, role, tokenizer)
    if unseen is None:
        return None
    data, pad, batch = unseen[1], tokenizer.pad_token_id, getattr(profile, role).eval_batch_size
    dense = Store(profile.name, role, clf, pad, batch).run("dense", "confirm", data).correct
    refit = Refit(score_study.calibration(profile, role, tokenizer, profile.scores.refit_examples), pad, batch,
                  profile.scores.refit_ridge)
    started = time.perf_counter()
    head_scores, neuron_scores = heads.fisher(clf, score_study.calibration(profile, role, tokenizer), pad, batch)
    scoring = time.perf_counter() - started
    tokens = speed_study.timing_tokens(profile, role)
    costs, floor = heads.unit_flops(clf.body, tokens), profile.scores.floor
    rows, timed = [], {}
    for sparsity in profile.scores.refit_sparsities:
        alone = importance.keep_top(neuron_scores, importance.kept_counts(neuron_scores, sparsity, "global", floor))
        arms = {"neurons": ({i: np.arange(g) for i, g in enumerate(head_groups(clf.body))}, alone),
                "heads + neurons": heads.search(head_scores, neuron_scores, costs,
                                                heads.budget(clf.body, sparsity, tokens), floor)}
        correct = {}
        for arm, (keep_heads, keep_neurons) in arms.items():
            model, info = heads.pruned(clf, keep_heads, keep_neurons, refit)
            correct[arm] = ((predict(model, data, pad, batch) > 0) == data.labels).astype(float)
            timed[f"{arm}, {sparsity:.0%}"] = heads.pruned(clf, keep_heads, keep_neurons)[0]  # same shapes: its speed
            rows.append({"sparsity": sparsity, "arm": arm} | _removed(clf, keep_heads, keep_neurons)
                        | {"accuracy": correct[arm].mean(), "n": len(dense)}
                        | _drop(dense, correct[arm], "drop", "drop")
                        | {"prune_seconds": scoring + info["seconds"], "fell_back": len(info["fell_back"]),
                           "attention_fell_back": len(info.get("attention_fell_back", []))})
        rows[-1] |= _drop(correct["neurons"], correct["heads + neurons"], "extra_drop", "extra")
    speed = score_study.speed(profile, role, clf, timed, tokenizer)
    return pd.DataFrame(rows), speed


def _removed(clf, keep_heads: dict, keep_neurons: dict) -> dict:
    return {"heads_removed": 1 - sum(map(len, keep_heads.values())) / sum(head_groups(clf.body)),
            "neurons_removed": 1 - sum(map(len, keep_neurons.values())) / sum(ffn_widths(clf.body))}


def _drop(before: np.ndarray, after: np.ndarray, name: str, interval: str) -> dict:
    """``before`` minus ``after`` on the same reviews (Tango 95%), as ``<name>`` and ``<interval>_ci_low|high``."""
    pair = stats.matched_pairs(before, after)
    return {name: pair["delta"], f"{interval}_ci_low": pair["ci_low"], f"{interval}_ci_high": pair["ci_high"]}


def values(role: str, table: pd.DataFrame, speed: pd.DataFrame) -> dict:
    """``<role>.<arm>.p<NN>.<quantity>`` for heads.json."""
    out = {}
    for row in table.itertuples():
        key = f"{role}.{row.arm.replace(' + ', '_and_')}.p{round(100 * row.sparsity)}"
        out |= {f"{key}.{k}": float(v) for k, v in row._asdict().items() if k not in ("Index", "arm") and pd.notna(v)}
        timing_row = speed.loc[f"{row.arm}, {row.sparsity:.0%}"]
        out |= {f"{key}.{k}": float(timing_row[k]) for k in ("speedup", "speedup_ci_low", "speedup_ci_high", "ceiling")}
        out[f"{key}.aa_gate_passed"] = bool(timing_row["aa_gate_passed"])
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", nargs="?", default="default")
    parser.add_argument("--roles", nargs="+", default=["encoder", "decoder"], choices=["encoder", "decoder"])
    args = parser.parse_args(argv)
    profile = load_profile(args.profile)
    setup(profile.seed, profile.threads)
    results = {}
    for role in args.roles:
        print(f"{role}: Fisher scores, then each arm refitted, measured on the confirmation reviews and timed ...",
              flush=True)
        compared = compare(profile, role)
        if compared is None:
            print(f"{role}: the profile sets no confirmation reviews; nothing to compare")
            continue
        table, speed = compared
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(f"\n{role}:\n{table.round(4).to_string(index=False)}\n\n{speed.round(3).to_string()}")
        results |= values(role, table, speed)
    path = FIGURES / profile.name / "heads.json"
    atomic_write_bytes(path, (json.dumps(results, indent=1, sort_keys=True) + "\n").encode())
    print(f"\nwrote {path}")
    return results


if __name__ == "__main__":
    main()
