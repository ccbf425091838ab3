"""``figures/<profile>/summary.json``: one flat JSON object of the run's headline numbers (dotted keys)."""
from __future__ import annotations

import json
import math
import numbers
import platform
import subprocess

import nbformat
import numpy as np
import transformers

from . import keys
from .cache import atomic_write_bytes
from .runtime import FIGURES, ROOT

DECIMALS = 6  # floats are stored rounded to this many decimals
# Keys that describe one run (which commit, cold or not, how long): written afresh by every run, never carried over.
RUN_PREFIXES = (keys.under(keys.run()), keys.under(keys.runtime()))
# Instruction sets whose presence changes which CPU kernels torch, MKL and oneDNN pick (and so the last bits of a
# float result).
CPU_FLAGS = ("avx", "avx2", "avx512_bf16", "avx512_fp16", "avx512_vnni", "avx512bw", "avx512f", "amx_bf16", "amx_int8",
             "amx_tile", "fma")


def path(profile: str):
    return FIGURES / profile / "summary.json"


def read(profile: str) -> dict:
    return json.loads(path(profile).read_text()) if path(profile).exists() else {}


def _plain(value):
    """A JSON value: strings, booleans and None as they are, integers as int, other numbers as floats rounded to
    ``DECIMALS``; NaN and infinities (a standard deviation of one seed, say) become None, so that the file is strict
    JSON and two summaries of the same run compare equal."""
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    return round(value, DECIMALS) if math.isfinite(value) else None


def record(profile: str, values: dict, forget: tuple[str, ...] = ()) -> dict:
    """Merge ``values`` (dotted key -> number or string) into the profile's summary and write it atomically; earlier
    keys starting with one of ``forget`` are dropped first."""
    kept = {k: v for k, v in read(profile).items() if not k.startswith(forget)} if forget else read(profile)
    merged = {k: _plain(v) for k, v in (kept | {"profile": profile} | values).items()}  # old NaN too
    atomic_write_bytes(path(profile),
                       (json.dumps(dict(sorted(merged.items())), indent=1, allow_nan=False) + "\n").encode())
    return merged


def record_runtime(profile: str, cold: bool = False) -> float:
    """``runtime.minutes``: what a cold ``make`` takes, measured; and this run's own ``run.*`` block.

    The summed papermill durations of the profile's executed notebooks, plus the fine-tuning and evaluation minutes
    of every checkpoint that the last run of 01 found in the cache (recorded when it was built). Every ``run.*`` and
    ``runtime.*`` key of an earlier run (a ``make cold``'s wall clock and commit, say) is dropped, not carried into this
    one; ``make cold`` adds its keys to the run afterwards (``cold=True`` marks a run as one).
    """
    notebooks = sorted((ROOT / "notebooks" / "executed" / profile).glob("*.ipynb"))
    per = {nb.stem: nbformat.read(nb, as_version=4).metadata["papermill"]["duration"] / 60 for nb in notebooks}
    values = read(profile)
    reused = sum(values[keys.finetune(role, "build_minutes")] for role in ("encoder", "decoder")
                 if values.get(keys.finetune(role, "cached")))
    total = sum(per.values()) + reused
    fingerprints = {values.get(keys.finetune(role, "code_fingerprint")) for role in ("encoder", "decoder")}
    record(profile, {keys.runtime("notebooks", k, "minutes"): v for k, v in per.items()}
           | {keys.runtime("notebook_minutes"): sum(per.values()), keys.runtime("cached_training_minutes"): reused,
              keys.runtime("minutes"): total, keys.run("commit"): commit(), keys.run("cold"): cold,
              keys.run("code_fingerprint"): fingerprints.pop() if len(fingerprints) == 1 else "mixed",
              keys.env("transformers"): transformers.__version__} | cpu(), forget=RUN_PREFIXES)
    return total


def cpu() -> dict:
    """``env.cpu_model``, ``env.cpu_flags`` (the instruction sets of ``CPU_FLAGS`` present, sorted),
    ``env.cpu_capability`` (the kernels ATen dispatches to) and ``env.threads``: what decides a float's last bits."""
    import torch

    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name.strip() == "model name" and not model:
                    model = value.strip()
                elif name.strip() in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:  # not Linux
        pass
    return {keys.env("cpu_model"): model or platform.processor() or platform.machine() or "unknown",
            keys.env("cpu_flags"): ",".join(sorted(flags & set(CPU_FLAGS))),
            keys.env("cpu_capability"): torch.backends.cpu.get_cpu_capability(),
            keys.env("threads"): torch.get_num_threads()}


def commit() -> str:
    """The commit the run's code came from, marked "+changes" when tracked files differed from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", "anatomy_utils", ":(glob)notebooks/*.ipynb",
                  "params")
    return head + ("+changes" if changed else "")
