"""Speed of pruned models (Figures 4-1 / 5-1): dense, zeroed and removed FFN neurons timed with controls.

One call, ``speed``, times on one fixed batch, with ``timing.measure``'s protocol (separate deep copies, an A/A pair of
dense copies, warm-up, rounds in fresh random orders, per-round ratios to dense copy A, medians with bootstrap
intervals, the A/A gate):

* dense copies A and B (the A/A control: the same model, so the same time, within the noise);
* the paper's zeroed weights at the largest sparsity (the same shapes, so the same FLOPs as dense: a second control);
* per sparsity, the neurons removed, at the rule's own widths and at widths rounded to a multiple (``rounded_keeps``);
* the model with every FFN bypassed (``timing.ffn_bypassed``): the FFNs' measured share of the forward time.

Two ceilings per sparsity: the FLOP ratio (``timing.speedup_ceiling``) and the measured-time bound
1 / (1 - f * s_t) (``timing.time_ceiling``), s_t the FFNs' share of the time. Times are also given in the paper's unit,
seconds per 1,000 reviews of the timed length.

Threads: timing runs on ``THREADS`` = 1 torch thread (restored after), in the notebook's own process. On the 2-vCPU
machine of the default profile two threads leave no core for the kernel, the notebook and everything else, and one
interruption stalls the whole matrix product; one thread leaves a core to absorb them. Measured on that machine (1
thread, 20 rounds): the A/A interval lies inside 1 +- 0.02 for MiniLM (pre-trained, 4 x 256 tokens: 0.996 [0.987,
1.007]; fine-tuned in 04: 0.993 [0.984, 1.019]), so no separate process is needed.

Budget (default profile, 2-vCPU AMD EPYC, AVX2, 1 thread): a forward pass takes about 0.18 s per MiniLM review of 256
tokens and about 1 s per SmolLM2 review of 128 tokens (measured on a slow day of that VM; the profiles were sized on
one about 3x faster); the protocol makes a warm-up and 20 rounds of 8 variants (dense A, dense B, zeroed, removed and
rounded at two sparsities, FFNs bypassed) that average about 0.8 of a dense call, each round ``timing.MIN_SWEEPS`` = 3
sweeps or more (at least ``timing.MIN_BLOCK`` = 0.5 s of dense calls). With ``prune.timing_batch: 1`` (one review per
call) that counts to about 1.5 minutes for the encoder and 7 for the decoder at those speeds (an estimate from this
count, not yet a measured run; over a 5-minute budget for the two); a review of 128-256 tokens already makes every
matrix product 128-256 rows tall, the compute-bound regime that larger batches stay in, so the ratios are those of
batched inference.
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import pandas as pd
import torch

from ..base import keys, paper
from ..core import models, pruning, timing
from ..core.families import ffn_widths
from .finetune import encoded_split
from ..base.profiles import Profile

THREADS = 1  # torch intra-op threads while timing (see the module docstring)
FRESH_COPIES = True  # new deep copies of every variant each round (``timing.measure``)
ZEROED, REMOVED, ROUNDED, BYPASS = "zeroed", "removed", "rounded", "FFN bypassed"
AA = "dense B (A/A)"


def timing_tokens(profile: Profile, role: str) -> int:
    """Tokens per timed review: ``prune.timing_tokens``, but never more than the role reads (its ``max_tokens``),
    so the timed shapes are those of the model's own test batches (the decoder reads 128 tokens in the default)."""
    return min(profile.prune.timing_tokens, getattr(profile, role).max_tokens)


def rule_priority(similarity: np.ndarray, one_sided: np.ndarray) -> dict[int, np.ndarray]:
    """The paper rule's order of survival per layer, from the per-neuron similarity ``(layers, neurons)``: it prunes
    ``|s| < t`` (two-sided layers) or ``s < t`` (one-sided), so a neuron with a larger ``|s|`` (or ``s``) is kept first.
    ``rounded_keeps`` grows or trims a layer's keep-set in this order."""
    return {layer: (s if single else np.abs(s)) for layer, (s, single) in enumerate(zip(similarity, one_sided))}


def rounded_count(kept: int, width: int, multiple: int) -> int:
    """``kept`` rounded to the nearest multiple (halves up), at least one multiple, at most the layer's width; an
    emptied layer stays empty."""
    if kept == 0 or multiple <= 1:
        return kept
    return min(width, max(multiple, multiple * math.floor(kept / multiple + 0.5)))


def rounded_keeps(keep: dict[int, torch.Tensor], widths: list[int], multiple: int,
                  priority: dict[int, np.ndarray] | None = None) -> dict[int, torch.Tensor]:
    """A keep-set with every layer's count rounded to a multiple of ``multiple`` (``rounded_count``), by the same rule:
    trimming drops the kept neurons of lowest ``priority`` first, growing re-admits the pruned neurons of highest
    ``priority`` first (``rule_priority`` gives the paper rule's). Without a priority, the index order stands in
    (trim the highest kept indices, re-admit the lowest pruned ones): the widths, all that timing needs, are the same;
    the accuracy of such keep-sets is not the rule's. Deterministic: the lead recomputes the same sets for accuracy."""
    rounded = {}
    for layer, kept in keep.items():
        kept = np.sort(np.asarray(kept, dtype=np.int64))
        width = widths[layer]
        count = rounded_count(len(kept), width, multiple)
        pruned = np.setdiff1d(np.arange(width), kept)
        score = np.asarray(priority[layer], dtype=float) if priority is not None else -np.arange(width, dtype=float)
        if count <= len(kept):
            chosen = kept[np.argsort(-score[kept], kind="stable")[:count]]
        else:
            chosen = np.concatenate([kept, pruned[np.argsort(-score[pruned], kind="stable")[: count - len(kept)]]])
        rounded[layer] = torch.from_numpy(np.sort(chosen))
    return rounded


def _pct(sparsity: float) -> str:
    return f"p{round(100 * sparsity)}"


def _finite(value):
    """A summary value: None instead of NaN or infinity."""
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _variants(clf, keeps: dict[float, dict], rounded: dict[float, dict]) -> tuple[dict, dict[float, bool]]:
    """The copies to time: zeroed at the largest sparsity, removed (and rounded, unless its widths are already on the
    multiple: then the removed model is timed once for both) per sparsity, and the FFN-bypassed model."""
    zero_at = max(keeps)
    variants = {f"{ZEROED} {zero_at:.0%}": pruning.zeroed_copy(clf, keeps[zero_at])}
    same_as_removed = {}
    for t in sorted(keeps):
        variants[f"{REMOVED} {t:.0%}"] = pruning.pruned_copy(clf, keeps[t])
        same_as_removed[t] = all(torch.equal(torch.as_tensor(keeps[t][layer]).long().sort().values,
                                             torch.as_tensor(rounded[t][layer]).long().sort().values)
                                 for layer in keeps[t])
        if not same_as_removed[t]:
            variants[f"{ROUNDED} {t:.0%}"] = pruning.pruned_copy(clf, rounded[t])
    variants[BYPASS] = timing.ffn_bypassed(clf)
    return variants, same_as_removed


def _table(clf, result: timing.Timing, keeps: dict, rounded: dict, same_as_removed: dict, ceilings: dict,
           reviews: int, multiple: int) -> pd.DataFrame:
    """One row per timed variant (the rounded row of a sparsity whose widths were on the multiple repeats the removed
    one): time per call and per 1,000 reviews, ratio to dense A with its interval and verdict, both ceilings."""
    widths, ratios, tolerance = ffn_widths(clf.body), result.summary["ratios"], result.summary["tolerance"]
    share = {k: timing.ffn_time_share(ratios[BYPASS][k]) for k in ("ratio", "ci_low", "ci_high")}

    def row(name: str, label: str, kind: str, sparsity, keep) -> dict:
        entry, seconds = ratios[name], result.median_seconds(name)
        body_widths = widths if keep is None else [len(keep.get(layer, range(w))) for layer, w in enumerate(widths)]
        fraction = 0.0 if keep is None else pruning.pruned_fraction(keep, widths)
        bounded = kind in (REMOVED, ROUNDED)
        return {"variant": label, "kind": kind, "sparsity": sparsity, "pruned_fraction": fraction,
                "widths": f"{min(body_widths)}-{max(body_widths)}", "seconds_per_call": seconds,
                "seconds_per_1000": 1000 * seconds / reviews, "speedup": entry["ratio"], "ci_low": entry["ci_low"],
                "ci_high": entry["ci_high"], "ceiling_flops": ceilings[name] if bounded else np.nan,
                **{f"ceiling_time{suffix}": timing.time_ceiling(fraction, share[k]) if bounded else np.nan
                   for suffix, k in (("", "ratio"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high"))},
                "verdict": timing.verdict(entry, result.gate_passed, tolerance)}

    zero_at = max(keeps)
    rows = [row(timing.DENSE_A, "dense A (reference)", "dense", 0.0, None) | {"verdict": "reference"},
            row(timing.DENSE_B, AA, "aa", 0.0, None),
            row(f"{ZEROED} {zero_at:.0%}", f"{ZEROED} {zero_at:.0%}", ZEROED, zero_at, keeps[zero_at])]
    for t in sorted(keeps):
        rows.append(row(f"{REMOVED} {t:.0%}", f"{REMOVED} {t:.0%}", REMOVED, t, keeps[t]))
        name = f"{REMOVED} {t:.0%}" if same_as_removed[t] else f"{ROUNDED} {t:.0%}"
        rows.append(row(name, f"{ROUNDED} {t:.0%} (x{multiple})", ROUNDED, t, rounded[t]))
    rows.append(row(BYPASS, BYPASS, "bypass", 1.0, None) | {"pruned_fraction": 1.0, "widths": "0-0"})
    table = pd.DataFrame(rows)
    table["over_ceiling_flops"] = table["speedup"] / table["ceiling_flops"]
    table["over_ceiling_time"] = table["speedup"] / table["ceiling_time"]
    return table


# Summary key suffixes per sparsity, from the removed and the rounded rows' columns.
REMOVED_KEYS = {"pruned_fraction": "pruned_fraction", "removed_ratio": "speedup", "removed_ci_low": "ci_low",
                "removed_ci_high": "ci_high", "removed_verdict": "verdict", "ceiling_flops": "ceiling_flops",
                "ceiling_time": "ceiling_time", "ceiling_time_ci_low": "ceiling_time_ci_low",
                "ceiling_time_ci_high": "ceiling_time_ci_high", "removed_over_ceiling": "over_ceiling_flops",
                "removed_over_ceiling_time": "over_ceiling_time", "removed_seconds_per_1000": "seconds_per_1000"}
ROUNDED_KEYS = {"rounded_ratio": "speedup", "rounded_ci_low": "ci_low", "rounded_ci_high": "ci_high",
                "rounded_pruned_fraction": "pruned_fraction", "rounded_ceiling_flops": "ceiling_flops",
                "rounded_over_ceiling": "over_ceiling_flops", "rounded_over_ceiling_time": "over_ceiling_time",
                "rounded_seconds_per_1000": "seconds_per_1000"}


def _values(table: pd.DataFrame, result: timing.Timing, key: str, same_as_removed: dict, multiple: int) -> dict:
    """The ``timing.<role>.*`` summary keys of one timed matrix."""
    rows = table.set_index("variant")
    zero_at = max(same_as_removed)
    zeroed, aa, dense, bypass = (rows.loc[label] for label in (f"{ZEROED} {zero_at:.0%}", AA, "dense A (reference)",
                                                               BYPASS))
    values = {f"{key}.aa_ratio": aa["speedup"], f"{key}.aa_ci_low": aa["ci_low"], f"{key}.aa_ci_high": aa["ci_high"],
              f"{key}.gate_passed": result.gate_passed, f"{key}.gate_tolerance": result.summary["tolerance"],
              f"{key}.zeroed_ratio": zeroed["speedup"], f"{key}.zeroed_ci_low": zeroed["ci_low"],
              f"{key}.zeroed_ci_high": zeroed["ci_high"], f"{key}.zeroed_verdict": zeroed["verdict"],
              f"{key}.zeroed_fraction": zeroed["pruned_fraction"],
              f"{key}.zeroed_seconds_per_1000": zeroed["seconds_per_1000"],
              f"{key}.dense_seconds_per_1000": dense["seconds_per_1000"],
              **{f"{key}.ffn_time_share{suffix}": timing.ffn_time_share(result.summary["ratios"][BYPASS][k])
                 for suffix, k in (("", "ratio"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high"))},
              f"{key}.threads": result.threads, f"{key}.device": result.device, f"{key}.calls_per_round": result.calls,
              f"{key}.round_to": multiple,
              f"{key}.aa_round_sd": float(np.std(np.log(result.summary["ratios"][timing.DENSE_B]["per_round"]),
                                                 ddof=1))}
    for t, same in same_as_removed.items():
        removed, rnd = rows.loc[f"{REMOVED} {t:.0%}"], rows.loc[f"{ROUNDED} {t:.0%} (x{multiple})"]
        k = f"{key}.{_pct(t)}"
        values |= {f"{k}.{name}": removed[column] for name, column in REMOVED_KEYS.items()}
        values |= {f"{k}.{name}": rnd[column] for name, column in ROUNDED_KEYS.items()}
        values[f"{k}.rounded_same_as_removed"] = same
    return values


@torch.no_grad()
def speed_on_batch(clf, batch: dict[str, torch.Tensor], keeps: dict[float, dict], role: str, rounds: int, *,
                   rounded: dict[float, dict] | None = None, multiple: int = 32, threads: int | None = THREADS,
                   seed: int = 0, calls: int | None = None, fresh: bool = FRESH_COPIES,
                   quiet: bool = False) -> tuple[pd.DataFrame, dict, bool]:
    """``speed`` on a given batch (no profile): see ``speed``."""
    started = time.perf_counter()
    tokens, reviews = batch["input_ids"].shape[1], batch["input_ids"].shape[0]
    if rounded is None:
        rounded = {t: rounded_keeps(keeps[t], ffn_widths(clf.body), multiple) for t in keeps}
    variants, same_as_removed = _variants(clf, keeps, rounded)
    clf.eval()
    on_device = {k: v.to(clf.device) for k, v in batch.items()}
    zero_at = max(keeps)
    max_diff = (variants[f"{ZEROED} {zero_at:.0%}"].eval()(**on_device)
                - variants[f"{REMOVED} {zero_at:.0%}"].eval()(**on_device)).abs().max().item()
    ceilings = {name: timing.speedup_ceiling(clf.body, model.body, tokens) for name, model in variants.items()
                if name.startswith((REMOVED, ROUNDED))}
    result = timing.measure(clf, variants, batch, rounds, seed=seed, threads=threads, calls=calls, fresh=fresh,
                            copy_variants=False, quiet=quiet)
    del variants
    table = _table(clf, result, keeps, rounded, same_as_removed, ceilings, reviews, multiple)
    key = keys.timing(role)
    values = _values(table, result, key, same_as_removed, multiple) | {
        f"{key}.ffn_flop_share": timing.ffn_share(clf.body, tokens),
        f"{key}.max_abs_logit_diff_removed_vs_zeroed": max_diff,
        f"{key}.batch": reviews, f"{key}.tokens": tokens, f"{key}.rounds": rounds, f"{key}.fresh_copies": fresh,
        f"{key}.seconds": time.perf_counter() - started}
    return table, {k: _finite(v) for k, v in values.items()}, result.gate_passed


def speed(profile: Profile, role: str, clf, tokenizer, keeps: dict[float, dict], *,
          rounded: dict[float, dict] | None = None, priority: dict[int, np.ndarray] | None = None,
          multiple: int | None = None, threads: int | None = THREADS,
          quiet: bool = False) -> tuple[pd.DataFrame, dict, bool]:
    """Dense, zeroed, removed and width-rounded models of ``role`` timed with controls on one fixed test batch
    (``prune.timing_batch`` reviews of ``timing_tokens(profile, role)`` tokens, ``prune.timing_rounds`` rounds).

    ``keeps``: sparsity -> keep-set (layer -> kept neuron indices), e.g. the paper rule's scaled to each
    ``prune.timing_sparsities``. ``rounded``: the same with widths rounded to ``multiple`` (default
    ``scores.round_to``); computed by ``rounded_keeps(keep, widths, multiple, priority)`` when not given.

    Returns the table (one row per timed variant: seconds per call and per 1,000 reviews, speed-up over dense copy A
    with its 95% interval, the two ceilings and the speed-up over each), the ``timing.<role>.*`` summary values (no
    NaN: None), and whether the A/A gate passed (if not, no speed-up verdict may be drawn; ``quiet``: the refusal is
    left to the caller's report, e.g. ``describe``).
    """
    started = time.perf_counter()
    p = profile.prune
    tokens = timing_tokens(profile, role)
    multiple = profile.scores.round_to if multiple is None else multiple
    if rounded is None:
        widths = ffn_widths(clf.body)
        rounded = {t: rounded_keeps(k, widths, multiple, priority) for t, k in keeps.items()}
    data = encoded_split(profile, role, tokenizer, "test", max_tokens=tokens)
    batch = timing.fixed_batch(data, p.timing_batch, tokens)
    table, values, gate = speed_on_batch(clf, batch, keeps, role, p.timing_rounds, rounded=rounded, multiple=multiple,
                                         threads=threads, seed=profile.seed, quiet=quiet)
    values[keys.timing(role, "seconds")] = time.perf_counter() - started  # everything: data, copies, warm-up, rounds
    return table, values, gate


def describe(values: dict, role: str) -> list[str]:
    """The timing in words, one line per comparison, with the gate's caveat when it failed."""
    k = keys.timing(role)
    gate = values[f"{k}.gate_passed"]
    lines = [f"{role}: batch {values[f'{k}.batch']} x {values[f'{k}.tokens']} tokens, {values[f'{k}.rounds']} rounds, "
             f"{values[f'{k}.threads']} thread(s) on {values[f'{k}.device']}; A/A {values[f'{k}.aa_ratio']:.3f} "
             f"[{values[f'{k}.aa_ci_low']:.3f}, {values[f'{k}.aa_ci_high']:.3f}] (per-round SD "
             f"{values[f'{k}.aa_round_sd']:.1%}) -> "
             + ("gate passed" if gate else f"{timing.NOISE_MESSAGE}: no speed-up verdict"),
             f"zeroed {values[f'{k}.zeroed_fraction']:.0%}: {values[f'{k}.zeroed_ratio']:.3f}x "
             f"[{values[f'{k}.zeroed_ci_low']:.3f}, {values[f'{k}.zeroed_ci_high']:.3f}] "
             f"({values[f'{k}.zeroed_verdict']}); "
             f"dense {values[f'{k}.dense_seconds_per_1000']:.1f} s per 1,000 reviews; FFN share of time "
             f"{values[f'{k}.ffn_time_share']:.2f}, of FLOPs {values[f'{k}.ffn_flop_share']:.2f}"]
    for key in sorted(v for v in values if v.startswith(f"{k}.p") and v.endswith(".removed_ratio")):
        p = key[: -len(".removed_ratio")]
        lines.append(f"{values[f'{p}.pruned_fraction']:.0%} removed: {values[key]:.3f}x "
                     f"[{values[f'{p}.removed_ci_low']:.3f}, "
                     f"{values[f'{p}.removed_ci_high']:.3f}] ({values[f'{p}.removed_verdict']}); bounds "
                     f"{values[f'{p}.ceiling_flops']:.3f}x (FLOPs), "
                     f"{values[f'{p}.ceiling_time']:.3f}x (measured FFN time); "
                     f"widths rounded to {values[f'{k}.round_to']}: {values[f'{p}.rounded_ratio']:.3f}x")
    return lines


def paper_timing_check(fraction: float = 0.1, tokens: int = 256) -> dict:
    """The paper's 13.71 s -> 10.3 s per 1,000 reviews (BERT-base, 10% of the neurons zeroed) against two bounds.

    * The FLOP ceiling of *removing* ``fraction`` of BERT-base's FFN neurons (counted on the meta device from the
      default ``BertConfig``: no weights needed); zeroing removes no arithmetic at all, so its own ceiling is 1.
    * A bound that holds on any hardware: even if the FFNs took all of the time, removing a fraction f of their
      neurons gives at most 1 / (1 - f); ``paper_ffn_time_share_needed`` is the FFN share of time the paper's
      speed-up would need (above 1: impossible from the FFNs alone).
    """
    with torch.device("meta"):
        dense = models.paper_encoder()
        pruned = copy.deepcopy(dense)
    pruning.remove_neurons(pruned, {layer: torch.arange(round(w * (1 - fraction)))
                                    for layer, w in enumerate(ffn_widths(dense))})
    said = paper.TIMING["encoder"]
    speedup = said["dense_seconds"] / said["zeroed_seconds"]
    return {"pruned_fraction": fraction, "tokens": tokens, "ceiling": timing.speedup_ceiling(dense, pruned, tokens),
            "ceiling_zeroed": 1.0, "ceiling_all_time_in_ffn": timing.time_ceiling(fraction, 1.0),
            "paper_seconds_per_1000_dense": said["dense_seconds"],
            "paper_seconds_per_1000_zeroed": said["zeroed_seconds"], "paper_speedup_from_zeroing": speedup,
            "paper_ffn_time_share_needed": (1 - 1 / speedup) / fraction}
