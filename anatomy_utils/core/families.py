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
    final_norm: Callable[[nn.Module], nn.Module | None]  # the norm after the last layer, if any
    attention_dropout_key: str  # config attribute of the dropout on attention probabilities
    attention: Callable[[nn.Module], nn.Module]  # the self-attention module of a layer
    attn_in: Callable[[nn.Module], list[nn.Module]]  # projections whose outputs are the heads (query, key, value)
    attn_out: Callable[[nn.Module], nn.Module]  # module that maps the heads back to the residual stream
    head_counts: tuple[str, ...] = ()  # attention attributes that hold its number of query heads
    head_widths: tuple[str, ...] = ()  # attention attributes that hold its query heads x head size


FAMILIES = {
    "bert": Family(
        "bert",
        layers=lambda m: m.encoder.layer,
        ffn_in=lambda layer: [layer.intermediate.dense],
        ffn_out=lambda layer: layer.output.dense,
        target="first",
        final_norm=lambda m: None,
        attention_dropout_key="attention_probs_dropout_prob",
        attention=lambda layer: layer.attention.self,
        attn_in=lambda layer: [layer.attention.self.query, layer.attention.self.key, layer.attention.self.value],
        attn_out=lambda layer: layer.attention.output.dense,
        head_counts=("num_attention_heads",),
        head_widths=("all_head_size",),
    ),
    "gpt2": Family(
        "gpt2",
        layers=lambda m: m.h,
        ffn_in=lambda layer: [layer.mlp.c_fc],
        ffn_out=lambda layer: layer.mlp.c_proj,
        target="last",
        final_norm=lambda m: m.ln_f,
        attention_dropout_key="attn_pdrop",
        attention=lambda layer: layer.attn,
        attn_in=lambda layer: [layer.attn.c_attn],  # query, key and value side by side
        attn_out=lambda layer: layer.attn.c_proj,
        head_counts=("num_heads",),
        head_widths=("split_size",),
    ),
    "llama": Family(
        "llama",
        layers=lambda m: m.layers,
        ffn_in=lambda layer: [layer.mlp.gate_proj, layer.mlp.up_proj],
        ffn_out=lambda layer: layer.mlp.down_proj,
        target="last",
        final_norm=lambda m: m.norm,
        attention_dropout_key="attention_dropout",
        attention=lambda layer: layer.self_attn,
        attn_in=lambda layer: [layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj],
        attn_out=lambda layer: layer.self_attn.o_proj,
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
            "FAMILIES in anatomy_utils/core/families.py (its layers, FFN input and output modules, final norm and "
            "target token), or one line in SAME_LAYOUT there if it shares a known module layout.")
    return FAMILIES[kind]


def linear_weight(module: nn.Module) -> torch.Tensor:
    """A projection's weight in ``nn.Linear``'s layout ``[out, in]``, whatever the storage (GPT-2's Conv1D keeps
    ``[in, out]``): a view, so writing into it writes the module's weight."""
    return module.weight.T if isinstance(module, Conv1D) else module.weight


def set_linear_weight(module: nn.Module, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    """Give a projection a new weight, given in ``nn.Linear``'s layout, and bias (None: keep none), with its size
    attributes to match."""
    conv = isinstance(module, Conv1D)
    module.weight = nn.Parameter((weight.T if conv else weight).contiguous())
    module.bias = None if bias is None else nn.Parameter(bias)
    if conv:
        module.nf = weight.shape[0]
    else:
        module.out_features, module.in_features = weight.shape


def projections(layer: nn.Module) -> list[nn.Module]:
    """Every weight matrix product of a layer (``nn.Linear`` or GPT-2's Conv1D)."""
    return [m for m in layer.modules() if isinstance(m, (nn.Linear, Conv1D))]


def layers(body: nn.Module) -> Sequence[nn.Module]:
    """The transformer layers of a base model, in order."""
    return family_of(body).layers(body)


def ffn_width(layer: nn.Module, family: Family) -> int:
    """Number of FFN neurons in one layer (works after pruning too)."""
    return neuron_vectors(layer, family).shape[0]


def ffn_widths(body: nn.Module) -> list[int]:
    """Number of FFN neurons of every layer of a base model."""
    family = family_of(body)
    return [ffn_width(layer, family) for layer in family.layers(body)]


def neuron_vectors(layer: nn.Module, family: Family) -> torch.Tensor:
    """The FFN output vectors of one layer as an ``(n_neurons, hidden)`` tensor, whatever the storage."""
    return linear_weight(family.ffn_out(layer)).T


class NoNeurons(nn.Module):
    """Stands in for an FFN input projection with no neurons left: no arithmetic, an empty view of its input; its
    weight is an empty ``[0, in]`` matrix so that widths and state dicts read as for any projection."""

    def __init__(self, inputs: int):
        super().__init__()
        self.register_buffer("weight", torch.empty(0, inputs))
        self.bias = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :0]


class BiasOnly(nn.Module):
    """Stands in for an FFN output projection fed by no neurons: it writes its bias (zeros without one); its weight
    is an empty ``[out, 0]`` matrix."""

    def __init__(self, outputs: int, bias: torch.Tensor | None):
        super().__init__()
        self.register_buffer("weight", torch.empty(outputs, 0))
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (*x.shape[:-1], self.weight.shape[0])
        return x.new_zeros(shape) if self.bias is None else self.bias.expand(shape)


def _swap(layer: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for name, module in layer.named_modules():
        if module is old and name:
            parent, _, attribute = name.rpartition(".")
            setattr(layer.get_submodule(parent) if parent else layer, attribute, new)
            return
    raise ValueError("module not found under its layer")


def empty_ffn(layer: nn.Module, family: Family) -> None:
    """Replace one layer's FFN projections by modules that do no arithmetic (``NoNeurons``, ``BiasOnly``): a layer
    pruned to zero neurons, or bypassed to measure the FFNs' share of the time. Works for every family (GPT-2's
    Conv1D cannot multiply by an empty matrix)."""
    for module in family.ffn_in(layer):
        _swap(layer, module, NoNeurons(linear_weight(module).shape[1]))
    out = family.ffn_out(layer)
    _swap(layer, out, BiasOnly(linear_weight(out).shape[0], out.bias))


def target_index(attention_mask: torch.Tensor, target: str) -> torch.Tensor:
    """Position of the target token per row: 0 for ``first``; the last non-pad token for ``last`` (either padding
    side)."""
    if target == "first":
        return torch.zeros(attention_mask.shape[0], dtype=torch.long, device=attention_mask.device)
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (attention_mask.long() * positions).argmax(dim=1)


def _select(module: nn.Module, kept: torch.Tensor, neurons_are: str) -> None:
    """Keep only ``kept`` neurons of a projection; ``neurons_are`` "outputs" (FFN in: rows) or "inputs" (FFN out:
    columns, in ``nn.Linear``'s layout)."""
    weight, kept = linear_weight(module).detach(), kept.to(module.weight.device)
    outputs = neurons_are == "outputs"
    bias = module.bias
    if bias is not None:
        bias = bias.detach()[kept].clone() if outputs else bias.detach().clone()
    set_linear_weight(module, weight.index_select(0 if outputs else 1, kept).clone(), bias)


def remove_neurons(body: nn.Module, keep: dict[int, torch.Tensor]) -> list[int]:
    """Physically shrink each listed layer's FFN to the kept neurons (a layer with none left does no FFN arithmetic:
    ``empty_ffn``); returns the per-layer widths."""
    family = family_of(body)
    layers = family.layers(body)
    for index, kept in keep.items():
        kept = torch.as_tensor(kept, dtype=torch.long).sort().values
        if len(kept) == 0:
            empty_ffn(layers[index], family)
            continue
        for module in family.ffn_in(layers[index]):
            _select(module, kept, "outputs")
        _select(family.ffn_out(layers[index]), kept, "inputs")
    return [neuron_vectors(layer, family).shape[0] for layer in layers]


# ------------------------------------------------------------------------------------------------ attention heads

@dataclass(frozen=True)
class Heads:
    """A model's attention geometry. The unit that can be removed is a key/value group: one head under multi-head
    attention; a key/value head with the ``per_group`` query heads that read it under grouped-query attention (Llama),
    the smallest set whose removal leaves every shape consistent."""

    size: int  # features per head
    per_group: int  # query heads per key/value head

    def groups(self, layer: nn.Module, family: Family) -> int:
        """Key/value groups a layer has now (after pruning too)."""
        return linear_weight(family.attn_out(layer)).shape[1] // (self.size * self.per_group)

    def columns(self, out: nn.Module, kept) -> torch.Tensor:
        """The input columns of an attention output projection that belong to the ``kept`` groups."""
        width = linear_weight(out).shape[1]
        return torch.arange(width).view(width // (self.size * self.per_group), -1)[
            torch.as_tensor(kept, dtype=torch.long)].ravel()

    def rows(self, module: nn.Module, kept: torch.Tensor, groups: int) -> torch.Tensor:
        """The output rows of a head projection that belong to the ``kept`` groups of the ``groups`` it has. Its rows
        are blocks of ``size``: one block per key/value head, ``per_group`` per group (queries), or, without grouped
        queries, query, key and value blocks side by side (GPT-2's fused projection)."""
        blocks = linear_weight(module).shape[0] // self.size
        parts = blocks // groups if self.per_group == 1 else 1
        if blocks % groups or (self.per_group > 1 and blocks not in (groups, groups * self.per_group)):
            raise ValueError(f"A head projection of {blocks} blocks fits no layout of {groups} key/value groups.")
        width = blocks // parts // groups  # blocks per group in each part
        chosen = [part * groups * width + g * width + b for part in range(parts) for g in kept.tolist()
                  for b in range(width)]
        return (torch.tensor(chosen, dtype=torch.long)[:, None] * self.size + torch.arange(self.size)).ravel()


def heads_of(body: nn.Module) -> Heads:
    """The attention geometry of a transformers base model, from its config."""
    config = body.config
    size = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    return Heads(size, config.num_attention_heads // kv)


def head_groups(body: nn.Module) -> list[int]:
    """Key/value groups of every layer of a base model (the heads' widths, pruned or not)."""
    family, geometry = family_of(body), heads_of(body)
    return [geometry.groups(layer, family) for layer in family.layers(body)]


def remove_heads(body: nn.Module, keep: dict[int, torch.Tensor]) -> list[int]:
    """Physically shrink each listed layer's attention to the kept key/value groups (at least one per layer): the
    groups' rows of the query, key and value projections and their columns of the output projection go; returns the
    groups per layer."""
    family, geometry = family_of(body), heads_of(body)
    layers = family.layers(body)
    for index, kept in keep.items():
        kept = torch.as_tensor(kept, dtype=torch.long).sort().values
        if len(kept) == 0:
            raise ValueError(f"Layer {index} would keep no attention head; keep at least one group per layer.")
        layer = layers[index]
        groups = geometry.groups(layer, family)
        for module in family.attn_in(layer):
            _select(module, geometry.rows(module, kept, groups), "outputs")
        out = family.attn_out(layer)
        _select(out, geometry.columns(out, kept), "inputs")
        attention, heads = family.attention(layer), len(kept) * geometry.per_group
        for name in family.head_counts:
            setattr(attention, name, heads)
        for name in family.head_widths:
            setattr(attention, name, heads * geometry.size)
    return head_groups(body)
