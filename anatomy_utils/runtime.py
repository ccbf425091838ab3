"""Determinism, thread count, progress bars and repository paths."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "data" / "cache"
FIGURES = ROOT / "figures"


def setup(seed: int, threads: int) -> None:
    """Fix seeds and thread counts so a run repeats to the last printed digit."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if not progress_enabled():
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()


def progress_enabled() -> bool:
    """Progress bars are for people; ANATOMY_PROGRESS=0 (set by the Makefile for papermill and nbval) turns them off."""
    return os.environ.get("ANATOMY_PROGRESS", "1") != "0"


def progress(iterable=None, **kwargs):
    """A progress bar over ``iterable``, silent when progress bars are off."""
    return tqdm(iterable, disable=not progress_enabled(), leave=False, **kwargs)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write a file so that an interrupted run never leaves it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def artifact(profile: str, name: str) -> Path:
    """Path of a cached intermediate result of a profile (git-ignored, recomputed by ``make``)."""
    path = CACHE / profile / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
