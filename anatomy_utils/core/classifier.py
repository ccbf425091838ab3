"""The paper's sentiment classifier: a transformer body, then dropout, a dense layer and a sigmoid on the target token.

One code path for encoders and decoders: the family adapter says which token is the target.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from ..base.data import check_reviews
from .families import family_of, ffn_widths, head_groups, remove_heads, remove_neurons, target_index
from ..base.cache import seal
from ..base.runtime import progress

if TYPE_CHECKING:  # annotations only: a profile's code does not decide what this module computes
    from ..base.profiles import ModelConfig


class SentimentClassifier(nn.Module):
    """Body -> target token of the last layer -> dropout -> head (a linear layer) -> one logit (sigmoid gives
    P(positive))."""

    def __init__(self, body: nn.Module, dropout: float):
        super().__init__()
        self.body = body
        self.family = family_of(body)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(body.config.hidden_size, 1)

    def target_states(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pick the target token (CLS or last real token) of ``hidden`` ``(batch, seq, dim)``."""
        index = target_index(attention_mask, self.family.target)
        return hidden[torch.arange(hidden.shape[0]), index]

    def logit(self, states: torch.Tensor) -> torch.Tensor:
        """The positive-class logit of target states ``(..., dim)``: dropout, then the head."""
        return self.head(self.dropout(states)).squeeze(-1)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.logit(self.target_states(hidden, attention_mask))


@dataclass
class Encoded:
    """Tokenized reviews, unpadded, with their labels."""

    ids: list[list[int]]
    labels: np.ndarray

    def batch(self, rows, pad_id: int, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Dynamic padding (right side) of the chosen rows, on ``device``."""
        longest = max(len(self.ids[r]) for r in rows)
        input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, : len(self.ids[r])] = torch.tensor(self.ids[r])
            mask[i, : len(self.ids[r])] = 1
        return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}


def encode(tokenizer: PreTrainedTokenizerBase, texts, labels, max_tokens: int, truncation: str = "right") -> Encoded:
    """Tokenize reviews; longer ones are cut to ``max_tokens`` at the ``truncation`` end (documented, not an error)."""
    texts, labels = list(texts), list(labels)
    check_reviews(texts, labels)
    tokenizer.truncation_side = truncation
    ids = tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]
    return Encoded(ids, np.asarray(labels, dtype=np.int64))


def set_trainable(clf: SentimentClassifier, top_layers: int | None) -> None:
    """Fine-tune everything, or only the top ``top_layers`` layers, the final norm and the head."""
    if top_layers is None:
        clf.requires_grad_(True)
        return
    clf.body.requires_grad_(False)
    layers = clf.family.layers(clf.body)
    for layer in list(layers)[len(layers) - top_layers :]:
        layer.requires_grad_(True)
    norm = clf.family.final_norm(clf.body)
    if norm is not None:
        norm.requires_grad_(True)


def train(clf: SentimentClassifier, data: Encoded, cfg: ModelConfig, pad_id: int, seed: int) -> list[dict]:
    """AdamW, linear warm-up then linear decay, gradient clipping, seeded shuffling; bf16 autocast on CUDA. Returns
    the loss history."""
    set_trainable(clf, cfg.train_top_layers)
    params = [p for p in clf.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(data.ids) / cfg.batch_size)
    warmup = max(1, int(cfg.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    rng = np.random.default_rng(seed)
    loss_fn = nn.BCEWithLogitsLoss()
    history, step = [], 0
    clf.train()
    bar = progress(total=steps, desc="fine-tuning")
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(data.ids))
        for start in range(0, len(order), cfg.batch_size):
            rows = order[start : start + cfg.batch_size]
            labels = torch.tensor(data.labels[rows], dtype=torch.float32, device=clf.device)
            with torch.autocast(clf.device.type, dtype=torch.bfloat16, enabled=clf.device.type == "cuda"):
                logits = clf(**data.batch(rows, pad_id, clf.device)).float()
            loss = loss_fn(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            schedule.step()
            step += 1
            correct = ((logits > 0).long() == labels.long()).float().mean().item()
            history.append({"step": step, "epoch": epoch + step / steps, "loss": loss.item(), "accuracy": correct,
                            "lr": schedule.get_last_lr()[0]})
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    clf.eval()
    return history


@torch.no_grad()
def predict(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int) -> np.ndarray:
    """Positive-class logits in input order (batches are formed by length to waste little padding)."""
    clf.eval()
    order = np.argsort([len(x) for x in data.ids], kind="stable")
    logits = np.empty(len(order), dtype=np.float32)
    for start in progress(range(0, len(order), batch_size), desc="predicting"):
        rows = order[start : start + batch_size]
        logits[rows] = clf(**data.batch(rows, pad_id, clf.device)).float().cpu().numpy()
    return logits


def evaluate(clf: SentimentClassifier, data: Encoded, pad_id: int, batch_size: int) -> dict:
    """Accuracy, loss, confusion matrix ``[[tn, fp], [fn, tp]]`` and throughput."""
    start = time.perf_counter()
    logits = predict(clf, data, pad_id, batch_size)
    seconds = time.perf_counter() - start
    predicted = (logits > 0).astype(np.int64)
    loss = nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(logits),
                                                          torch.from_numpy(data.labels).float())
    confusion = [[int(((data.labels == t) & (predicted == p)).sum()) for p in (0, 1)] for t in (0, 1)]
    return {"accuracy": float((predicted == data.labels).mean()), "loss": float(loss), "confusion": confusion,
            "examples_per_s": len(logits) / seconds, "seconds": seconds, "n": len(logits)}


def save_classifier(clf: SentimentClassifier, tokenizer: PreTrainedTokenizerBase, folder: Path, meta: dict) -> None:
    """An ordinary folder: body/ (save_pretrained), tokenizer/, head.safetensors, meta.json, and the checksums of them
    all. Written atomically."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # left by an interrupted run
    meta = meta | {"ffn_widths": ffn_widths(clf.body), "head_groups": head_groups(clf.body)}  # per layer, pruned or not
    clf.body.save_pretrained(tmp / "body")
    tokenizer.save_pretrained(tmp / "tokenizer")
    save_file({k: v.contiguous() for k, v in clf.head.state_dict().items()}, tmp / "head.safetensors")
    (tmp / "meta.json").write_text(json.dumps({**meta, "dropout": clf.dropout.p}, indent=1))
    seal(tmp)
    tmp.rename(folder)


def load_classifier(folder: Path,
                    device: torch.device | str = "cpu") -> tuple[SentimentClassifier, PreTrainedTokenizerBase, dict]:
    """Load what ``save_classifier`` wrote (onto ``device``); needs nothing but this package."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    config = AutoConfig.from_pretrained(folder / "body")
    body = AutoModel.from_config(config, dtype=torch.float32)
    widths = meta.get("ffn_widths", ffn_widths(body))  # an unpruned folder: the widths its config builds
    remove_neurons(body, {layer: torch.arange(w) for layer, w in enumerate(widths)})  # shape the FFNs as saved
    remove_heads(body, {layer: torch.arange(g) for layer, g in enumerate(meta.get("head_groups", head_groups(body)))})
    body.load_state_dict(load_file(folder / "body" / "model.safetensors"))
    clf = SentimentClassifier(body, meta["dropout"])
    clf.head.load_state_dict(load_file(folder / "head.safetensors"))
    clf.to(device).eval()
    return clf, AutoTokenizer.from_pretrained(folder / "tokenizer"), meta


def footprint(clf: SentimentClassifier, folder: Path | None = None) -> dict:
    """Parameter count, and the size on disk of a saved folder."""
    size = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) if folder else None
    return {"parameters": sum(p.numel() for p in clf.parameters()), "bytes_on_disk": size}
