"""Every summary key a reader asks for is one some run writes: the README writer and the claims ledger, read against
the committed summaries, ask for no key that no notebook (or ``make cold``) writes, so a key renamed on one side cannot
leave the other reading nothing. And no module spells a key out: they are built by ``base.keys``."""
import ast
import re
from pathlib import Path

import nbformat
import pytest

import anatomy_utils
from anatomy_utils.base import keys, summary
from anatomy_utils.base.profiles import load_profile
from anatomy_utils.present import front_page, report
from anatomy_utils.study import claims

PROFILES = ("default", "rotten_tomatoes")
# Keys a reader asks for that only some runs write, each with the reason.
OPTIONAL = {
    r"run\.(wall|setup|study)_minutes|run\.cold_.*": "written by `make cold` only",
    r"scores\.\w+\.best\.p30\..*": "06 at 30%: only profiles whose scores.sparsities include 0.3 (paper)",
    r"seeds\.\w+\.\w+\.stable": "07 pools only the claims that depend on the fine-tuned weights (seeds.SEED_CLAIMS)",
    r"seeds\.\w+\.\w+\.(pooled_\w+|between_sd|within_sd)": "07 pools a row only where two or more runs tested it "
                                                           "(neurons_by_depth is descriptive) and no effect lies on "
                                                           "the bound of its scale (seeds.pool)",
    r"claims\.(zeroing|removal)_speeds_up\.\w+\.effect": "a speed row is not testable, so has no effect, in a run "
                                                         "whose A/A timing gate failed",
    r"claims\.\w+\.\w+\.(source|bound_text|power)": "the ledger's view (claims.ledger_values): a row's source, "
                                                    "and the bound and power of a registered (confirmed) row",
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
    return sorted(k for k, profiles in asked.items()
                  if all(k not in claims.ledger_values(summary.read(p)) for p in profiles)  # the README's view
                  and not any(re.fullmatch(pattern, k) for pattern in OPTIONAL))


@pytest.fixture
def asked(monkeypatch):
    noted, read = {}, summary.read
    monkeypatch.setattr(summary, "read", lambda profile: Recording(profile, read(profile), noted))
    return noted


def test_the_readme_writer_asks_only_for_keys_some_run_writes(asked):
    for profile in PROFILES:
        report.findings_markdown(profile), report.results_markdown(profile), front_page.headline_markdown(profile)
    report.ledger_markdown(), report.seeds_markdown(), report.datasets_markdown()
    assert len(asked) > 500 and unwritten(asked) == []


def test_the_ledger_asks_only_for_keys_some_run_writes(asked):
    for profile in PROFILES:
        claims.ledger(load_profile(profile))
    assert len(asked) > 100 and unwritten(asked) == []


def test_the_check_bites(asked):
    summary.read("default").get("scores.encoder.best.acuracy_drop")  # a misspelt key
    assert unwritten(asked) == ["scores.encoder.best.acuracy_drop"]


def spelled_keys(source: str) -> list[str]:
    """The summary keys a module's code spells out: string constants and f-string texts (docstrings and prose left
    aside: no spaces) that start with an area of ``base.keys`` and a dot."""
    found, tree = [], ast.parse(source)
    pieces = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    for node in ast.walk(tree):
        if id(node) in pieces:  # a piece of an f-string, read with it
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if " " not in text and text.split(".")[0] in keys.AREAS and "." in text:
            found.append(text)
    return found


def test_no_module_spells_out_a_summary_key():
    package = Path(anatomy_utils.__file__).parent
    spelled = {str(path.relative_to(package)): spelled_keys(path.read_text()) for path in package.rglob("*.py")
               if path.name != "keys.py"}
    offenders = {path: found for path, found in spelled.items() if found}
    assert not offenders, f"summary keys spelt outside base.keys: {offenders}"


def test_no_notebook_spells_out_a_summary_key():
    notebooks = Path(anatomy_utils.__file__).parent.parent / "notebooks"
    offenders = {}
    for path in sorted(notebooks.glob("[0-9]*.ipynb")):
        cells = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
        found = [key for cell in cells for key in spelled_keys(cell.source)]
        if found:
            offenders[path.name] = found
    assert not offenders, f"summary keys spelt in notebooks (build them with au.keys): {offenders}"


def test_the_spelling_check_bites():
    assert spelled_keys('key = f"scores.{role}.best.score"') == ["scores.{}.best.score"]
    assert spelled_keys('forget = ("claims.",)') == ["claims."]
    assert spelled_keys('key = keys.scores(role, "best", "score")\n"""The scores.best keys, in words."""') == []


def test_the_schema_builds_the_keys_the_summaries_hold():
    key = keys.prune("encoder", keys.percent(0.3), "rule_vs_random", "verdict")
    assert key == "prune.encoder.p30.rule_vs_random.verdict"
    assert keys.percent(0.7) == "p70" and keys.under(keys.claim()) == "claims."
    values = summary.read("default")
    assert {k.split(".")[0] for k in values} - {"profile"} <= set(keys.AREAS)
