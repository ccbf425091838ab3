import numpy as np
import pytest

from anatomy_utils import stats


def test_wilson_matches_the_closed_form():
    correct = np.array([1] * 8 + [0] * 2)  # 8 of 10
    z, n, p = 1.959964, 10, 0.8
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    np.testing.assert_allclose(stats.wilson(correct), (centre - half, centre + half), atol=1e-5)


def test_matched_pairs_is_tangos_score_interval():
    a = np.array([1.0] * 60 + [0.0] * 40)
    b = np.array([1.0] * 50 + [0.0] * 50)  # a right on 10 more reviews, never wrong where b is right
    result = stats.matched_pairs(a, b)
    assert result["delta"] == pytest.approx(0.10) and result["n"] == 100 and result["discordant"] == 10
    # the endpoints are where Tango's score statistic reaches -+z (the interval inverts the score test)
    assert stats._tango_statistic(10, 0, 100, result["ci_low"]) == pytest.approx(1.959964, abs=1e-4)
    assert stats._tango_statistic(10, 0, 100, result["ci_high"]) == pytest.approx(-1.959964, abs=1e-4)
    with pytest.raises(ValueError, match="same reviews"):
        stats.matched_pairs(a, b[:50])
    with pytest.raises(ValueError, match="0/1"):
        stats.matched_pairs(a * 0.5, b)


@pytest.mark.parametrize("up, down", [(38, 22), (36, 22), (5, 0), (3, 1), (0, 0), (12, 30)])
def test_tango_excludes_zero_exactly_when_mcnemars_score_test_rejects(up, down):
    low, high = stats.tango(up, down, 300)
    mcnemar = abs(up - down) / np.sqrt(up + down) if up + down else 0.0  # the score test at delta = 0
    assert (low > 0 or high < 0) == (mcnemar > 1.959964)
    assert low < (up - down) / 300 < high or up == down == 0


def test_identical_variants_do_not_give_a_point_interval():
    a = np.array([1.0, 0.0, 1.0, 1.0] * 16)  # 64 reviews, no discordant pair
    result = stats.matched_pairs(a, a)
    assert result["delta"] == 0.0
    # about +-3 pt: certainty that is not there is not claimed
    assert result["ci_low"] < -0.02 and result["ci_high"] > 0.02


def test_a_wider_family_widens_every_interval():
    a = np.array([1.0] * 60 + [0.0] * 40)
    b = np.array([1.0] * 50 + [0.0] * 50)
    one, four = stats.matched_pairs(a, b), stats.matched_pairs(a, b, stats.family_level(4))
    assert stats.family_level(4) == pytest.approx(0.9875)
    assert four["ci_low"] < one["ci_low"] and four["ci_high"] > one["ci_high"]


def test_two_level_carries_the_spread_between_masks():
    rng = np.random.default_rng(0)
    rule = (rng.random(200) < 0.8).astype(float)
    alike = np.stack([(rng.random(200) < 0.7).astype(float) for _ in range(10)])
    spread = np.stack([(rng.random(200) < p).astype(float) for p in np.linspace(0.55, 0.85, 10)])
    calm, wild = stats.two_level(rule, alike), stats.two_level(rule, spread)
    assert wild["ci_high"] - wild["ci_low"] > calm["ci_high"] - calm["ci_low"]
    assert wild["masks"] == 10 and wild["mask_spread"] > calm["mask_spread"]
    assert 0 <= wild["beats_share"] <= 1
    assert stats.two_level(rule, alike) == calm  # seeded


def test_compare_picks_the_procedure_and_keeps_the_sign():
    rng = np.random.default_rng(1)
    model = (rng.random(100) < 0.8).astype(float)
    masks = np.stack([(rng.random(100) < 0.6).astype(float) for _ in range(5)])
    forward, backward = stats.compare(model, masks), stats.compare(masks, model)
    assert forward["delta"] == pytest.approx(-backward["delta"])
    assert forward["ci_low"] == pytest.approx(-backward["ci_high"])
    assert stats.compare(model, masks[0]) == stats.matched_pairs(model, masks[0])


@pytest.mark.parametrize("low, high, null, margin, direction, expected", [
    (0.01, 0.05, 0.0, 0.02, "+", "confirmed"),
    (0.01, 0.05, 0.0, 0.02, "-", "refuted"),
    (-0.05, -0.01, 0.0, None, "+", "refuted"),
    (-0.01, 0.015, 0.0, 0.02, "+", "equivalent"),
    (-0.01, 0.03, 0.0, 0.02, "+", "inconclusive"),
    (-0.01, 0.03, -0.02, None, "+", "confirmed"),  # non-inferiority: above a loss of 2 pt
    (1.0005, 1.0103, 1.0, 0.02, "+", "equivalent"),  # excludes the null but lies inside the margin: not a speed-up
    (0.005, 0.03, 0.0, 0.02, "+", "confirmed"),  # excludes the null and reaches past the margin
])
def test_verdicts_follow_the_interval(low, high, null, margin, direction, expected):
    assert stats.verdict(low, high, null, margin, direction) == expected


def test_an_inconclusive_verdict_gives_its_mde_and_no_n_read_off_the_observed_effect():
    judged = stats.judge({"delta": 0.01, "ci_low": -0.02, "ci_high": 0.04, "n": 500, "level": 0.95}, 0.0, 0.005)
    assert judged["verdict"] == "inconclusive"
    se = 0.06 / (2 * 1.959964)
    assert judged["mde"] == pytest.approx((1.959964 + 0.841621) * se, rel=1e-4)
    assert "n_to_resolve" not in judged  # observed power: a design's power is computed at a stated alternative
    assert "detectable at 80% power" in stats.describe(judged)
    # what n counts stands beside n, not after the MDE
    assert stats.describe(judged, counted="reviews x 2 masks").startswith(
        "+1.0 pt [-2.0, +4.0], n = 500 reviews x 2 masks; detectable at 80% power: ")


def test_family_words_and_description():
    rows = stats.family([{"delta": -0.05, "ci_low": -0.08, "ci_high": -0.02, "n": 500, "level": 0.975},
                         {"delta": 0.0, "ci_low": -0.01, "ci_high": 0.01, "n": 500, "level": 0.975}], margin=0.02)
    assert [r["verdict"] for r in rows] == ["lower", "equivalent"]
    assert stats.describe(rows[0]) == "-5.0 pt [-8.0, -2.0] (97.5% simultaneous), n = 500"
    assert stats.describe({"delta": 0.01, "ci_low": 0.0, "ci_high": 0.02, "n": 64}) == "+1.0 pt [+0.0, +2.0], n = 64"


def test_two_level_is_not_a_point_when_every_mask_agrees_with_the_model():
    a = np.array([1.0, 0.0] * 50)
    result = stats.two_level(a, np.stack([a] * 5))
    assert result["delta"] == 0 and result["ci_low"] < -0.01 and result["ci_high"] > 0.01


def test_a_reversed_difference_negates_the_interval_and_turns_the_verdict():
    turned = stats.reversed_difference({"delta": 0.1, "ci_low": 0.02, "ci_high": 0.2, "n": 50, "verdict": "higher"})
    assert turned == pytest.approx({"delta": -0.1, "ci_low": -0.2, "ci_high": -0.02, "n": 50, "verdict": "lower"})
    assert stats.reversed_difference({"delta": 0.0, "ci_low": -0.1, "ci_high": 0.1})["ci_high"] == 0.1
