"""Every summary key a reader asks for is one some run writes: the README writer and the claims ledger, read against
the committed summaries, ask for no key that no notebook (or ``make cold``) writes, so a key renamed on one side cannot
leave the other reading nothing."""
import re

import pytest

from anatomy_utils.base import summary
from anatomy_utils.base.profiles import load_profile
from anatomy_utils.present import report
from anatomy_utils.study import claims

PROFILES = ("default", "rotten_tomatoes")
# Keys a reader asks for that only some runs write, each with the reason.
OPTIONAL = {
    r"run\.(wall|setup|study)_minutes|run\.cold_.*": "written by `make cold` only",
    r"scores\.\w+\.best\.p30\..*": "06 at 30%: only profiles whose scores.sparsities include 0.3 (paper)",
    r"seeds\.\w+\.\w+\.stable": "07 pools only the claims that depend on the fine-tuned weights (seeds.SEED_CLAIMS)",
}


class Recording(dict):
    """A summary that notes every key asked of it, and for which profile."""

    def __init__(self, profile: str, values: dict, asked: dict):
        super().__init__(values)
        self.profile, self.asked = profile, asked

    def _note(self, key):
        self.asked.setdefault(key, set()).add(self.profile)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)


def unwritten(asked: dict) -> list[str]:
    """Keys asked for that the committed summary of none of the profiles they were asked for holds, less the optional
    ones."""
    return sorted(k for k, profiles in asked.items() if all(k not in summary.read(p) for p in profiles)
                  and not any(re.fullmatch(pattern, k) for pattern in OPTIONAL))


@pytest.fixture
def asked(monkeypatch):
    noted, read = {}, summary.read
    monkeypatch.setattr(summary, "read", lambda profile: Recording(profile, read(profile), noted))
    return noted


def test_the_readme_writer_asks_only_for_keys_some_run_writes(asked):
    for profile in PROFILES:
        report.findings_markdown(profile), report.results_markdown(profile), report.headline_markdown(profile)
    report.ledger_markdown(), report.seeds_markdown(), report.datasets_markdown()
    assert len(asked) > 500 and unwritten(asked) == []


def test_the_ledger_asks_only_for_keys_some_run_writes(asked):
    for profile in PROFILES:
        claims.ledger(load_profile(profile))
    assert len(asked) > 100 and unwritten(asked) == []


def test_the_check_bites(asked):
    summary.read("default").get("scores.encoder.best.acuracy_drop")  # a misspelt key
    assert unwritten(asked) == ["scores.encoder.best.acuracy_drop"]
