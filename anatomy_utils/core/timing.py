"""Timing protocol with controls, and the two ceilings of FFN pruning (FLOPs; the FFN's measured share of time).

The protocol (``measure``): every variant is its own deep copy, the dense model twice (copies A and B: the A/A
control), each warmed up; then ``rounds`` rounds of ``calls`` sweeps, each sweep calling every variant once on the
same fixed batch in a fresh seeded random order; a variant's time in a round is its fastest call. Calls alternate
between variants because in blocks (all calls of one variant, then the next) a slow spell of a shared VM falls on one
variant: on a 2-vCPU AMD EPYC (pre-trained MiniLM, 1 x 256 tokens, 1 thread, 20 rounds of 4 calls, fresh copies) the
A/A per-round SD of the round means was 10.7% in blocks and 5.1% alternating; with the fastest call, the A/A interval
was 1.007 [0.998, 1.018] in blocks and 1.000 [0.987, 1.005] alternating. Every round gives every variant a speed-up
against dense copy A *of the same round* (dense A seconds / variant seconds), so drift between rounds cancels; the
reported speed-up is the median of the per-round ratios with a bootstrap 95% interval over rounds (``ratio_summary``,
a pure function).

The gate: dense copy B against dense copy A does the same work, so its interval must lie inside 1 +- ``TOLERANCE``;
when it does not, the timings are too noisy for any speed-up verdict (the numbers are still reported).
"""
from __future__ import annotations

import contextlib
import copy
import gc
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .classifier import Encoded
from .families import empty_ffn, family_of, linear_weight, projections
from ..base.runtime import synchronize
from ..stats import LEVEL, bootstrap, inside

DENSE_A, DENSE_B = "dense A", "dense B"  # the reference and its A/A control
TOLERANCE = 0.02  # the A/A interval must lie inside 1 +- this for a speed-up verdict
NOISE_MESSAGE = "timing noise exceeds tolerance"
MIN_BLOCK = 0.5  # seconds: each variant's calls in a round add up to at least this (several of a short batch or a GPU
#                  forward), so a scheduler tick or interrupt stays small
MIN_SWEEPS = 3  # at least this many calls per variant per round, so the fastest of them can skip an interrupted one


def fixed_batch(data: Encoded, batch_size: int, tokens: int) -> dict[str, torch.Tensor]:
    """A batch of ``batch_size`` reviews that all fill ``tokens`` tokens (no padding), for a fixed-shape timing."""
    rows = [i for i, ids in enumerate(data.ids) if len(ids) >= tokens][:batch_size]
    if len(rows) < batch_size:
        raise ValueError(f"Only {len(rows)} reviews have {tokens} tokens; lower the timing batch or length.")
    ids = torch.tensor([data.ids[r][:tokens] for r in rows])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


# ---------------------------------------------------------------------------------------------- ratios and the gate

def bootstrap_median(values: np.ndarray, level: float = LEVEL, resamples: int = 2000,
                     seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the median of ``values`` (``stats.bootstrap``)."""
    values = np.asarray(values, dtype=float)
    return bootstrap(lambda rows: np.median(values[rows]), len(values), level, resamples, seed)


def ratio_summary(seconds: dict[str, np.ndarray], reference: str = DENSE_A, control: str = DENSE_B,
                  tolerance: float = TOLERANCE, level: float = LEVEL, resamples: int = 2000, seed: int = 0) -> dict:
    """Speed-ups from per-round seconds (``name -> (rounds,)``, the same rounds for every name): a pure function.

    Per round, speed-up = seconds of ``reference`` / seconds of the variant (above 1: faster than dense). Returns
    ``{"ratios": {name: {"ratio", "ci_low", "ci_high", "per_round"}}, "aa": the control's entry, "gate_passed",
    "tolerance", "level"}``: the median of the per-round ratios and its bootstrap interval over rounds. The gate
    passes when the control's interval lies inside ``1 +- tolerance``.
    """
    base = np.asarray(seconds[reference], dtype=float)
    ratios = {}
    for name, values in seconds.items():
        values = np.asarray(values, dtype=float)
        if values.shape != base.shape:
            raise ValueError(f"{name!r} has {values.shape[0]} rounds, {reference!r} {base.shape[0]}: "
                             "time them together.")
        per_round = base / values
        low, high = bootstrap_median(per_round, level, resamples, seed)
        ratios[name] = {"ratio": float(np.median(per_round)), "ci_low": low, "ci_high": high, "per_round": per_round}
    aa = ratios[control]
    passed = bool(1 - tolerance <= aa["ci_low"] and aa["ci_high"] <= 1 + tolerance)
    return {"ratios": ratios, "aa": aa, "gate_passed": passed, "tolerance": tolerance, "level": level}


def gate_message(summary: dict) -> str:
    """One line on the A/A control: passed, or the refusal that every report of these timings must carry."""
    aa, tol = summary["aa"], summary["tolerance"]
    interval = f"A/A speed-up {aa['ratio']:.3f} [{aa['ci_low']:.3f}, {aa['ci_high']:.3f}]"
    if summary["gate_passed"]:
        return f"{interval} lies inside 1 +- {tol:.2f}: timings precise enough for a speed-up verdict"
    return (f"{NOISE_MESSAGE}: {interval} is not inside 1 +- {tol:.2f}; "
            "no speed-up verdict may be drawn from these timings")


def check_gate(summary: dict) -> bool:
    """Print the refusal when the A/A control failed (every caller of ``measure`` gets it); the gate's outcome."""
    if not summary["gate_passed"]:
        print(gate_message(summary))
    return summary["gate_passed"]


def verdict(entry: dict, gate_passed: bool, tolerance: float = TOLERANCE) -> str:
    """A speed-up in words, read off its interval against the A/A tolerance (differences smaller than the noise
    between two copies of one model are not claimed): ``faster`` / ``slower`` when the interval lies beyond
    1 +- ``tolerance``, ``same speed (within +-2%)`` when it lies inside, else ``not resolved``; and no verdict at all
    when the gate failed."""
    if not gate_passed:
        return "no verdict (timing noise)"
    if entry["ci_low"] > 1 + tolerance:
        return "faster"
    if entry["ci_high"] < 1 - tolerance:
        return "slower"
    if inside(entry["ci_low"], entry["ci_high"], 1, tolerance):
        return f"same speed (within +-{tolerance:.0%})"
    return "not resolved"


# ---------------------------------------------------------------------------------------------------- the protocol

@dataclass
class Timing:
    """What ``measure`` found: per-round seconds per call (each variant's fastest call of the round), the orders,
    and the ratio summary."""

    seconds: dict[str, np.ndarray]  # name -> (rounds,) seconds per call
    orders: list[list[str]]  # the order of the variants in every sweep of every round
    calls: int  # sweeps per round: calls per variant
    threads: int  # torch intra-op threads while timing
    device: str
    wall_seconds: float  # the whole protocol: copies, warm-up and rounds
    summary: dict = field(default_factory=dict)  # ratio_summary(seconds)

    @property
    def gate_passed(self) -> bool:
        return self.summary["gate_passed"]

    def median_seconds(self, name: str) -> float:
        return float(np.median(self.seconds[name]))

    def table(self):
        """One row per variant: median seconds per call, speed-up over dense A with its interval, verdict."""
        import pandas as pd

        return pd.DataFrame([{"variant": name, "seconds_per_call": self.median_seconds(name), "speedup": e["ratio"],
                              "ci_low": e["ci_low"], "ci_high": e["ci_high"],
                              "verdict": "reference" if name == DENSE_A else verdict(e, self.gate_passed,
                                                                                      self.summary["tolerance"])}
                             for name, e in self.summary["ratios"].items()])


def _call(model: nn.Module, batch: dict, calls: int) -> float:
    """Seconds per call of ``calls`` forward passes, GPU work included."""
    synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        model(**batch)
    synchronize()
    return (time.perf_counter() - start) / calls


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model and its count of logical cores."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import os
    import platform

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model} ({os.cpu_count()} logical CPUs)"


def _copies(sources: dict[str, nn.Module], rng: np.random.Generator, always: bool) -> dict[str, nn.Module]:
    """Deep copies of the two dense copies (and of every variant when ``always``), allocated in a random order."""
    made = {}
    with torch.no_grad():
        for name in map(str, rng.permutation(list(sources))):  # which copy is allocated first changes too
            made[name] = copy.deepcopy(sources[name]) if always or name in (DENSE_A, DENSE_B) else sources[name]
            made[name].eval()
    return made


@contextlib.contextmanager
def _timing_threads(threads: int | None):
    """Torch's intra-op threads set to ``threads`` (None: unchanged) and the garbage collector's state restored
    after."""
    previous, gc_was_enabled = torch.get_num_threads(), gc.isenabled()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        yield
    finally:
        (gc.enable if gc_was_enabled else gc.disable)()
        torch.set_num_threads(previous)


@torch.inference_mode()
def _warm_up(models: dict[str, nn.Module], batch: dict, rng: np.random.Generator, warmup: int,
             calls: int | None = None, min_block: float = MIN_BLOCK) -> int:
    """Call every copy ``warmup`` times in random orders; return ``calls``, or (None) the sweeps per round that make
    dense A's calls of a round last at least ``min_block`` seconds, and at least ``MIN_SWEEPS``."""
    for _ in range(warmup):
        for name in rng.permutation(list(models)):
            _call(models[str(name)], batch, 1)
    return calls or max(MIN_SWEEPS, math.ceil(min_block / max(_call(models[DENSE_A], batch, 1), 1e-9)))


@torch.inference_mode()
def _round(models: dict[str, nn.Module], rng: np.random.Generator, batch: dict, sweeps: int) -> tuple[dict, list]:
    """One round of ``sweeps`` sweeps, each calling every model once in a fresh random order, with no collector pauses
    inside: a model's seconds are its fastest call of the round (an interruption only adds time). Calls of the
    variants alternate, so a slow spell of the machine hits them all alike. Returns the seconds and the orders."""
    gc.collect()
    gc.disable()
    try:
        orders = [[str(n) for n in rng.permutation(list(models))] for _ in range(sweeps)]
        taken = {name: [] for name in models}
        for order in orders:
            for name in order:
                taken[name].append(_call(models[name], batch, 1))
        return {name: min(values) for name, values in taken.items()}, orders
    finally:
        gc.enable()


def measure(dense: nn.Module, variants: dict[str, nn.Module], batch: dict[str, torch.Tensor], rounds: int, *,
            seed: int = 0, threads: int | None = None, calls: int | None = None, min_block: float = MIN_BLOCK,
            warmup: int = 1, fresh: bool = True, copy_variants: bool = True, tolerance: float = TOLERANCE,
            quiet: bool = False) -> Timing:
    """Time ``dense`` (as two deep copies, ``DENSE_A`` and ``DENSE_B``) and ``variants`` on one batch.

    ``fresh`` (default): new deep copies of everything every round, made in a random order, so where a copy's weights
    lie in memory (copy-to-copy offsets of 1-2% seen for SmolLM2) varies instead of biasing one variant; ``False``: one
    set of copies (variants copied unless ``copy_variants`` is False). ``calls``: sweeps per round (None: enough for
    ``min_block`` seconds of dense A, at least ``MIN_SWEEPS``). ``threads``: torch's intra-op threads while timing
    (``None``: unchanged). CUDA is synchronised around every call. ``quiet``: no printed gate refusal.
    """
    started = time.perf_counter()
    if DENSE_A in variants or DENSE_B in variants:
        raise ValueError(f"{DENSE_A!r} and {DENSE_B!r} are the protocol's own dense copies; rename the variant.")
    sources = {DENSE_A: dense, DENSE_B: dense, **variants}
    rng = np.random.default_rng(seed)
    models = _copies(sources, rng, copy_variants or fresh)
    device = next(models[DENSE_A].parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    with _timing_threads(threads):
        calls = _warm_up(models, batch, rng, warmup, calls, min_block)
        seconds, orders = {name: np.empty(rounds) for name in sources}, []
        for r in range(rounds):
            if fresh and r > 0:
                models = None  # the last round's copies freed before the next are made
                gc.collect()
                models = _copies(sources, rng, True)
            taken, sweeps = _round(models, rng, batch, calls)
            orders += sweeps
            for name, value in taken.items():
                seconds[name][r] = value
        used = torch.get_num_threads()
    del models
    timing = Timing(seconds, orders, calls, used, device_name(device), time.perf_counter() - started,
                    ratio_summary(seconds, tolerance=tolerance, seed=seed))
    if not quiet:
        check_gate(timing.summary)
    return timing


# ------------------------------------------------------------------------------------------------------- ceilings

def matmul_flops(model: nn.Module, tokens: int) -> int:
    """Forward FLOPs of one sequence of ``tokens`` through a transformer body's layers.

    Every Linear / Conv1D costs 2 * in * out per token; attention adds 4 * tokens per query feature (heads x head
    size: the hidden size unless heads were removed) per token per layer (scores and weighted sum). Embedding look-ups
    and norms are ignored (negligible).
    """
    family = family_of(model)
    layers = family.layers(model)
    per_token = sum(2 * m.weight.numel() for layer in layers for m in projections(layer))
    attention = 4 * tokens * sum(linear_weight(family.attn_out(layer)).shape[1] for layer in layers)
    return tokens * (per_token + attention)


def ffn_share(model: nn.Module, tokens: int) -> float:
    """Share of ``matmul_flops`` spent in the FFNs: removing a fraction f of the neurons saves f times this."""
    family = family_of(model)
    ffn = sum(2 * m.weight.numel() for layer in family.layers(model)
              for m in [*family.ffn_in(layer), family.ffn_out(layer)])
    return tokens * ffn / matmul_flops(model, tokens)


def speedup_ceiling(dense: nn.Module, pruned: nn.Module, tokens: int) -> float:
    """The best speed-up removing neurons could give if time followed FLOPs: the ratio of forward FLOPs (FFN and
    attention matrix products; embeddings, norms, activations and framework overhead are not counted, which is why
    a second ceiling comes from measured time: ``time_ceiling``)."""
    return matmul_flops(dense, tokens) / matmul_flops(pruned, tokens)


def time_ceiling(pruned_fraction: float, ffn_time_share: float) -> float:
    """The best speed-up from removing ``pruned_fraction`` of the FFN neurons when the FFNs take ``ffn_time_share``
    of the measured forward time and their time scales with their width: 1 / (1 - f * s)."""
    return 1 / (1 - pruned_fraction * ffn_time_share)


def ffn_time_share(speedup_without_ffn: float) -> float:
    """The FFNs' share of the forward time from the speed-up of the model with every FFN bypassed: 1 - t_bypass/t."""
    return 1 - 1 / speedup_without_ffn


def ffn_bypassed(clf: nn.Module) -> nn.Module:
    """A deep copy of a classifier whose every FFN does no arithmetic: its input projections are replaced by empty
    views and its output projection by its bias. Timed against dense, it gives the FFNs' share of the forward time
    (the limit of removing every neuron; a hook that zeroes the FFN output would still compute it)."""
    bypassed = copy.deepcopy(clf)
    family = family_of(bypassed.body)
    for layer in family.layers(bypassed.body):
        empty_ffn(layer, family)
    return bypassed
