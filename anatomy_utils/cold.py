"""``make cold``: the study as a new user meets it. Clones the committed tree into a temporary folder, runs the profile
there with an empty cache, times the set-up (venv and wheels) and the study apart, and says whether the fresh
``summary.json`` equals the committed one, timing keys aside. The wall clock goes into the committed summary."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import summary
from .runtime import ROOT

MACHINE_DEPENDENT = re.compile(r"minutes|seconds|speedup|per_s$|\.cached$|^run\.|^runtime\.")


def differences(fresh: dict, committed: dict) -> dict[str, tuple]:
    """Keys whose values differ between two summaries (missing on one side counts), timing and run keys aside."""
    keys = {k for k in fresh.keys() | committed.keys() if not MACHINE_DEPENDENT.search(k)}
    return {k: (committed.get(k), fresh.get(k)) for k in sorted(keys) if committed.get(k) != fresh.get(k)}


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True)
    return (time.perf_counter() - start) / 60


def main(profile: str) -> int:
    committed = summary.read(profile)
    with tempfile.TemporaryDirectory(prefix="anatomy-cold-") as tmp:
        clone = Path(tmp) / "study"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        (clone / "figures" / profile / "summary.json").unlink(missing_ok=True)  # every key written afresh
        shutil.rmtree(clone / "notebooks" / "executed" / profile, ignore_errors=True)  # every notebook run afresh
        setup = _timed(["make", "fetch"], clone)
        study = _timed(["make", f"PROFILE={profile}"], clone)
        fresh = json.loads((clone / "figures" / profile / "summary.json").read_text())
    diff = differences(fresh, committed)
    summary.record(profile, {"run.wall_minutes": setup + study, "run.setup_minutes": setup,
                             "run.cold_reproduces_committed": not diff, "run.cold_commit": fresh.get("run.commit")})
    print(f"cold run of {profile!r}: set-up (venv, wheels) {setup:.1f} min, study {study:.1f} min; "
          + ("summary.json equals the committed one (timing keys aside)." if not diff else
             f"{len(diff)} summary keys differ from the committed ones (committed -> fresh):"))
    for key, (old, new) in diff.items():
        print(f"  {key}: {old!r} -> {new!r}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "default"))
