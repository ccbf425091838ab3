"""The cache layer: where derived artifacts live and how they are keyed, written and checked. Keys chain the keys of
their inputs with a fingerprint of the code that derives them (comments and docstrings left out); files are written
atomically; cached folders are sealed with checksums and rebuilt when damaged."""
from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from .runtime import ROOT

CACHE = ROOT / "data" / "cache"


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write a file so that an interrupted run never leaves it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def artifact(profile: str, name: str) -> Path:
    """Path of a cached intermediate result of a profile (git-ignored, recomputed by ``make``)."""
    path = CACHE / profile / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


PACKAGE = Path(__file__).resolve().parents[1]


def source_path(module: str) -> Path:
    """The file of a package module named by its dotted path inside the package (``"core.classifier"``)."""
    return PACKAGE.joinpath(*module.split(".")).with_suffix(".py")


def _type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def package_imports(module: str, source: str | None = None) -> set[str]:
    """The package modules ``module`` imports (its file, or ``source`` as if it were its code), at any depth of its
    code (function bodies too) but not under ``if TYPE_CHECKING:``, which never runs."""
    here, found = module.split(".")[:-1], set()
    pending = list(ast.parse(source_path(module).read_text() if source is None else source).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _type_checking(node.test):
            pending += node.orelse
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here[: len(here) - node.level + 1] + (node.module.split(".") if node.module else [])
            named = [".".join(base + [alias.name]) for alias in node.names]
            found |= {m for m in named if source_path(m).exists()} or {".".join(base)}
        pending += [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
    return {m for m in found if source_path(m).exists()}


def closure(*modules: str) -> list[str]:
    """``modules`` and every package module they import, directly or not, sorted."""
    seen, pending = set(), list(modules)
    while pending:
        module = pending.pop()
        if module not in seen:
            seen.add(module)
            pending += package_imports(module)
    return sorted(seen)


def code_fingerprint(*modules: str) -> str:
    """Digest of the code of the named package modules (``"core.classifier"``) and of every package module they
    import, directly or not (comments and docstrings left out, so rewording them forces no rebuild), and of the torch
    and transformers versions: part of the key of every cached artifact those modules compute, so no cache outlives
    the code that made it, and no list of modules kept by hand can miss one."""
    import transformers

    h = hashlib.sha256(f"{torch.__version__} {transformers.__version__}".encode())
    for module in closure(*modules):
        h.update(module.encode())
        h.update(code_only(source_path(module).read_text()).encode())
    return h.hexdigest()[:12]


def chain(*keys: str) -> str:
    """The key of a derived artifact: a digest of its inputs' keys and of the fingerprint of the code that derives it,
    so that a change anywhere upstream changes every key downstream (the way ``datasets`` chains fingerprints)."""
    return hashlib.sha256("\0".join(keys).encode()).hexdigest()[:12]


def json_digest(key: dict) -> str:
    """Short digest of a JSON-able key (sorted keys; anything else written as its ``str``)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]


def code_only(source: str) -> str:
    """A module's code without comments or docstrings: the AST dumped after dropping every docstring expression."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


SEAL = "CHECKSUMS.json"


def seal(folder: Path) -> None:
    """Record the sha256 of every file of a cached folder, so a truncated or altered copy is recognised later."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name != SEAL)
    (Path(folder) / SEAL).write_text(json.dumps({str(p.relative_to(folder)): sha256(p) for p in files}, indent=1))


def intact(folder: Path) -> bool:
    """True when every file the folder's seal lists is there with its recorded checksum (files added later, such as
    the index caches ``datasets`` writes beside a dataset, are not part of the artifact)."""
    seal_file = Path(folder) / SEAL
    if not seal_file.exists():
        return False
    recorded = json.loads(seal_file.read_text())
    return all((Path(folder) / name).is_file() and sha256(Path(folder) / name) == sha for name, sha in recorded.items())


def discard_if_damaged(folder: Path, what: str) -> bool:
    """Remove a cached folder that fails its checksums (saying so); True if the folder is there and intact."""
    if not Path(folder).exists():
        return False
    if intact(folder):
        return True
    print(f"The cached {what} at {folder} is incomplete or damaged (checksums differ); rebuilding it.")
    shutil.rmtree(folder)
    return False
