"""The least-squares refit of what is left after pruning, on the tiny bodies of the three families."""
import numpy as np
import pytest
import torch

from anatomy_utils.core import pruning, refit
from anatomy_utils.core.classifier import Encoded, SentimentClassifier, predict
from anatomy_utils.core.families import ffn_widths

from conftest import VOCAB, FFN


def _reviews(count: int, seed: int) -> Encoded:
    rng = np.random.default_rng(seed)
    ids = [list(rng.integers(3, VOCAB, size=rng.integers(5, 20))) for _ in range(count)]
    return Encoded(ids, rng.integers(0, 2, count))


def _keep(layers: int, kept: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {layer: torch.from_numpy(np.sort(rng.choice(FFN, kept, replace=False))) for layer in range(layers)}


def _final_states(clf, data: Encoded) -> torch.Tensor:
    batch = data.batch(range(len(data.ids)), 0)
    with torch.no_grad():
        hidden = clf.body(**batch, use_cache=False).last_hidden_state
    return clf.target_states(hidden, batch["attention_mask"])


def test_refit_brings_the_pruned_model_closer_to_dense_on_unseen_inputs(body):
    clf = SentimentClassifier(body, 0.0).eval()
    keep = _keep(2, FFN // 2)
    fitted, info = refit.Refit(_reviews(80, 0), 0, 8, ridge=1e-3).apply(clf, keep)
    plain = pruning.pruned_copy(clf, keep)
    unseen = _reviews(40, 1)
    dense = _final_states(clf, unseen)
    plain_error = (_final_states(plain, unseen) - dense).pow(2).sum(1).mean()
    refit_error = (_final_states(fitted, unseen) - dense).pow(2).sum(1).mean()
    assert refit_error < plain_error
    assert [len(k) for k in keep.values()] == [info["layers"]["kept"][layer] for layer in keep]
    assert info["seconds"] > 0 and isinstance(info["fell_back"], list)
    assert np.all(np.asarray(info["layers"]["refit_error"])[~np.asarray(info["layers"]["fell_back"])]
                  <= np.asarray(info["layers"]["plain_error"])[~np.asarray(info["layers"]["fell_back"])])


def test_the_refitted_model_is_physically_smaller_and_keeps_the_families_layout(body):
    clf = SentimentClassifier(body, 0.0).eval()
    fitted, _ = refit.Refit(_reviews(24, 0), 0, 8).apply(clf, _keep(2, 6))
    assert ffn_widths(fitted.body) == [6, 6]
    assert predict(fitted, _reviews(5, 2), 0, 4).shape == (5,)


def _statistics(x: torch.Tensor, y: torch.Tensor) -> dict:
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    return {"xx": x.T @ x, "xy": x.T @ y, "yy": (y * y).sum(), "n": len(x)}


def test_a_fit_that_writes_worse_on_held_back_tokens_is_refused():
    """Fitted tokens whose targets are noise: the fit chases the noise, the held-back tokens show it, the plain cut
    stays."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(5, 3, generator=g, dtype=torch.float64)  # 4 kept columns and a bias
    x_fit, x_check = (torch.randn(60, 4, generator=g, dtype=torch.float64),
                      torch.randn(60, 4, generator=g, dtype=torch.float64))
    truth = lambda x: x @ base[:4] + base[4]  # noqa: E731 - the plain cut is exact here
    noisy = _statistics(x_fit, 10 * torch.randn(60, 3, generator=g, dtype=torch.float64))
    weight, fell_back, errors = refit.judged_fit(noisy, _statistics(x_check, truth(x_check)), base, 1e-6, "columns",
                                                 True)
    assert fell_back and torch.equal(weight, base) and errors["refit_error"] > errors["plain_error"]
    weight, fell_back, _ = refit.judged_fit(_statistics(x_fit, truth(x_fit) + 0.5),
                                            _statistics(x_check, truth(x_check) + 0.5),
                                            base, 1e-6, "columns", True)
    assert not fell_back and torch.allclose(weight[4], base[4] + 0.5)  # a shifted target: the fitted bias follows it


@pytest.mark.parametrize("mode", refit.MODES)
def test_the_least_squares_solution_recovers_known_weights(mode):
    g = torch.Generator().manual_seed(1)
    w = torch.randn(4, 3, generator=g, dtype=torch.float64)
    scale = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)
    x = torch.randn(500, 4, generator=g, dtype=torch.float64)
    truth = torch.cat([scale[:, None] * w, torch.zeros(1, 3, dtype=torch.float64)])
    base = torch.cat([w, torch.zeros(1, 3, dtype=torch.float64)])
    fitted = refit.solve(_statistics(x, x @ truth[:4]), base, 1e-9, mode, has_bias=False)
    assert torch.allclose(fitted, truth, atol=1e-5)


def test_the_refit_recipe_names_what_decides_its_weights():
    data = _reviews(10, 0)
    assert refit.Refit(data, 0, 4).digest() == refit.Refit(data, 0, 4).digest()
    assert refit.Refit(data, 0, 4, ridge=0.1).digest() != refit.Refit(data, 0, 4).digest()
    with pytest.raises(ValueError, match="refit mode"):
        refit.Refit(data, 0, 4, mode="rows")
