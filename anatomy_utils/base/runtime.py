"""Determinism, thread count, device, progress bars and the repository's paths."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[2]
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


def device(setting: str = "auto") -> torch.device:
    """The device of a profile's ``device``: ``auto`` takes CUDA when torch sees a GPU, else the CPU."""
    if setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("The profile asks for `device: cuda`, but torch sees no CUDA GPU here "
                           "(torch.cuda.is_available() is False). Set `device: auto` or `device: cpu` in the profile, "
                           "or run on a machine with a GPU and a CUDA build of torch.")
    return torch.device("cuda" if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()) else "cpu")


def synchronize() -> None:
    """Wait for queued GPU work (a no-op on the CPU), so a timer measures the work and not its launch."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def progress_enabled() -> bool:
    """Progress bars are for people; ANATOMY_PROGRESS=0 (set by the Makefile for papermill and nbval) turns them off."""
    return os.environ.get("ANATOMY_PROGRESS", "1") != "0"


def progress(iterable=None, **kwargs):
    """A progress bar over ``iterable``, silent when progress bars are off."""
    return tqdm(iterable, disable=not progress_enabled(), leave=False, **kwargs)
