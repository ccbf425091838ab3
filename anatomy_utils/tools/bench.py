"""``make bench``: dense, zeroed, removed and width-rounded models timed with 04/05's protocol (``speed_study.speed``:
deep copies, an A/A pair, rounds in random orders, per-round ratios, bootstrap intervals, the A/A gate), for both
roles, and their speed-ups printed side by side against the two ceilings.

    python -m anatomy_utils.bench [PROFILE] [--threads N] [--pretrained] [--roles encoder decoder]

By default it needs the profile's fine-tuned checkpoints and the outputs of 02/03 (run ``make PROFILE=...`` first) and
times the paper rule's keep-sets. ``--pretrained`` needs neither: it times the pre-trained bodies with a fresh head and
seeded keep-sets of uneven per-layer widths at the same sparsities (timing depends on the widths, not on which neurons
are kept): the check that the protocol's A/A gate holds on this machine.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd
import torch

from ..study import speed_study
from ..core.classifier import SentimentClassifier
from ..core.families import ffn_widths
from ..base.profiles import load_profile
from ..base.runtime import device, setup
from ..core.timing import TOLERANCE


def uneven_keeps(widths: list[int], sparsity: float, seed: int) -> dict[int, torch.Tensor]:
    """Seeded keep-sets removing ``sparsity`` of all neurons, unevenly: layer shares from 0.5x to 1.5x the sparsity."""
    rng = np.random.default_rng(seed)
    shares = sparsity * np.linspace(0.5, 1.5, len(widths))
    return {layer: torch.from_numpy(np.sort(rng.choice(w, size=w - round(w * min(s, 0.95)), replace=False)))
            for layer, (w, s) in enumerate(zip(widths, rng.permutation(shares)))}


def model_and_keeps(profile, role: str, pretrained: bool):
    """The model of ``role``, its keep-sets per timed sparsity and the same with rounded widths (``None``: rounded
    by index order inside ``speed``)."""
    cfg = getattr(profile, role)
    if pretrained:
        from ..core.models import load_body

        torch.manual_seed(profile.seed)
        body, tokenizer = load_body(cfg.model, cfg.attention_dropout)
        clf = SentimentClassifier(body, cfg.dropout).to(device(profile.device)).eval()
        widths = ffn_widths(clf.body)
        keeps = {t: uneven_keeps(widths, t, profile.seed) for t in profile.prune.timing_sparsities}
        return clf, tokenizer, keeps, None, f"{cfg.model} (pre-trained, uneven seeded keep-sets)"
    from ..study import prune_study
    from ..study.finetune import load_trained

    clf, tokenizer, meta = load_trained(profile, role)
    keeps, rounded = prune_study.timing_keeps(profile, role, clf)  # the paper rule's, as 04/05 time them
    return clf, tokenizer, keeps, rounded, f"{meta['config']['model']} (fine-tuned, paper rule)"


def side_by_side(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Speed-up [95% CI] and the two bounds of every timed variant, one column block per role."""
    columns = {}
    for role, table in tables.items():
        t = table.set_index("variant")
        columns[(role, "speed-up [95% CI]")] = pd.Series(
            [f"{r.speedup:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" for r in t.itertuples()], index=t.index)
        columns[(role, "bound FLOPs")] = t["ceiling_flops"].round(3)
        columns[(role, "bound time")] = t["ceiling_time"].round(3)
        columns[(role, "s / 1,000")] = t["seconds_per_1000"].round(1)
    return pd.DataFrame(columns).reindex(next(iter(tables.values()))["variant"])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", nargs="?", default="default")
    parser.add_argument("--threads", type=int, default=speed_study.THREADS, help="torch threads while timing")
    parser.add_argument("--pretrained", action="store_true", help="pre-trained bodies, no checkpoints or 02/03 needed")
    parser.add_argument("--roles", nargs="+", default=["encoder", "decoder"], choices=["encoder", "decoder"])
    parser.add_argument("--batch", type=int, help="reviews per timed call instead of the profile's prune.timing_batch")
    args = parser.parse_args(argv)
    profile = load_profile(args.profile)
    if args.batch:
        profile = dataclasses.replace(profile, prune=dataclasses.replace(profile.prune, timing_batch=args.batch))
    setup(profile.seed, profile.threads)
    p = profile.prune
    print(f"profile {profile.name}: batch {p.timing_batch} reviews, {p.timing_rounds} rounds in random orders, "
          f"{args.threads} timing thread(s) ({profile.threads} otherwise); median of per-round ratios to dense copy A, "
          f"bootstrap 95% intervals; gate: A/A interval inside 1 +- {TOLERANCE:g}")
    tables, values = {}, {}
    for role in args.roles:
        clf, tokenizer, keeps, rounded, label = model_and_keeps(profile, role, args.pretrained)
        started = time.perf_counter()
        table, role_values, gate = speed_study.speed(profile, role, clf, tokenizer, keeps, rounded=rounded,
                                                     threads=args.threads)
        print(f"\n{role}: {label}; {time.perf_counter() - started:.0f} s")
        print("\n".join(speed_study.describe(role_values, role)))
        tables[role], values = table, values | role_values
        del clf
    print()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(side_by_side(tables).to_string())
    return values


if __name__ == "__main__":
    main()
