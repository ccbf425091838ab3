"""``figures/<profile>/summary.json``: one flat JSON object of the run's headline numbers (dotted keys)."""
from __future__ import annotations

import json
import numbers
import subprocess

import nbformat
import transformers

from .runtime import FIGURES, ROOT, atomic_write_bytes


def path(profile: str):
    return FIGURES / profile / "summary.json"


def read(profile: str) -> dict:
    return json.loads(path(profile).read_text()) if path(profile).exists() else {}


def _plain(value):
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    return round(float(value), 6)


def record(profile: str, values: dict) -> dict:
    """Merge ``values`` (dotted key -> number or string) into the profile's summary and write it atomically."""
    merged = read(profile) | {"profile": profile} | {k: _plain(v) for k, v in values.items()}
    atomic_write_bytes(path(profile), (json.dumps(dict(sorted(merged.items())), indent=1) + "\n").encode())
    return merged


def record_runtime(profile: str) -> float:
    """``runtime.minutes``: what a cold ``make`` takes, measured.

    The summed papermill durations of the profile's executed notebooks, plus the fine-tuning and evaluation minutes
    of every checkpoint that the last run of 01 found in the cache (recorded when it was built).
    """
    notebooks = sorted((ROOT / "notebooks" / "executed" / profile).glob("*.ipynb"))
    per = {nb.stem: nbformat.read(nb, as_version=4).metadata["papermill"]["duration"] / 60 for nb in notebooks}
    values = read(profile)
    reused = sum(values[f"finetune.{role}.build_minutes"] for role in ("encoder", "decoder")
                 if values.get(f"finetune.{role}.cached"))
    total = sum(per.values()) + reused
    fingerprints = {values.get(f"finetune.{role}.code_fingerprint") for role in ("encoder", "decoder")}
    record(profile, {f"runtime.notebooks.{k}.minutes": v for k, v in per.items()}
           | {"runtime.notebook_minutes": sum(per.values()), "runtime.cached_training_minutes": reused,
              "runtime.minutes": total, "run.commit": commit(), "run.cold": reused == 0,
              "run.code_fingerprint": fingerprints.pop() if len(fingerprints) == 1 else "mixed",
              "env.transformers": transformers.__version__})
    return total


def commit() -> str:
    """The commit the run's code came from, marked "+changes" when tracked files differed from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", "anatomy_utils", ":(glob)notebooks/*.ipynb", "params")
    return head + ("+changes" if changed else "")

