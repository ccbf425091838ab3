"""Fine-tune the profile's models once and cache the checkpoints, keyed by everything that made them."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..core.classifier import SentimentClassifier, encode, evaluate, load_classifier, save_classifier, train
from ..base.data import load_splits, split_meta
from ..core.models import load_body
from ..base.cache import CACHE, code_fingerprint, discard_if_damaged, intact, json_digest
from ..base.runtime import device

if TYPE_CHECKING:  # annotations only: a profile's code does not decide what this module computes
    from ..base.profiles import Profile


TRAINING_CODE = ("study.finetune",)  # with all it imports (base.cache.closure): what decides a checkpoint


def checkpoint_dir(profile: Profile, role: str) -> Path:
    """Cache folder of one fine-tuned model; its name changes whenever an input of the training changes: the model's
    parameters, the seed, the split, the training code and the torch / transformers versions."""
    cfg = getattr(profile, role)
    key = {"model": dataclasses.asdict(cfg), "seed": profile.seed,
           "split": split_meta(profile.data, profile.seed)["fingerprint"], "code": code_fingerprint(*TRAINING_CODE)}
    return CACHE / profile.name / "checkpoints" / f"{role}-{cfg.model}-{json_digest(key)}"


def encoded_split(profile: Profile, role: str, tokenizer, split: str, limit: int | None = None,
                  max_tokens: int | None = None):
    """One split of the profile's data, tokenized the way ``role``'s model was trained (or to ``max_tokens``)."""
    rows = load_splits(profile.data, profile.seed)[split]
    if limit is not None:
        rows = rows.select(range(min(limit, len(rows))))
    cfg = getattr(profile, role)
    return encode(tokenizer, rows["text"], rows["label"], max_tokens or cfg.max_tokens, cfg.truncation)


def fine_tune(profile: Profile, role: str) -> tuple[SentimentClassifier, object, dict]:
    """Train ``role`` ("encoder" or "decoder") unless its checkpoint is cached; evaluate on validation and test."""
    folder = checkpoint_dir(profile, role)
    if discard_if_damaged(folder, f"{role} checkpoint"):
        clf, tokenizer, meta = load_classifier(folder, device(profile.device))
        return clf, tokenizer, meta | {"cached": True}
    cfg = getattr(profile, role)
    torch.manual_seed(profile.seed)
    body, tokenizer = load_body(cfg.model, cfg.attention_dropout)
    clf = SentimentClassifier(body, cfg.dropout).to(device(profile.device))
    started = time.perf_counter()
    history = train(clf, encoded_split(profile, role, tokenizer, "train", cfg.train_examples), cfg,
                    tokenizer.pad_token_id, profile.seed)
    train_seconds = time.perf_counter() - started
    metrics = {split: evaluate(clf, encoded_split(profile, role, tokenizer, split), tokenizer.pad_token_id,
                               cfg.eval_batch_size) for split in ("validation", "test")}
    meta = {"profile": profile.name, "role": role, "config": dataclasses.asdict(cfg),
            "code_fingerprint": code_fingerprint(*TRAINING_CODE),
            "split": split_meta(profile.data, profile.seed), "train_seconds": train_seconds, "metrics": metrics,
            "history": history}
    save_classifier(clf, tokenizer, folder, meta)
    clf, tokenizer, meta = load_classifier(folder, device(profile.device))
    return clf, tokenizer, meta | {"cached": False}


def load_trained(profile: Profile, role: str) -> tuple[SentimentClassifier, object, dict]:
    """The fine-tuned model of ``role``; a clear error if 01_finetune has not produced it yet."""
    folder = checkpoint_dir(profile, role)
    if not folder.exists() or not intact(folder):
        raise FileNotFoundError(
            f"No intact fine-tuned {role} for profile {profile.name!r} at {folder} (missing, damaged, or made by other "
            f"code). Run `make PROFILE={profile.name}` (01_finetune trains and caches it)."
        )
    return load_classifier(folder, device(profile.device))
