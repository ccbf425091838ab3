"""The nbval references (smoke executions) must run the same code as the notebooks in notebooks/."""
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))


def code_cells(path):
    cells = nbformat.read(path, as_version=4).cells
    return [c.source for c in cells
            if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def test_all_notebooks_exist():
    assert [p.stem for p in SOURCES] == ["01_finetune", "02_layer_anatomy", "03_ffn_neurons", "04_prune_bert",
                                         "05_prune_gpt2", "06_importance_scores", "07_seeds", "08_claims"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_smoke_reference_matches_source(source):
    reference = ROOT / "notebooks" / "executed" / "smoke" / source.name
    assert reference.exists(), f"run `make PROFILE=smoke` to create {reference.relative_to(ROOT)}"
    assert code_cells(reference) == code_cells(source), f"{reference.name} drifted: run `make PROFILE=smoke`"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_has_a_parameters_cell_first(source):
    first_code = next(c for c in nbformat.read(source, as_version=4).cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])


# Profiles whose committed executed notebooks must run the current sources.
COMMITTED = ("default", "rotten_tomatoes")
EXECUTED = sorted(p for profile in COMMITTED for p in (ROOT / "notebooks" / "executed" / profile).glob("*.ipynb"))


@pytest.mark.parametrize("profile", COMMITTED)
def test_committed_runs_are_complete_and_run_the_current_sources(profile):
    executed = ROOT / "notebooks" / "executed" / profile
    assert [p.name for p in sorted(executed.glob("*.ipynb"))] == [p.name for p in SOURCES], \
        f"run `make PROFILE={profile}`"
    for source in SOURCES:
        assert code_cells(executed / source.name) == code_cells(source), f"{profile}/{source.name}: rerun make"


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_saved_figure_is_shown_in_its_executed_notebook(path):
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and "au.plots.save(" in cell.source:
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert len(images) >= cell.source.count("au.plots.save("), \
                f"{path.name}: no figure shown for\n{cell.source}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_figure_is_followed_by_a_caption_that_says_what_to_look_for(source):
    cells = nbformat.read(source, as_version=4).cells
    for cell, after in zip(cells, cells[1:] + [None]):
        if cell.cell_type == "code" and "au.plots.save(" in cell.source:
            assert after is not None and after.cell_type == "markdown" and after.source.startswith("*Figure"), \
                f"{source.name}: no caption after\n{cell.source}"
            assert "**Look for**" in after.source


def test_readme_lists_exactly_the_figures_make_writes():
    import re

    readme = (ROOT / "README.md").read_text()
    rows = [line.split("|")[4] for line in readme[readme.index("## What runs"):].splitlines()
            if line.startswith("| `0")]
    listed = {name for row in rows for name in re.findall(r"`([^`/]+)`", row)
              if not name.endswith((".csv", ".csv.gz"))}  # tables, not figures
    written = {re.sub(r"_(encoder|decoder)$", "_<role>", p.stem) for p in (ROOT / "figures" / "default").glob("*.png")}
    assert listed == written
