"""The package's layers point one way: ``base`` and ``stats`` import nothing above them, ``core`` (the mechanism) no
study or presentation, ``study`` no presentation or tools, ``present`` no tools."""
from pathlib import Path

import pytest

from anatomy_utils.base.cache import package_imports

PACKAGE = Path(__file__).resolve().parents[1] / "anatomy_utils"
RANK = {"base": 0, "stats": 0, "core": 1, "study": 2, "present": 3, "tools": 4}
MODULES = sorted(".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("*.py")
                 if p.name != "__init__.py")


def layer(module: str) -> str:
    return module.split(".")[0]


def wrong_imports(module: str, source: str | None = None) -> list[str]:
    """The package modules ``module`` imports from a layer above its own (``stats`` imports nothing of the package)."""
    return sorted(m for m in package_imports(module, source)
                  if RANK[layer(m)] > RANK[layer(module)] or (layer(module) == "stats" and m != module))


def test_every_module_is_in_a_layer():
    assert {layer(m) for m in MODULES} <= set(RANK)


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down(module):
    assert wrong_imports(module) == []


def test_the_direction_check_bites():
    assert wrong_imports("core.classifier", "from ..study.finetune import fine_tune\n") == ["study.finetune"]
    assert wrong_imports("study.claims", "def f():\n    from ..present import plots\n") == ["present.plots"]
    assert wrong_imports("base.data", "from ..core import families\n") == ["core.families"]
    assert wrong_imports("study.claims", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                         "    from ..present.plots import save\n") == []  # annotations never run
