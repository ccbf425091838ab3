"""The profile's models fine-tuned again with another training seed, for the seed study (07)."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..base.cache import code_fingerprint, discard_if_damaged, json_digest
from ..core.classifier import SentimentClassifier, load_classifier, save_classifier, train
from .finetune import checkpoint_dir, encoded_split, load_trained
from ..core.models import load_body
from ..base.runtime import device

if TYPE_CHECKING:  # annotations only: a profile's code does not decide what this module computes
    from ..base.profiles import Profile

SEED_CODE = ("study.reseed",)  # with all it imports, 01's training code included: what decides a reseeded checkpoint


def checkpoint(profile: Profile, role: str, seed: int) -> Path:
    """Cache folder of ``role`` trained with ``seed``: 01's own for the profile's seed, else a sibling named after 01's
    checkpoint key, the seed and this module's code."""
    base = checkpoint_dir(profile, role)
    if seed == profile.seed:
        return base
    key = {"checkpoint": base.name, "seed": seed, "code": code_fingerprint(*SEED_CODE)}
    return base.with_name(f"{base.name}-seed{seed}-{json_digest(key)}")


def fine_tuned(profile: Profile, role: str, seed: int) -> tuple[SentimentClassifier, object, dict]:
    """``role`` fine-tuned as 01 does it, except that ``seed`` (not the profile's) initialises the head and orders the
    training reviews and dropout; the split stays the profile's. The profile's own seed is 01's checkpoint; the others
    are trained once and cached (meta: ``train_seconds``)."""
    if seed == profile.seed:
        return load_trained(profile, role)
    folder = checkpoint(profile, role, seed)
    if not discard_if_damaged(folder, f"{role} checkpoint of seed {seed}"):
        cfg = getattr(profile, role)
        torch.manual_seed(seed)
        body, tokenizer = load_body(cfg.model, cfg.attention_dropout)
        clf = SentimentClassifier(body, cfg.dropout).to(device(profile.device))
        started = time.perf_counter()
        history = train(clf, encoded_split(profile, role, tokenizer, "train", cfg.train_examples), cfg,
                        tokenizer.pad_token_id, seed)
        save_classifier(clf, tokenizer, folder, {"profile": profile.name, "role": role, "seed": seed,
                                                 "config": dataclasses.asdict(cfg), "history": history,
                                                 "train_seconds": time.perf_counter() - started})
    return load_classifier(folder, device(profile.device))
