"""Cached artifacts are keyed by the code that made them and recognised when damaged."""
import shutil
import subprocess
import sys
from pathlib import Path

from anatomy_utils.base import cache

PACKAGE = Path(cache.__file__).parents[1]
KEY = ("from anatomy_utils.study.finetune import TRAINING_CODE; from anatomy_utils.base.cache import code_fingerprint; "
       "print(code_fingerprint(*TRAINING_CODE))")


def checkpoint_key(root: Path) -> str:
    return subprocess.run([sys.executable, "-c", KEY], cwd=root, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_training_code_changes_the_checkpoint_key_and_plotting_code_does_not(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "anatomy_utils", ignore=shutil.ignore_patterns("__pycache__"))
    before = checkpoint_key(tmp_path)
    with open(tmp_path / "anatomy_utils" / "present" / "plots.py", "a") as fh:
        fh.write("\n# a new colour\n")
    assert checkpoint_key(tmp_path) == before
    with open(tmp_path / "anatomy_utils" / "core" / "classifier.py", "a") as fh:
        fh.write("\n# a reworded comment\n")
    assert checkpoint_key(tmp_path) == before  # comments and docstrings are not code
    with open(tmp_path / "anatomy_utils" / "core" / "classifier.py", "a") as fh:
        fh.write("\nCHANGED_TRAINING_LOOP = True\n")
    changed = checkpoint_key(tmp_path)
    assert changed != before
    with open(tmp_path / "anatomy_utils" / "base" / "wheels.py", "a") as fh:  # imported by data, imported by classifier
        fh.write("\nCHANGED_WHEEL_READER = True\n")
    assert checkpoint_key(tmp_path) != changed  # no module the training code imports, however indirectly, is missed


KEYS = ("from anatomy_utils.study.finetune import TRAINING_CODE; "
        "from anatomy_utils.base.cache import code_fingerprint; from anatomy_utils.study.anatomy import cosines_key; "
        "c = code_fingerprint(*TRAINING_CODE); print(c, cosines_key(c))")


def keys(root: Path) -> tuple[str, str]:
    """(training code fingerprint, key of the cosines derived from a checkpoint named after it) in a copy at
    ``root``."""
    out = subprocess.run([sys.executable, "-c", KEYS], cwd=root, capture_output=True, text=True, check=True).stdout
    return tuple(out.split())


def test_the_cosine_key_chains_on_the_checkpoint_and_its_own_code_and_ignores_plots_and_the_readme(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "anatomy_utils", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PACKAGE.parent / "data", tmp_path / "data", ignore=shutil.ignore_patterns("cache", "wheels"))
    package = tmp_path / "anatomy_utils"
    start = keys(tmp_path)
    for module in ("plots.py", "report.py"):
        with open(package / "present" / module, "a") as fh:
            fh.write("\nNEW_STYLE = 1\n")
    assert keys(tmp_path) == start  # presentation code derives nothing cached
    with open(package / "core" / "passes.py", "a") as fh:
        fh.write("\nCHANGED_COSINE = True\n")
    after_cosine_edit = keys(tmp_path)
    assert after_cosine_edit[0] == start[0] and after_cosine_edit[1] != start[1]  # the cosines, not the checkpoint
    with open(package / "core" / "classifier.py", "a") as fh:
        fh.write("\nCHANGED_FORWARD = True\n")
    after_model_edit = keys(tmp_path)
    assert after_model_edit[0] != start[0] and after_model_edit[1] != after_cosine_edit[1]  # upstream: all downstream


def test_a_truncated_cached_file_is_detected_and_the_folder_discarded(tmp_path, capsys):
    folder = tmp_path / "checkpoint"
    (folder / "body").mkdir(parents=True)
    (folder / "body" / "model.safetensors").write_bytes(b"\x00" * 1000)
    (folder / "meta.json").write_text("{}")
    cache.seal(folder)
    assert cache.intact(folder) and cache.discard_if_damaged(folder, "checkpoint")
    (folder / "body" / "model.safetensors").write_bytes(b"\x00" * 10)  # an interrupted copy
    assert not cache.intact(folder)
    assert not cache.discard_if_damaged(folder, "checkpoint") and not folder.exists()
    assert "incomplete or damaged" in capsys.readouterr().out


def test_an_unsealed_folder_or_a_missing_file_is_not_intact_but_a_later_cache_file_is_harmless(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"1")
    (tmp_path / "b.bin").write_bytes(b"2")
    assert not cache.intact(tmp_path)  # written by older code, or never finished
    cache.seal(tmp_path)
    (tmp_path / "cache-index.arrow").write_bytes(b"3")  # e.g. datasets' index cache beside a split
    assert cache.intact(tmp_path)
    (tmp_path / "b.bin").unlink()
    assert not cache.intact(tmp_path)
