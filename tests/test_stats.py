import numpy as np
import pytest

from anatomy_utils import stats


def test_wilson_matches_the_closed_form():
    correct = np.array([1] * 8 + [0] * 2)  # 8 of 10
    z, n, p = 1.959964, 10, 0.8
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    np.testing.assert_allclose(stats.wilson(correct), (centre - half, centre + half), atol=1e-5)


def test_sign_test_is_exact_mcnemar_on_discordant_pairs():
    a = np.array([1, 1, 1, 1, 1, 1, 0, 0, 1, 0])
    b = np.array([0, 0, 0, 0, 0, 1, 0, 0, 1, 1])  # a wins 5 discordant pairs, loses 1
    assert stats.sign_test(a, b) == pytest.approx(2 * (1 + 6) / 64)  # two-sided: 2 P(X <= 1), X ~ Bin(6, 1/2)
    assert stats.sign_test(a, a) == 1.0  # no discordant pair: no evidence either way


def test_paired_difference_and_its_interval():
    a = np.array([1.0] * 60 + [0.0] * 40)
    b = np.array([1.0] * 50 + [0.0] * 50)  # a is right on 10 more reviews, never wrong where b is right
    result = stats.paired(a, b, seed=1)
    assert result["delta"] == pytest.approx(0.10) and result["n"] == 100
    assert 0 < result["ci_low"] < 0.10 < result["ci_high"] < 0.2
    assert result["p"] == pytest.approx(2 * 0.5**10)
    assert stats.paired(a, b, seed=1) == result  # seeded: the same interval every time
    with pytest.raises(ValueError, match="same reviews"):
        stats.paired(a, b[:50])


def test_identical_variants_give_a_zero_width_interval():
    a = np.array([1.0, 0.0, 1.0, 1.0])
    assert stats.paired(a, a) | {"n": 0} == {"delta": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p": 1.0, "n": 0}


def test_holm_step_down():
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])


def test_words_follow_the_corrected_p_and_the_interval():
    resolved = {"delta": -0.05, "ci_low": -0.08, "ci_high": -0.02, "p": 0.001, "p_holm": 0.004, "n": 500}
    assert stats.word(resolved) == "lower"
    assert stats.word(resolved | {"p_holm": 0.2}) == "not resolved at this n"
    assert stats.word(resolved | {"ci_high": 0.01}) == "not resolved at this n"
    assert stats.describe(resolved) == "-5.0 pt [-8.0, -2.0], p(Holm) = 0.004, n = 500"
    assert stats.describe({"delta": 0.01, "ci_low": 0.0, "ci_high": 0.02, "n": 64}) == "+1.0 pt [+0.0, +2.0], n = 64"
