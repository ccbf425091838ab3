"""Only the family adapter (core/families.py) and the model registry (core/models.py) know an architecture; a layer
pruned to zero neurons works in every family."""
import ast
from pathlib import Path

import pytest
import torch
from conftest import tiny_body

from anatomy_utils.core import families, pruning
from anatomy_utils.core.classifier import SentimentClassifier

PACKAGE = Path(families.__file__).parents[1]
MODULES = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py"))
ALLOWED = {"core/families.py", "core/models.py"}
LAYER_CLASSES = ("Conv1D", "Bert", "GPT2", "Llama", "Roberta", "Mistral", "Qwen")
MODEL_NAMES = {"bert", "gpt2", "llama", "tiny-gpt2", "minilm", "smollm2", "bert-base-uncased"}
# attribute names of one family's module layout (FFN, attention, blocks): only the adapter may walk them
LAYOUT_ATTRIBUTES = {"mlp", "c_fc", "c_proj", "c_attn", "intermediate", "gate_proj", "up_proj", "down_proj",
                     "transformer", "h", "ln_f", "self_attn", "attention"}


def offences(source: str) -> list[str]:
    """Layer classes named, attribute paths of one family's layout, isinstance on a torch module class, and
    model-name strings (docstrings left out)."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(getattr(node, "body", None), list) and node.body and isinstance(node.body[0], ast.Expr)}
    found = []
    for node in ast.walk(tree):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name and name.startswith(LAYER_CLASSES):
            found.append(f"line {node.lineno}: {name}")
        if isinstance(node, ast.Attribute) and node.attr in LAYOUT_ATTRIBUTES:
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and "nn." in ast.unparse(node):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Constant) and node.value in MODEL_NAMES and id(node) not in docstrings:
            found.append(f"line {node.lineno}: {node.value!r}")
    return found


@pytest.mark.parametrize("module", [m for m in MODULES if m not in ALLOWED])
def test_no_architecture_knowledge_outside_the_adapter(module):
    assert offences((PACKAGE / module).read_text()) == []


def test_the_check_bites():
    assert offences("from transformers.pytorch_utils import Conv1D\nx = isinstance(m, nn.Linear)\ny = 'gpt2'\n")
    for path in ("layer.mlp.c_fc.weight", "layer.intermediate.dense", "layer.mlp.gate_proj", "m.transformer.h"):
        assert offences(f"w = {path}\n"), path
    assert offences("w = family.ffn_out(layer).weight\n") == []


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_a_layer_pruned_to_zero_neurons_runs_and_matches_the_masked_model(family, batch):
    clf = SentimentClassifier(tiny_body(family), 0.0).eval()
    keep = {0: torch.arange(0), 1: torch.arange(5)}
    pruned = pruning.pruned_copy(clf, keep)
    assert families.ffn_widths(pruned.body) == [0, 5]
    with torch.no_grad():
        with pruning.masked(clf.body, keep):
            masked = clf(**batch)
        assert torch.allclose(pruned(**batch), masked, atol=1e-5)


def test_linear_weight_is_a_writable_view_in_linear_layout():
    body = tiny_body("gpt2")
    out = families.family_of(body).ffn_out(families.layers(body)[0])
    view = families.linear_weight(out)
    assert view.shape == (out.nf, out.weight.shape[0])
    with torch.no_grad():
        view[:, 0] = 0
    assert (out.weight[0] == 0).all()


def test_no_function_in_the_package_is_longer_than_forty_lines():
    long = [f"{module}: {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for module in MODULES for node in ast.walk(ast.parse((PACKAGE / module).read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 40]
    assert long == []
