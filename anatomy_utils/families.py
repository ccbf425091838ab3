"""Family adapters: the only place that knows where an architecture keeps its FFN and its target token.

Every other module asks ``family_of(model)`` and never branches on model names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D


@dataclass(frozen=True)
class Family:
    name: str
    layers: Callable[[nn.Module], Sequence[nn.Module]]
    ffn_in: Callable[[nn.Module], list[nn.Module]]  # modules whose outputs are the FFN neurons
    ffn_out: Callable[[nn.Module], nn.Module]  # module that maps the neurons back to the residual stream
    target: Literal["first", "last"]  # CLS for encoders, last real token for decoders
    width_key: str  # config attribute holding the FFN width
    final_norm: Callable[[nn.Module], nn.Module | None]  # the norm after the last layer, if any
    attention_dropout_key: str  # config attribute of the dropout on attention probabilities


FAMILIES = {
    "bert": Family(
        "bert",
        layers=lambda m: m.encoder.layer,
        ffn_in=lambda layer: [layer.intermediate.dense],
        ffn_out=lambda layer: layer.output.dense,
        target="first",
        width_key="intermediate_size",
        final_norm=lambda m: None,
        attention_dropout_key="attention_probs_dropout_prob",
    ),
    "gpt2": Family(
        "gpt2",
        layers=lambda m: m.h,
        ffn_in=lambda layer: [layer.mlp.c_fc],
        ffn_out=lambda layer: layer.mlp.c_proj,
        target="last",
        width_key="n_inner",
        final_norm=lambda m: m.ln_f,
        attention_dropout_key="attn_pdrop",
    ),
    "llama": Family(
        "llama",
        layers=lambda m: m.layers,
        ffn_in=lambda layer: [layer.mlp.gate_proj, layer.mlp.up_proj],
        ffn_out=lambda layer: layer.mlp.down_proj,
        target="last",
        width_key="intermediate_size",
        final_norm=lambda m: m.norm,
        attention_dropout_key="attention_dropout",
    ),
}


# Architectures that share an adapter's module layout (config ``model_type`` -> adapter).
SAME_LAYOUT = {"roberta": "bert", "xlm-roberta": "bert", "electra": "bert", "mistral": "llama", "qwen2": "llama"}


class UnsupportedModel(ValueError):
    """A model whose architecture no adapter describes."""


def family_of(body: nn.Module) -> Family:
    """The adapter for a transformers base model (BertModel, GPT2Model, LlamaModel)."""
    return family_for_type(body.config.model_type)


def family_for_type(kind: str) -> Family:
    """The adapter for a config's ``model_type``."""
    kind = SAME_LAYOUT.get(kind, kind)
    if kind not in FAMILIES:
        types = {name: ", ".join([name, *(k for k, v in SAME_LAYOUT.items() if v == name)]) for name in FAMILIES}
        raise UnsupportedModel(
            f"No family adapter for model_type {kind!r}. Supported: BERT-like encoders ({types['bert']}), GPT-2 "
            f"({types['gpt2']}) and Llama-like decoders ({types['llama']}). A new architecture needs one entry in "
            "FAMILIES in anatomy_utils/families.py (its layers, FFN input and output modules, final norm and target "
            "token), or one line in SAME_LAYOUT there if it shares a known module layout.")
    return FAMILIES[kind]


def ffn_width(layer: nn.Module, family: Family) -> int:
    """Number of FFN neurons in one layer (works after pruning too)."""
    return neuron_vectors(layer, family).shape[0]


def neuron_vectors(layer: nn.Module, family: Family) -> torch.Tensor:
    """The FFN output vectors of one layer as an ``(n_neurons, hidden)`` tensor, whatever the storage.

    Linear keeps ``[out, in]`` = ``[hidden, n_neurons]``; GPT-2's Conv1D keeps ``[in, out]`` = ``[n_neurons, hidden]``.
    """
    out = family.ffn_out(layer)
    return out.weight if isinstance(out, Conv1D) else out.weight.T


def target_index(attention_mask: torch.Tensor, target: str) -> torch.Tensor:
    """Position of the target token per row: 0 for ``first``; the last non-pad token for ``last`` (either padding side)."""
    if target == "first":
        return torch.zeros(attention_mask.shape[0], dtype=torch.long, device=attention_mask.device)
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (attention_mask.long() * positions).argmax(dim=1)
