"""The registered confirmation: fresh reviews disjoint from every split a pilot stage reads, a frozen design that
refuses to be changed under its outputs, power computed at stated alternatives, and Holm's step-down keeping the
primary family's error at 5% (checked by simulation)."""
import dataclasses

import numpy as np
import pytest
from scipy.stats import norm

from anatomy_utils import stats
from anatomy_utils.base.data import load_splits
from anatomy_utils.base.profiles import load_profile
from anatomy_utils.study import confirm, registration


@pytest.mark.parametrize("name", ["smoke", "default", "rotten_tomatoes"])
def test_the_fresh_reviews_share_no_review_with_any_split_a_pilot_stage_reads(name):
    profile = load_profile(name)
    design = registration.load(name) if name != "smoke" else None
    count, skip = (600, 0) if design is None else (max(design.reviews.values()), design.fresh_from)
    fresh = confirm.fresh_reviews(profile, count, skip)
    ids = set(map(confirm.review_id, fresh["text"]))
    assert len(ids) == count == len(fresh)  # distinct reviews, as many as asked
    assert sorted(set(fresh["label"])) == [0, 1] and abs(np.mean(fresh["label"]) - 0.5) < 0.01  # label-balanced
    for split in load_splits(profile.data, profile.seed).values():  # train, validation, test: 01-07 read nothing else
        assert not ids & set(map(confirm.review_id, split["text"]))
    assert list(confirm.fresh_reviews(profile, count, skip)["text"]) == list(fresh["text"])  # the same every run


def test_the_committed_registration_loads_with_its_digest_and_plans_power_at_stated_alternatives():
    design = registration.load("default")
    assert design.sha256 == registration.digest("default") and len(design.sha256) == 64
    assert design.primary() and design.family_alpha <= registration.ALPHA
    assert all(design.rows[k].level == pytest.approx(1 - design.family_alpha / len(design.primary()))
               for k in design.primary())
    for row in design.rows.values():
        assert 0 <= row.power <= 1 and row.planning_se > 0 and row.reviews <= design.reviews[row.role]
        assert row.alternative_source  # every alternative says where it comes from
    assert 0 < design.expected_decided() <= len(design.rows)


def test_decision_power_matches_simulated_normal_intervals():
    rng = np.random.default_rng(0)
    for alternative, null, margin, se, level in ((0.0, -0.02, None, 0.008, 0.95), (0.01, 0.0, 0.02, 0.006, 0.95),
                                                 (-0.001, -0.02, None, 0.006, 0.99), (0.3, 0.0, 0.02, 0.04, 0.99)):
        estimates = rng.normal(alternative, se, 20000)
        half = stats.z_value(level) * se
        verdicts = [stats.verdict(e - half, e + half, null, margin) for e in estimates]
        simulated = np.mean([v != "inconclusive" for v in verdicts])
        assert registration.decision_power(alternative, null, margin, se, level) == pytest.approx(simulated, abs=0.01)
    assert registration.decision_power(0.0, 0.0, None, 0.01, 0.95) == pytest.approx(0.05)  # at the null: its level
    assert registration.decision_power(0.0, 0.0, 0.02, 0.001, 0.95) == 1.0  # always inside the margin or clear of it


def test_a_changed_registration_refuses_to_run_over_outputs_written_under_another_digest(tmp_path, monkeypatch):
    monkeypatch.setattr(registration, "FIGURES", tmp_path)
    design = registration.load("default")
    registration.check_frozen(design)  # nothing written yet
    registration.stamp(design)
    registration.check_frozen(design)  # the same design again: fine
    changed = dataclasses.replace(design, sha256="0" * 64)
    with pytest.raises(registration.RegistrationError, match="a changed design is a new version"):
        registration.check_frozen(changed)
    registration.check_frozen(dataclasses.replace(changed, version=design.version + 1))  # a new version: new folder


def test_a_later_version_reads_fresh_reviews_no_earlier_version_read():
    profile = load_profile("smoke")
    first, second = confirm.fresh_reviews(profile, 300), confirm.fresh_reviews(profile, 200, skip=300)
    assert not set(map(confirm.review_id, first["text"])) & set(map(confirm.review_id, second["text"]))
    assert list(confirm.fresh_reviews(profile, 300, skip=0)["text"]) == list(first["text"])  # v1's draw unchanged


def test_the_family_level_is_the_largest_whose_simulated_error_stays_within_5_percent(monkeypatch):
    from anatomy_utils.tools import register
    design = {"profile": "x", "version": 1, "frozen": "", "reviews": {"encoder": 100}, "mask_seed": 0,
              "not_confirmed": {}, "rows": {"rule_keeps_accuracy.encoder": {
                  "null": -0.02, "direction": "+", "family": "primary", "alternative": 0.0, "alternative_source": "",
                  "reviews": 100, "planning_se": 0.01}}}
    seen = []

    def error(parsed, datasets, resamples):  # a design that errs 1.3 times its nominal level
        seen.append(parsed.family_alpha)
        assert parsed.rows["rule_keeps_accuracy.encoder"].level == pytest.approx(1 - parsed.family_alpha)
        return 1.3 * parsed.family_alpha

    monkeypatch.setattr(confirm, "familywise_error", error)
    alpha, rate = register.calibrated_alpha(design, datasets=10000)
    assert alpha == 0.035 and seen == [0.05, 0.045, 0.04, 0.035]  # 1.3 * 0.035 + 2 SE = 0.0500 <= 0.05
    monkeypatch.setattr(confirm, "familywise_error", lambda *a: 0.2)
    with pytest.raises(registration.RegistrationError, match="no family level"):
        register.calibrated_alpha(design)


def test_a_profile_without_a_registration_gets_a_clear_error():
    with pytest.raises(registration.RegistrationError, match="frozen beforehand"):
        registration.load("smoke")


def _z_judge(z_scores: dict):
    """A row judged by a normal interval around its z-score (se 1, null 0)."""
    def judge(key, level):
        half = norm.ppf(1 - (1 - level) / 2)
        return {"verdict": stats.verdict(z_scores[key] - half, z_scores[key] + half), "level": level}
    return judge


def test_holm_steps_down_and_keeps_the_familywise_error_where_unadjusted_intervals_do_not():
    rows = [f"row{i}" for i in range(5)]
    judged = confirm.holm(_z_judge({"row0": 3.5, "row1": 2.55, "row2": 0.3, "row3": -0.1, "row4": 1.0}), rows)
    assert judged["row0"]["verdict"] == "confirmed" and judged["row0"]["level"] == pytest.approx(0.99)
    assert judged["row1"]["verdict"] == "confirmed" and judged["row1"]["level"] == pytest.approx(1 - 0.05 / 4)
    assert all(judged[k]["verdict"] == "inconclusive" and judged[k]["level"] == pytest.approx(1 - 0.05 / 3)
               for k in ("row2", "row3", "row4"))
    rng = np.random.default_rng(1)
    any_wrong = lambda judge: any(r["verdict"] != "inconclusive" for r in judge.values())  # noqa: E731
    holm = np.mean([any_wrong(confirm.holm(_z_judge(dict(zip(rows, rng.normal(size=5)))), rows)) for _ in range(4000)])
    naive = np.mean([any_wrong({k: _z_judge(dict(zip(rows, z)))(k, 0.95) for k in rows})
                     for z in rng.normal(size=(4000, 5))])
    assert holm <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 4000) and naive > 0.2  # 1 - 0.95^5 = 0.23


def test_the_registered_primary_family_errs_at_most_5_percent_at_its_nulls():
    design = registration.load("default")
    rate = confirm.familywise_error(design, datasets=300, resamples=300, seed=2)
    assert rate <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 300)


def test_a_row_states_its_one_sided_bound_on_the_claims_side():
    points = lambda v: f"{100 * v:+.1f} pt"  # noqa: E731
    assert registration.bound_text({"direction": "+", "ci_low": -0.012, "ci_high": 0.01}, points) == "at least -1.2 pt"
    assert registration.bound_text({"direction": "-", "ci_low": 0.8, "ci_high": 0.91}, "{:.2f}".format) \
        == "at most 0.91"
