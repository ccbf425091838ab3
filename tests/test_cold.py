"""``make cold``: what it compares exactly, what within a tolerance, and what decides pass or fail."""
import json
import subprocess

import pytest

from anatomy_utils.base import summary
from anatomy_utils.tools import cold

COMMITTED = {"prune.encoder.p30.paper_rule.accuracy": 0.84, "finetune.decoder.test_accuracy": 0.8187,
             "prune.decoder.p30.random.accuracy_std": None, "scores.decoder.taylor.p30.mean_abs_dlogit": 1.142534,
             "prune.decoder.logit_max_abs_diff_removed_vs_zeroed": 1.1e-05, "anatomy.decoder.spearman": -0.007309,
             "prune.encoder.p30.n": 500, "prune.encoder.p30.verdict": "rule beats random",
             "scores.decoder.best": "taylor", "prune.encoder.p30.significant": True, "env.torch": "2.13.0+cpu",
             # machine, timing and provenance keys: never compared
             "runtime.minutes": 60.0, "run.commit": "a", "run.cold": True, "prune.encoder.p30.removed.speedup": 1.2,
             "finetune.encoder.cached": True, "scores.x.seconds": 3.0, "finetune.encoder.code_fingerprint": "0ld",
             "env.cpu_model": "Intel Xeon", "env.cpu_flags": "avx,avx2,avx512f", "env.threads": 2, "env.device": "cpu",
             "findings.x": "said", "scores.decoder.refit.p50.ceiling_time": 1.547897}  # from a measured time share


def test_identical_summaries_and_machine_keys_are_no_difference():
    fresh = COMMITTED | {"runtime.minutes": 75.0, "run.commit": "b", "run.cold": False,
                         "prune.encoder.p30.removed.speedup": 1.1, "finetune.encoder.cached": False,
                         "scores.x.seconds": 4.0, "finetune.encoder.code_fingerprint": "n3w",
                         "env.cpu_model": "AMD EPYC",
                         "env.cpu_flags": "avx,avx2", "env.threads": 4, "findings.x": "reworded", "new.key": 1,
                         "scores.decoder.refit.p50.ceiling_time": 1.543566}
    diff = cold.differences(fresh, COMMITTED)
    assert diff.failed == {} and diff.tolerated == {} and diff.reproduces
    assert diff.compared == 11  # the result keys above


def test_a_float_differing_in_the_sixth_decimal_passes_within_tolerance_and_is_counted():
    fresh = COMMITTED | {"scores.decoder.taylor.p30.mean_abs_dlogit": 1.142535,  # 9e-7 relative
                         "prune.decoder.logit_max_abs_diff_removed_vs_zeroed": 1.2e-05,  # one unit of the 6th decimal
                         "anatomy.decoder.spearman": -0.00731}
    diff = cold.differences(fresh, COMMITTED)
    assert diff.reproduces and diff.failed == {}
    assert diff.tolerated == {"scores.decoder.taylor.p30.mean_abs_dlogit": (1.142534, 1.142535),
                              "prune.decoder.logit_max_abs_diff_removed_vs_zeroed": (1.1e-05, 1.2e-05),
                              "anatomy.decoder.spearman": (-0.007309, -0.00731)}
    assert cold.outcome(diff) == {"run.cold_reproduces_committed": True, "run.cold_tolerance": cold.TOLERANCE,
                                  "run.cold_tolerance_absolute": cold.ABSOLUTE, "run.cold_compared": 11,
                                  "run.cold_differences": 0, "run.cold_missing": 0, "run.cold_within_tolerance": 3}


@pytest.mark.parametrize("key,value", [
    ("finetune.decoder.test_accuracy", 0.8153),  # the Rotten Tomatoes decoder on another CPU
    ("prune.encoder.p30.paper_rule.accuracy", 0.840001),  # accuracies are exact, even in the sixth decimal
    ("prune.decoder.p30.random.accuracy_std", 0.01),  # no value -> a value
    ("scores.decoder.taylor.p30.mean_abs_dlogit", 1.1426),  # 6e-5 relative: beyond the tolerance
    ("prune.decoder.logit_max_abs_diff_removed_vs_zeroed", 1.3e-05),
    ("prune.encoder.p30.n", 501), ("prune.encoder.p30.verdict", "no difference"), ("scores.decoder.best", "cosine"),
    ("prune.encoder.p30.significant", False), ("env.torch", "2.14.0+cpu"), ("prune.encoder.p30.n", 500.0000001),
])
def test_a_changed_accuracy_count_decision_or_a_float_beyond_tolerance_fails(key, value):
    diff = cold.differences(COMMITTED | {key: value}, COMMITTED)
    assert diff.failed == {key: (COMMITTED[key], value)} and not diff.reproduces
    assert (cold.outcome(diff)["run.cold_reproduces_committed"] is False
            and cold.outcome(diff)["run.cold_differences"] == 1)


def test_a_missing_key_fails_and_nan_equals_null():
    fresh = {k: v for k, v in COMMITTED.items() if k != "prune.encoder.p30.paper_rule.accuracy"}
    diff = cold.differences(fresh | {"finetune.decoder.test_accuracy": 0.5}, COMMITTED)
    assert diff.failed["prune.encoder.p30.paper_rule.accuracy"] == (0.84, None) and len(diff.failed) == 2
    assert diff.missing == ["prune.encoder.p30.paper_rule.accuracy"]  # told apart from a value written differently
    assert cold.outcome(diff)["run.cold_missing"] == 1 and cold.outcome(diff)["run.cold_differences"] == 2
    old = COMMITTED | {"prune.decoder.p30.random.accuracy_std": float("nan")}  # what older summaries wrote
    assert cold.differences(COMMITTED, old).reproduces
    assert not cold.differences(COMMITTED | {"prune.encoder.p30.significant": 1}, COMMITTED).reproduces  # True is not 1


def test_tolerance_is_relative_with_an_absolute_floor():
    assert cold.close(100.0, 100.0 + 9e-4) and not cold.close(100.0, 100.0 + 2e-3)
    assert cold.close(0.0, 1e-6) and not cold.close(0.0, 3e-6)
    assert cold.exact("prune.decoder.p30.random.accuracy_std") and cold.exact("scores.x.delta_accuracy")
    assert not cold.exact("accuracy.decoder.mean_abs_dlogit")


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A committed tree with a summary, and a fake ``make`` that writes the fresh one in the clone."""
    root = tmp_path / "repo"
    (root / "figures" / "p").mkdir(parents=True)
    (root / "figures" / "p" / "summary.json").write_text(json.dumps(COMMITTED, indent=1))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "committed results"], cwd=root, check=True)
    # the working tree's summary was since overwritten by a plain run: the cold run compares with the committed one
    (root / "figures" / "p" / "summary.json").write_text(json.dumps(COMMITTED | {"prune.encoder.p30.n": 7}))
    monkeypatch.setattr(cold, "ROOT", root)
    monkeypatch.setattr(summary, "FIGURES", root / "figures")
    monkeypatch.setattr(cold.report, "update_readme", lambda *a: pytest.fail("the README is not this profile's"))
    fresh = {}

    def make(command, cwd):
        if command == ["make", "fetch"]:
            return 1.5
        assert command == ["make", "PROFILE=p"] and not (cwd / "figures" / "p" / "summary.json").exists()
        (cwd / "notebooks" / "executed" / "p").mkdir(parents=True)
        (cwd / "data" / "cache").mkdir(parents=True)
        run_block = {"run.commit": "c0ffee", "run.cold": False, "runtime.minutes": 50.0, "env.cpu_model": "AMD EPYC"}
        (cwd / "figures" / "p" / "summary.json").write_text(json.dumps(fresh | run_block))
        return 50.0

    monkeypatch.setattr(cold, "_timed", make)
    return fresh


def test_cold_passes_when_only_the_sixth_decimal_differs_and_records_it_in_the_run(repository, capsys):
    repository |= COMMITTED | {"scores.decoder.taylor.p30.mean_abs_dlogit": 1.142535}
    assert cold.main("p") == 0
    after = summary.read("p")
    assert after["run.cold"] is True and after["run.commit"] == "c0ffee" == after["run.cold_commit"]
    assert after["run.cold_reproduces_committed"] is True and after["run.cold_within_tolerance"] == 1
    assert after["run.cold_tolerance"] == cold.TOLERANCE and after["run.wall_minutes"] == 51.5
    assert after["env.cpu_model"] == "AMD EPYC"  # the cold run's machine, not the committed one's
    assert "1 floats within the tolerance" in capsys.readouterr().out


def test_cold_fails_when_an_accuracy_changes(repository, capsys):
    repository |= COMMITTED | {"finetune.decoder.test_accuracy": 0.8153}
    assert cold.main("p") == 1
    after = summary.read("p")
    assert after["run.cold_reproduces_committed"] is False and after["run.cold_differences"] == 1
    assert "finetune.decoder.test_accuracy: 0.8187 -> 0.8153" in capsys.readouterr().out
