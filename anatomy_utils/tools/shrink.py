"""One call to prune a fine-tuned classifier without training: score its FFN neurons (and, with ``heads=True``, its
attention heads) on a few texts, keep the best under one global budget, refit what is left by least squares, and get
the physically smaller model back. Save it with ``classifier.save_classifier``; ``classifier.load_classifier`` reloads
it, smaller widths included."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core import heads as attention_heads, importance
from ..core.classifier import SentimentClassifier, encode, load_classifier, predict
from ..core.families import ffn_widths, head_groups
from ..core.refit import Refit

NEEDS_PROBES = ("cosine", "mirror")  # scores that read 03's probe cosines, which a plain call does not have


def _check(tokenizer, score: str, sparsity: float, heads: bool) -> None:
    """A clear error for a call ``shrink`` cannot serve."""
    if tokenizer is None:
        raise ValueError("Pass the model's tokenizer (or a folder, which holds it).")
    if heads and score != "taylor":
        raise ValueError(f"heads=True scores heads and neurons by their Fisher information (score 'taylor'), "
                         f"not {score!r}.")
    if score in NEEDS_PROBES or score not in importance.SCORES:
        usable = [s for s in importance.SCORES if s not in NEEDS_PROBES]
        raise ValueError(f"Score {score!r} cannot run from texts alone; use one of {usable}.")
    if not 0 < sparsity < 1:
        raise ValueError(f"sparsity must be in (0, 1), got {sparsity}.")


def shrink(model: SentimentClassifier | str | Path, texts: list[str], sparsity: float, tokenizer=None, labels=None, *,
           score: str = "taylor", ridge: float = 0.01, floor: float = 0.05, max_tokens: int | None = None,
           truncation: str | None = None, batch_size: int = 16,
           heads: bool = False) -> tuple[SentimentClassifier, object, dict]:
    """Remove ``sparsity`` of the FFN neurons of ``model`` (a classifier, or a folder ``save_classifier`` wrote) and
    refit the rest on ``texts`` (training texts, a few dozen to a few hundred). ``labels`` default to the model's own
    predictions. ``heads=True`` removes the same forward FLOPs from attention heads and neurons together (Kwon et
    al.'s search on Fisher scores, the ``taylor`` score; FLOPs at the texts' longest length). ``max_tokens`` and
    ``truncation`` default to those the model was trained with (a folder's ``meta.json``), else 256 and the
    tokenizer's side. Returns the smaller model, its tokenizer, and what was done: widths, head groups, the encoding,
    seconds, refused layer fits."""
    meta = {}
    if isinstance(model, (str, Path)):
        model, tokenizer, meta = load_classifier(Path(model))
    _check(tokenizer, score, sparsity, heads)
    model.eval()
    trained = meta.get("config", {})  # how fine-tuning encoded (a folder's meta.json)
    max_tokens = max_tokens or trained.get("max_tokens") or 256
    truncation = truncation or trained.get("truncation") or tokenizer.truncation_side
    data = encode(tokenizer, texts, np.zeros(len(texts), dtype=np.int64), max_tokens, truncation)
    data.labels = (predict(model, data, tokenizer.pad_token_id, batch_size) > 0).astype(np.int64) if labels is None \
        else np.asarray(labels, dtype=np.int64)
    widths, refit = ffn_widths(model.body), Refit(data, tokenizer.pad_token_id, batch_size, ridge)
    if heads:
        head_scores, values = attention_heads.fisher(model, data, tokenizer.pad_token_id, batch_size)
        tokens = max(map(len, data.ids))
        keep_heads, keep = attention_heads.search(head_scores, values, attention_heads.unit_flops(model.body, tokens),
                                                  attention_heads.budget(model.body, sparsity, tokens), floor)
        smaller, info = attention_heads.pruned(model, keep_heads, keep, refit)
    else:
        values = importance.SCORES[score](importance.ScoreInputs(model, data, tokenizer.pad_token_id, batch_size,
                                                                 np.zeros((len(widths), max(widths)))))
        keep = importance.keep_top(values, importance.kept_counts(values, sparsity, "global", floor))
        smaller, info = refit.apply(model, keep)
    return smaller, tokenizer, {"score": score, "sparsity": sparsity, "widths": ffn_widths(smaller.body),
                                "head_groups": head_groups(smaller.body), "max_tokens": max_tokens,
                                "truncation": truncation, "seconds": info["seconds"],
                                "fell_back": info["fell_back"]}
