"""summary.json: strict JSON (no NaN), and every run's own run.* block (nothing carried from an earlier run)."""
import json
import math

import nbformat
import numpy as np
import pytest

from anatomy_utils.base import summary


@pytest.fixture
def figures(tmp_path, monkeypatch):
    """Summaries and executed notebooks in a temporary repository root, never the real ones."""
    monkeypatch.setattr(summary, "FIGURES", tmp_path / "figures")
    monkeypatch.setattr(summary, "ROOT", tmp_path)
    monkeypatch.setattr(summary, "commit", lambda: "newcommit000")
    return tmp_path


def test_nan_and_infinities_are_written_as_null_and_the_file_is_strict_json(figures):
    summary.record("p", {"prune.decoder.p30.random.accuracy_std": float("nan"), "a.inf": math.inf,
                         "a.neg_inf": np.float64(-np.inf), "a.nan32": np.float32("nan"), "a.ok": np.float32(0.25),
                         "a.count": np.int64(3), "a.flag": np.bool_(True), "a.word": "yes"})
    text = summary.path("p").read_text()
    assert "NaN" not in text and "Infinity" not in text
    values = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))
    assert values["prune.decoder.p30.random.accuracy_std"] is None
    assert values["a.inf"] is None and values["a.neg_inf"] is None and values["a.nan32"] is None
    assert values["a.ok"] == 0.25 and values["a.count"] == 3 and values["a.flag"] is True and values["a.word"] == "yes"
    assert summary.read("p") == summary.read("p")  # two reads of one summary compare equal (NaN never would)


def test_floats_are_rounded_to_the_stored_decimals(figures):
    assert summary.record("p", {"x": 0.1234564999, "y": 1e-7})["x"] == 0.123456
    assert summary.read("p")["y"] == 0.0


def fake_executed_notebook(folder, name: str, seconds: float) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"duration": seconds}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_a_plain_run_drops_the_run_keys_of_an_earlier_cold_run(figures):
    executed = figures / "notebooks" / "executed" / "p"
    fake_executed_notebook(executed, "01_finetune", 600)
    fake_executed_notebook(executed, "02_layer_anatomy", 120)
    stale = {"run.commit": "f958714a2c1c", "run.cold": True, "run.wall_minutes": 53.68, "run.setup_minutes": 1.9,
             "run.study_minutes": 51.8, "run.cold_commit": "f958714a2c1c", "run.cold_reproduces_committed": True,
             "run.cold_within_tolerance": 0, "runtime.notebooks.99_removed.minutes": 5.0}
    results = {"finetune.encoder.test_accuracy": 0.9, "finetune.encoder.cached": True,
               "finetune.encoder.build_minutes": 10.0, "finetune.decoder.cached": False,
               "finetune.decoder.build_minutes": 17.0, "finetune.encoder.code_fingerprint": "abc",
               "finetune.decoder.code_fingerprint": "abc", "env.torch": "2.x"}
    summary.record("p", stale | results)

    total = summary.record_runtime("p")

    after = summary.read("p")
    assert total == pytest.approx(12 + 10)  # 12 minutes of notebooks, 10 of training found cached
    for key in ("run.wall_minutes", "run.setup_minutes", "run.study_minutes", "run.cold_commit",
                "run.cold_reproduces_committed", "run.cold_within_tolerance", "runtime.notebooks.99_removed.minutes"):
        assert key not in after, key
    assert after["run.commit"] == "newcommit000" and after["run.cold"] is False
    assert after["run.code_fingerprint"] == "abc"
    assert after["runtime.notebooks.01_finetune.minutes"] == 10 and after["runtime.cached_training_minutes"] == 10
    assert {k: after[k] for k in results} == results  # the results themselves are kept
    assert {"env.cpu_model", "env.cpu_flags", "env.cpu_capability", "env.threads"} <= set(after)


def test_the_cpu_is_recorded():
    values = summary.cpu()
    assert values["env.cpu_model"] and isinstance(values["env.threads"], int) and values["env.threads"] >= 1
    flags = values["env.cpu_flags"].split(",") if values["env.cpu_flags"] else []
    assert flags == sorted(flags) and set(flags) <= set(summary.CPU_FLAGS)
