"""What 01 reports of the fine-tuned models: its tables and its summary keys. Kept apart from ``finetune`` so that
rewording a table or a key changes no checkpoint's cache key (``finetune.TRAINING_CODE`` is what trains)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..base import keys

if TYPE_CHECKING:
    from ..base.profiles import Profile


def results_table(profile: Profile, metas: dict[str, dict]) -> pd.DataFrame:
    """Rounded, deterministic results per model (timings are in ``timing_table``)."""
    rows = []
    for role, meta in metas.items():
        cfg, metrics = meta["config"], meta["metrics"]
        rows.append({"role": role, "model": cfg["model"], "train": cfg["train_examples"],
                     "validation": metrics["validation"]["n"], "test": metrics["test"]["n"],
                     "max_tokens": cfg["max_tokens"], "epochs": cfg["epochs"],
                     "val_accuracy": round(metrics["validation"]["accuracy"], 3),
                     "test_accuracy": round(metrics["test"]["accuracy"], 3),
                     "reference_accuracy": getattr(profile.reference, role)})
    return pd.DataFrame(rows).set_index("role")


def timing_table(metas: dict[str, dict]) -> pd.DataFrame:
    """Training minutes and test throughput: machine-dependent, so kept apart from the checked table."""
    return pd.DataFrame({role: {"train_minutes": round(m["train_seconds"] / 60, 1),
                                "test_examples_per_s": round(m["metrics"]["test"]["examples_per_s"], 1)}
                         for role, m in metas.items()}).T


def build_minutes(meta: dict) -> float:
    """Minutes it took to fine-tune and evaluate a checkpoint: what a cold run spends on it."""
    return (meta["train_seconds"] + sum(m["seconds"] for m in meta["metrics"].values())) / 60


def summary_values(metas: dict[str, dict]) -> dict:
    """01's keys of ``summary.json``."""
    values = {}
    for role, meta in metas.items():
        config, metrics = meta["config"], meta["metrics"]
        values |= {keys.finetune(role, "model"): config["model"],
                   keys.finetune(role, "test_accuracy"): metrics["test"]["accuracy"],
                   keys.finetune(role, "validation_accuracy"): metrics["validation"]["accuracy"],
                   keys.finetune(role, "train_minutes"): meta["train_seconds"] / 60,
                   keys.finetune(role, "cached"): meta["cached"],
                   keys.finetune(role, "build_minutes"): build_minutes(meta),
                   keys.finetune(role, "max_tokens"): config["max_tokens"],
                   keys.finetune(role, "code_fingerprint"): meta["code_fingerprint"]}
    tokens = [m["config"]["max_tokens"] for m in metas.values()]  # one number, or "encoder/decoder" when they differ
    values[keys.finetune("max_tokens")] = tokens[0] if len(set(tokens)) == 1 else "/".join(map(str, tokens))
    return values
