"""``make bench``: dense, zeroed and removed models timed side by side, against the FLOP ceiling, for both roles.

Needs the profile's fine-tuned checkpoints and the outputs of 02/03 (run ``make PROFILE=...`` first).
"""
from __future__ import annotations

import sys

from .finetune import load_trained
from .profiles import load_profile
from .prune_study import speed
from .runtime import setup


def main(profile_name: str) -> None:
    profile = load_profile(profile_name)
    setup(profile.seed, profile.threads)
    p = profile.prune
    print(f"profile {profile.name}: batch {p.timing_batch} x {p.timing_tokens} tokens, {p.timing_repeats} interleaved "
          f"repeats, {profile.threads} threads; medians")
    for role in profile.models():
        clf, tokenizer, meta = load_trained(profile, role)
        table, max_diff = speed(profile, role, clf, tokenizer)
        print(f"\n{role} ({meta['config']['model']}); max |logit removed - zeroed| = {max_diff:.1e}")
        print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "default")
