"""The prediction store: per-review logits of every evaluated model variant, cached and never computed twice.

A variant is a fine-tuned model, optionally pruned to a keep-set and bias-repaired or refitted (``refit``). Its logits
on a set of reviews are cached under ``data/cache/<profile>/predictions/`` keyed by what made them: the weights of the
model (a digest of its tensors), the kept neurons, the repair or the refit, the tokenized reviews, and the source of the
modules that compute a forward pass (with the torch and transformers versions). A changed keep-set, checkpoint or
forward code gets a new key. Every paired comparison of the study is made on these vectors.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..core import pruning
from ..core.refit import Refit
from ..core.classifier import Encoded, SentimentClassifier, predict
from ..core.families import linear_weight, set_linear_weight
from ..base.cache import artifact, atomic_write_bytes, code_fingerprint
from ..base.runtime import FIGURES

FORWARD_CODE = ("core.classifier", "core.pruning")  # with all they import: what decides a variant's logits


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
    return h.hexdigest()[:20]


def model_digest(model: torch.nn.Module) -> str:
    """Digest of every tensor of a model (names, shapes and values)."""
    return _digest(*[p for name, t in model.state_dict().items()
                     for p in (name, tuple(t.shape), t.detach().contiguous().numpy().tobytes())])


def data_digest(data: Encoded) -> str:
    return _digest(np.concatenate([np.asarray(x, dtype=np.int64) for x in data.ids] or [np.zeros(0)]).tobytes(),
                   [len(x) for x in data.ids], data.labels.tobytes())


def variant_digest(keep: dict | None, repair: np.ndarray | None) -> str:
    """Dense when ``keep`` is None; else the sorted kept indices per layer, and the repair statistics when given."""
    if keep is None:
        return "dense"
    kept = [(layer, torch.as_tensor(idx).sort().values.numpy().astype(np.int64).tobytes())
            for layer, idx in sorted(keep.items())]
    return _digest(kept, None if repair is None else np.asarray(repair, dtype=np.float32).tobytes())


@dataclass
class Prediction:
    """One variant's logits on a set of reviews (review ``i`` is the ``i``-th review of ``split``)."""

    name: str
    split: str
    logits: np.ndarray
    labels: np.ndarray
    info: dict | None = None  # how a refitted variant was made: seconds, layers that fell back

    @property
    def correct(self) -> np.ndarray:
        return ((self.logits > 0).astype(np.int64) == self.labels).astype(float)

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    @property
    def losses(self) -> np.ndarray:
        """Per-review binary cross-entropy of the logits."""
        return np.logaddexp(0.0, -(2.0 * self.labels - 1.0) * self.logits)

    @property
    def loss(self) -> float:
        return float(self.losses.mean())

    def moved(self, dense: "Prediction") -> dict:
        """How far this variant moved from ``dense`` on the same reviews: agreement of the predicted labels and
        mean |logit difference|."""
        return {"agreement": float(((self.logits > 0) == (dense.logits > 0)).mean()),
                "mean_abs_dlogit": float(np.abs(self.logits - dense.logits).mean())}


@dataclass
class Store:
    """The cached evaluations of one fine-tuned model (``role``) of a profile, and a record of those made here."""

    profile: str
    role: str
    clf: SentimentClassifier
    pad_id: int
    batch_size: int
    records: list[Prediction] = field(default_factory=list)
    computed: int = 0  # evaluations that were not in the cache
    refitted: dict = field(default_factory=dict)  # the last refitted model and how it was made

    def __post_init__(self):
        self.base = model_digest(self.clf)
        self.code = code_fingerprint(*FORWARD_CODE)

    def run(self, name: str, split: str, data: Encoded, keep: dict | None = None,
            repair: np.ndarray | None = None, refit: Refit | None = None) -> Prediction:
        """Logits of the variant (dense, or ``keep`` removed after the optional bias ``repair``, then refitted when
        ``refit`` is given) on ``data``."""
        made = variant_digest(keep, repair) if refit is None else _digest(variant_digest(keep, repair), refit.digest(),
                                                                          code_fingerprint("core.refit"))
        key = _digest(self.base, self.code, data_digest(data), made)
        path = artifact(self.profile, f"predictions/{self.role}-{key}.npy")
        about = path.with_suffix(".json")
        if path.exists():
            logits = np.load(path)
        else:
            model, info = self._model(made, keep, repair, refit)
            logits = predict(model, data, self.pad_id, self.batch_size)
            if info is not None:
                atomic_write_bytes(about, json.dumps(info).encode())
            buffer = io.BytesIO()
            np.save(buffer, logits)
            atomic_write_bytes(path, buffer.getvalue())
            self.computed += 1
        record = Prediction(name, split, logits, data.labels, json.loads(about.read_text()) if about.exists() else None)
        self.records.append(record)
        return record

    def _model(self, made: str, keep: dict | None, repair, refit: Refit | None) -> tuple[torch.nn.Module, dict | None]:
        """The variant's model; a refitted one is kept in memory for the next split of the same variant."""
        if keep is None:
            return self.clf, None
        if refit is None:
            return pruning.pruned_copy(self.clf, keep, repair), None
        if made not in self.refitted:
            self.refitted = {made: self._refitted(made, keep, repair, refit)}  # one at a time: a decoder is 0.5 GB
        return self.refitted[made]

    def _refitted(self, made: str, keep: dict, repair, refit: Refit) -> tuple[torch.nn.Module, dict]:
        """The refitted variant and how it was made. A refit changes only the output projections of a plain cut, so
        those (a few MB) are cached under ``refits/``: the same variant on another split is the cut plus them."""
        path = artifact(self.profile, f"refits/{self.role}-{_digest(self.base, self.code, made)}.pt")
        if path.exists():
            saved = torch.load(path)
            model = pruning.pruned_copy(self.clf, keep, repair)
            for layer, (weight, bias) in zip(model.family.layers(model.body), saved["outputs"]):
                set_linear_weight(model.family.ffn_out(layer), weight, bias)
            return model, json.loads(saved["info"])
        model, info = refit.apply(self.clf, keep, repair)
        outputs = [(linear_weight(out).detach().clone(), None if out.bias is None else out.bias.detach().clone())
                   for out in map(model.family.ffn_out, model.family.layers(model.body))]
        buffer = io.BytesIO()
        torch.save({"outputs": outputs, "info": json.dumps(info)}, buffer)
        atomic_write_bytes(path, buffer.getvalue())
        return model, info

    def table(self) -> pd.DataFrame:
        """Tidy rows: one per variant and review."""
        return pd.concat([pd.DataFrame({"role": self.role, "variant": r.name, "split": r.split,
                                        "review": np.arange(len(r.logits)), "label": r.labels,
                                        "logit": r.logits.astype(np.float64).round(5)}) for r in self.records],
                         ignore_index=True)


def export(profile: str, notebook: str, stores) -> pd.DataFrame:
    """Merge this notebook's predictions into ``figures/<profile>/predictions.csv.gz`` (one tidy table per profile,
    rows of earlier runs of the same notebook replaced), so a reader can re-analyse every comparison without a model."""
    path = FIGURES / profile / "predictions.csv.gz"
    new = pd.concat([s.table() for s in stores], ignore_index=True).assign(notebook=notebook)
    new = new.drop_duplicates(["role", "variant", "split", "review"])
    old = pd.read_csv(path, dtype={"notebook": str}) if path.exists() else new.iloc[:0]
    table = pd.concat([old[old["notebook"] != notebook], new], ignore_index=True)
    table = table.sort_values(["notebook", "role", "split", "variant", "review"], kind="stable")[list(new.columns)]
    atomic_write_bytes(path, gzip.compress(table.to_csv(index=False).encode(), mtime=0))  # mtime 0: same bytes
    return table
