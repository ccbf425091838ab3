"""Refit what is left after pruning: a layer-wise least-squares fit of each pruned FFN's output projection (Kwon et
al. 2022, K-prune 2024), bottom layer first, so that on calibration tokens the pruned layer writes what the dense
layer would write on the same, already pruned, input.

One pass runs the calibration reviews up to the first layer; then, layer by layer, the layer is run once with its dense
FFN (collecting the kept neurons' activations and the dense FFN output, the target), the kept neurons' output weights
are fitted, the layer is shrunk, and it is run again to feed the next layer. Two passes in all, whatever the depth.
When heads are removed too, the attention output projection is fitted the same way first (one more run per layer).

A fit is judged on held-back calibration reviews (every ``holdout``-th): where it writes worse than the plain cut (with
the bias repair when the variant has it) the layer keeps the plain cut, and the refusal is reported.
"""
from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import pruning
from .classifier import Encoded, SentimentClassifier
from .families import heads_of, linear_weight, remove_heads, set_linear_weight, target_index
from ..base.runtime import progress

MODES = ("columns", "scales")  # refit every kept output column, or one scale per kept neuron (Kwon et al.)


@dataclass(frozen=True)
class Refit:
    """How to refit: calibration reviews (training split), the ridge (relative to a neuron's mean energy, pulling the
    fit towards the plain cut), every ``holdout``-th review held back to judge each layer's fit, and the mode."""

    calibration: Encoded
    pad_id: int
    batch_size: int
    ridge: float = 0.01
    holdout: int = 4
    mode: str = "columns"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"Unknown refit mode {self.mode!r}; use one of {MODES}.")

    def digest(self) -> str:
        """What decides the refitted weights besides the model and the keep-set."""
        ids = np.concatenate([np.asarray(x, dtype=np.int64) for x in self.calibration.ids])
        return hashlib.sha256(repr((ids.tobytes(), [len(x) for x in self.calibration.ids], self.ridge, self.holdout,
                                    self.mode)).encode()).hexdigest()[:20]

    @torch.no_grad()
    def apply(self, clf: SentimentClassifier, keep: dict, repair: np.ndarray | None = None,
              keep_heads: dict | None = None) -> tuple[SentimentClassifier, dict]:
        """A physically pruned copy of ``clf`` (its biases repaired first when ``repair`` is given) with its kept output
        weights refitted; and what it took: seconds, the layers whose FFN fit fell back, and per layer the held-back
        error of the plain cut and of the fit. ``keep_heads`` (key/value groups kept per layer) also removes heads;
        the attention output projection's kept columns are then fitted first, the same way, to what the dense
        attention writes (``attention_fell_back``: the layers whose attention fit was refused)."""
        start = time.perf_counter()
        model = copy.deepcopy(clf).eval()
        family, geometry = model.family, heads_of(model.body)
        layers = family.layers(model.body)
        states = _first_layer_inputs(model, self)
        rows = []
        for index, layer in enumerate(progress(layers, desc="refitting layers")):
            last, row = index == len(layers) - 1, {"layer": index}
            groups = torch.as_tensor((keep_heads or {}).get(index, []), dtype=torch.long).sort().values
            if 0 < len(groups) < geometry.groups(layer, family):
                out = family.attn_out(layer)
                columns = geometry.columns(out, groups)
                weight, fell_back, _ = self._judged(*_layer_statistics(model, layer, states, out, columns, last),
                                                    out, columns)
                remove_heads(model.body, {index: groups})
                _set_output(family.attn_out(layer), weight)
                row["attention_fell_back"] = fell_back
            out = family.ffn_out(layer)
            kept = torch.as_tensor(keep.get(index, torch.arange(_width(out))), dtype=torch.long).sort().values
            statistics = _layer_statistics(model, layer, states, out, kept, last)  # of the dense FFN: before repair
            if repair is not None:
                pruning.compensate_bias(model.body, {index: kept}, repair)
            weight, fell_back, errors = self._judged(*statistics, family.ffn_out(layer), kept)
            pruning.remove_neurons(model.body, {index: kept})
            if kept.numel():
                _set_output(family.ffn_out(layer), weight)
            rows.append(row | {"kept": kept.numel(), "fell_back": fell_back} | errors)
            states = [(_run_layer(layer, *state[:3]), *state[1:]) for state in states]
        table = pd.DataFrame(rows)
        info = {"seconds": time.perf_counter() - start, "fell_back": _refused(table, "fell_back"),
                "layers": table.to_dict("list")}
        return model, info | ({"attention_fell_back": _refused(table, "attention_fell_back")}
                              if "attention_fell_back" in table else {})

    def _judged(self, fit: dict, check: dict, out, kept) -> tuple[torch.Tensor, bool, dict]:
        """:func:`judged_fit` of ``out``'s ``kept`` input columns (and bias) against its plain cut."""
        return judged_fit(fit, check, plain_cut(out, kept), self.ridge, self.mode, out.bias is not None)


def _refused(table: pd.DataFrame, column: str) -> list[int]:
    return table.loc[table[column].fillna(False).astype(bool), "layer"].tolist()


def _set_output(out: torch.nn.Module, weight: torch.Tensor) -> None:
    """Write a fit, in X's layout ``(kept + 1, dim)``, into a shrunk output projection."""
    set_linear_weight(out, weight[:-1].T.to(out.weight.dtype).contiguous(),
                      None if out.bias is None else weight[-1].to(out.bias.dtype).contiguous())


class _Stop(Exception):
    """Ends the capture pass at the first layer."""


@torch.no_grad()
def _first_layer_inputs(model: SentimentClassifier, refit: Refit) -> list[tuple]:
    """Per batch of calibration reviews: (hidden states entering layer 0, the other arguments of that call,
    the attention mask, whether the batch is held back)."""
    first = model.family.layers(model.body)[0]
    captured = {}

    def grab(_module, args, kwargs):
        captured.update(args=args, kwargs=kwargs)
        raise _Stop

    handle = first.register_forward_pre_hook(grab, with_kwargs=True)
    states = []
    try:
        order = np.arange(len(refit.calibration.ids))
        for start in range(0, len(order), refit.batch_size):
            rows = order[start:start + refit.batch_size]
            batch = refit.calibration.batch(rows, refit.pad_id, model.device)
            try:
                model.body(**batch, use_cache=False)
            except _Stop:
                pass
            args, kwargs = captured["args"], dict(captured["kwargs"])
            hidden = args[0] if args else kwargs.pop("hidden_states")
            held = torch.as_tensor(rows % refit.holdout == refit.holdout - 1)
            states.append((hidden, args[1:], kwargs, batch["attention_mask"], held))
    finally:
        handle.remove()
    return states


def _run_layer(layer, hidden, args, kwargs):
    out = layer(hidden, *args, **kwargs)
    return out[0] if isinstance(out, tuple) else out


def _width(out) -> int:
    return linear_weight(out).shape[1]


@torch.no_grad()
def _layer_statistics(model, layer, states, out, kept, last: bool) -> tuple[dict, dict]:
    """Sufficient statistics of the least-squares problem of output projection ``out`` (the FFN's or the
    attention's), on fitted and on held-back reviews: X = [kept inputs, 1], Y = what ``out`` writes with all its
    inputs; sums of XᵀX, XᵀY and |Y|² over real tokens (only the target token in the last layer: the only one the
    classifier reads), each token weighted by 1 / sqrt(|y|² + the batch's mean |y|²), so that a few tokens with huge
    outputs (massive activations) cannot bend the fit of all the others."""
    seen = {}
    hooks = [out.register_forward_pre_hook(lambda _m, args: seen.update(x=args[0])),
             out.register_forward_hook(lambda _m, _a, y: seen.update(y=y))]
    stats = {part: {"xx": 0, "xy": 0, "yy": 0, "n": 0} for part in ("fit", "check")}
    try:
        for hidden, args, kwargs, mask, held in states:
            _run_layer(layer, hidden, args, kwargs)
            rows = torch.zeros_like(mask, dtype=torch.bool)
            if last:
                rows[torch.arange(len(mask)), target_index(mask, model.family.target)] = True
            else:
                rows = mask.bool()
            for part, reviews in (("fit", ~held), ("check", held)):
                chosen = rows & reviews[:, None].to(rows.device)
                x = seen["x"][chosen][:, kept.to(chosen.device)].double()
                x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], 1)
                y = seen["y"][chosen].double()
                energy = (y * y).sum(1, keepdim=True)
                weight = (energy + energy.mean()).rsqrt() if len(y) else energy
                x, y = x * weight, y * weight
                s = stats[part]
                s["xx"], s["xy"] = s["xx"] + x.T @ x, s["xy"] + x.T @ y
                s["yy"], s["n"] = s["yy"] + (y * y).sum(), s["n"] + len(x)
    finally:
        for hook in hooks:
            hook.remove()
    return stats["fit"], stats["check"]


def plain_cut(out: torch.nn.Module, kept: torch.Tensor) -> torch.Tensor:
    """What plain removal keeps of an output projection, in X's layout ``(kept + 1, dim)``: the kept columns, then the
    bias (zeros where there is none)."""
    weight = linear_weight(out).detach().double()
    bias = weight.new_zeros(weight.shape[0]) if out.bias is None else out.bias.detach().double()
    return torch.cat([weight[:, kept.to(weight.device)].T, bias[None]], 0)


def error(stats: dict, weight: torch.Tensor) -> float:
    """Mean squared error per token of X @ weight against Y, from the sufficient statistics."""
    if stats["n"] == 0:
        return float("nan")
    total = (weight * (stats["xx"] @ weight)).sum() - 2 * (weight * stats["xy"]).sum() + stats["yy"]
    return float(total / stats["n"])


def solve(stats: dict, base: torch.Tensor, ridge: float, mode: str, has_bias: bool) -> torch.Tensor:
    """The ridge fit, pulled towards ``base`` (the plain cut) with a weight ``ridge`` times a kept neuron's mean energy:
    every kept column and the bias where the projection has one (``columns``), or one scale per kept neuron with the
    bias kept (``scales``, Kwon et al.)."""
    k = base.shape[0] - 1
    xx, xy = stats["xx"], stats["xy"]
    residual = xy[:k] - xx[:k, k:] @ base[k:]  # XᵀY with the plain bias's share taken out
    if mode == "scales":
        w = base[:k]
        gram = xx[:k, :k] * (w @ w.T)
        damping = ridge * torch.diagonal(gram).mean().clamp_min(1e-12)
        scale = torch.linalg.lstsq(gram + damping * torch.eye(k, dtype=gram.dtype, device=gram.device),
                                   (residual * w).sum(1) + damping).solution
        return torch.cat([scale[:, None] * w, base[k:]], 0)
    damping = ridge * torch.diagonal(xx)[:k].mean().clamp_min(1e-12)
    if not has_bias:
        columns = torch.linalg.lstsq(xx[:k, :k] + damping * torch.eye(k, dtype=xx.dtype, device=xx.device),
                                     residual + damping * base[:k]).solution
        return torch.cat([columns, base[k:]], 0)
    penalty = torch.diag(torch.cat([xx.new_ones(k), xx.new_zeros(1)]))
    return torch.linalg.lstsq(xx + damping * penalty, xy + damping * penalty @ base).solution


def judged_fit(fit: dict, check: dict, base: torch.Tensor, ridge: float, mode: str,
               has_bias: bool) -> tuple[torch.Tensor, bool, dict]:
    """Fit on the fitted reviews; keep the fit only if it writes closer to the dense output than the plain cut on the
    held-back ones (no held-back token, or no neuron kept: the plain cut)."""
    plain = error(check, base)
    if base.shape[0] == 1:
        return base, False, {"plain_error": plain, "refit_error": plain}
    fitted = solve(fit, base, ridge, mode, has_bias)
    refit = error(check, fitted)
    fell_back = not refit <= plain  # NaN also refuses
    return (base if fell_back else fitted), fell_back, {"plain_error": plain, "refit_error": refit}
