"""The prediction store: evaluated once, served again only for the same model, keep-set, repair, reviews and code."""

import numpy as np
import pandas as pd
import pytest
import torch

from anatomy_utils.base import cache as cache_module
from anatomy_utils.core import pruning
from anatomy_utils.study import predictions
from anatomy_utils.core.classifier import Encoded, SentimentClassifier, predict
from conftest import FFN, tiny_body


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(predictions, "FIGURES", tmp_path / "figures")
    return tmp_path


def reviews(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return Encoded([list(rng.integers(3, 50, size=rng.integers(3, 9))) for _ in range(n)], rng.integers(0, 2, size=n))


def store(clf):
    return predictions.Store("t", "encoder", clf, pad_id=0, batch_size=4)


def keep(fraction_kept=0.5, seed=0):
    rng = np.random.default_rng(seed)
    return {layer: torch.from_numpy(np.sort(rng.choice(FFN, int(FFN * fraction_kept), replace=False)))
            for layer in range(2)}


def test_a_variant_is_computed_once_and_served_from_the_cache(cache):
    clf = SentimentClassifier(tiny_body("bert"), 0.0).eval()
    data = reviews()
    first = store(clf)
    dense, pruned = first.run("dense", "test", data), first.run("half", "test", data, keep())
    np.testing.assert_array_equal(dense.logits, predict(clf, data, 0, 4))
    np.testing.assert_array_equal(pruned.logits, predict(pruning.pruned_copy(clf, keep()), data, 0, 4))
    again = store(clf)  # a later run: nothing computed
    assert again.run("dense", "test", data).logits.tobytes() == dense.logits.tobytes()
    again.run("half, other name", "test", data, keep())
    assert (first.computed, again.computed) == (2, 0)


def test_changed_keep_set_repair_reviews_or_weights_are_never_served_stale(cache):
    clf = SentimentClassifier(tiny_body("gpt2"), 0.0).eval()
    data = reviews()
    s = store(clf)
    base = s.run("a", "test", data, keep(seed=0)).logits
    other_keep = s.run("b", "test", data, keep(seed=1)).logits
    repaired = s.run("c", "test", data, keep(seed=0), repair=np.ones((2, FFN), dtype=np.float32)).logits
    fewer = s.run("d", "test", reviews(6), keep(seed=0)).logits
    assert s.computed == 4 and not np.array_equal(base, other_keep) and not np.array_equal(base, repaired)
    with torch.no_grad():
        clf.head.bias += 1.0  # a different checkpoint of the same architecture
    changed = store(clf)
    np.testing.assert_allclose(changed.run("a", "test", data, keep(seed=0)).logits, base + 1.0, atol=1e-5)
    assert changed.computed == 1 and len(fewer) == 6


def test_a_change_to_the_forward_code_changes_the_key(cache, monkeypatch):
    clf = SentimentClassifier(tiny_body("llama"), 0.0).eval()
    data = reviews()
    store(clf).run("dense", "test", data)
    monkeypatch.setattr(predictions, "code_fingerprint", lambda *modules: "edited")
    edited = store(clf)
    edited.run("dense", "test", data)
    assert edited.computed == 1  # not read from the first run's file: a new key
    assert len(list((cache / "cache" / "t" / "predictions").glob("*.npy"))) == 2


def test_per_review_outcomes_and_how_far_a_variant_moved():
    dense = predictions.Prediction("dense", "test", np.array([2.0, -1.0, 0.5, -3.0]), np.array([1, 0, 0, 0]))
    pruned = predictions.Prediction("p", "test", np.array([1.0, 1.0, -0.5, -3.0]), np.array([1, 0, 0, 0]))
    np.testing.assert_array_equal(pruned.correct, [1, 0, 1, 1])
    assert pruned.moved(dense) == {"agreement": 0.5, "mean_abs_dlogit": 1.0}  # (1 + 2 + 1 + 0) / 4
    np.testing.assert_allclose(dense.losses, np.log1p(np.exp([-2.0, -1.0, 0.5, -3.0])))


def test_export_writes_one_tidy_table_and_replaces_a_notebooks_earlier_rows(cache):
    clf = SentimentClassifier(tiny_body("bert"), 0.0).eval()
    data = reviews(5)
    s = store(clf)
    s.run("dense", "test", data)
    predictions.export("t", "04", [s])
    predictions.export("t", "04", [s])  # a rerun of the same notebook: rows replaced, not appended
    table = pd.read_csv(cache / "figures" / "t" / "predictions.csv.gz")
    assert len(table) == 5 and list(table.columns) == ["role", "variant", "split", "review", "label", "logit",
                                                       "notebook"]
    assert (cache / "figures" / "t" / "predictions.csv.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_a_refitted_variant_is_cached_with_what_it_took_and_apart_from_the_plain_cut(cache):
    from anatomy_utils.core.refit import Refit

    clf = SentimentClassifier(tiny_body("llama"), 0.0).eval()
    data, recipe = reviews(), Refit(reviews(24, seed=3), 0, 8)
    first = store(clf)
    plain, refitted = first.run("plain", "test", data, keep()), first.run("refit", "test", data, keep(), refit=recipe)
    assert plain.info is None and refitted.info["seconds"] > 0 and not np.array_equal(plain.logits, refitted.logits)
    first.run("refit", "validation", reviews(5, seed=4), keep(), refit=recipe)  # the same model, kept in memory
    again = store(clf)
    served = again.run("refit", "test", data, keep(), refit=recipe)
    assert again.computed == 0 and served.info == refitted.info
    assert served.logits.tobytes() == refitted.logits.tobytes()
    again.run("refit, other ridge", "test", data, keep(), refit=Refit(reviews(24, seed=3), 0, 8, ridge=0.5))
    assert again.computed == 1


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_a_refitted_variant_on_another_split_reuses_the_cached_refit_exactly(cache, family):
    from anatomy_utils.core.refit import Refit

    clf = SentimentClassifier(tiny_body(family), 0.0).eval()
    recipe = Refit(reviews(16, seed=3), pad_id=0, batch_size=4)
    repair = np.full((2, FFN), 0.1, dtype=np.float32)
    first, later = store(clf), store(clf)  # a later store holds no refitted model in memory
    made = first.run("refit", "validation", reviews(seed=1), keep(), repair, recipe)
    served = later.run("refit", "test", reviews(seed=2), keep(), repair, recipe)
    expected, info = recipe.apply(clf, keep(), repair)
    assert served.logits.tobytes() == predict(expected, reviews(seed=2), 0, 4).tobytes()
    assert served.info == made.info and served.info["fell_back"] == info["fell_back"]
    assert len(list((cache / "cache" / "t" / "refits").iterdir())) == 1
