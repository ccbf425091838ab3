"""The nbval references (smoke executions) must run the same code as the notebooks in notebooks/."""
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))


def code_cells(path):
    cells = nbformat.read(path, as_version=4).cells
    return [c.source for c in cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def test_all_notebooks_exist():
    assert [p.stem for p in SOURCES] == ["01_finetune", "02_layer_anatomy", "03_ffn_neurons", "04_prune_bert",
                                         "05_prune_gpt2", "06_importance_scores"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_smoke_reference_matches_source(source):
    reference = ROOT / "notebooks" / "executed" / "smoke" / source.name
    assert reference.exists(), f"run `make PROFILE=smoke` to create {reference.relative_to(ROOT)}"
    assert code_cells(reference) == code_cells(source), f"{reference.name} drifted: run `make PROFILE=smoke`"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_has_a_parameters_cell_first(source):
    first_code = next(c for c in nbformat.read(source, as_version=4).cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
