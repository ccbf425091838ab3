"""The steps 04 and 05 share hold no state one step sets and another reads: each measurement is computed once, on first
use, by whichever step needs it, so the steps can run in any order."""
import ast
import inspect
import textwrap

from anatomy_utils.present import prune_notebook


def assigned_attributes(cls) -> dict[str, set[str]]:
    """Per method of ``cls``, the ``self.<name>`` it assigns."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    return {f.name: {t.attr for node in ast.walk(f) if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
                     for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                     if isinstance(t, ast.Attribute) and getattr(t.value, "id", None) == "self"}
            for f in tree.body[0].body if isinstance(f, ast.FunctionDef)}


def test_only_the_constructor_sets_attributes():
    setters = {name: attrs for name, attrs in assigned_attributes(prune_notebook.PruneNotebook).items() if attrs}
    assert set(setters) == {"__post_init__"}


def test_the_check_bites():
    class Stateful:
        def __post_init__(self):
            self.model = 1

        def step(self):
            self.results = 2

    assert assigned_attributes(Stateful)["step"] == {"results"}


def test_each_measurement_is_computed_once_on_first_use():
    for name in ("measured", "speed_run"):
        assert isinstance(inspect.getattr_static(prune_notebook.PruneNotebook, name), prune_notebook.cached_property)
