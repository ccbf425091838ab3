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

from . import report, summary
from .runtime import ROOT

# Timing, provenance (which commit and code made a result: a code change changes them by design) and the device.
MACHINE_DEPENDENT = re.compile(r"minutes|seconds|speedup|per_s$|\.cached$|code_fingerprint$|^run\.|^runtime\.|^env\.device$")
WORDING = re.compile(r"^findings\.")  # sentences built from the compared numbers: a changed one is reported, not failed


def differences(fresh: dict, committed: dict) -> dict[str, tuple]:
    """Committed keys whose values the fresh summary does not reproduce (missing counts), timing, run and wording keys
    aside; keys new in the fresh summary are additions, not differences."""
    keys = {k for k in committed if not MACHINE_DEPENDENT.search(k) and not WORDING.search(k)}
    return {k: (committed.get(k), fresh.get(k)) for k in sorted(keys) if committed.get(k) != fresh.get(k)}


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True)
    return (time.perf_counter() - start) / 60


def _adopt(clone: Path, profile: str) -> None:
    """Make the cold run's outputs the working tree's: executed notebooks, figures and summary, and its caches."""
    for part in (Path("notebooks") / "executed" / profile, Path("figures") / profile):
        shutil.rmtree(ROOT / part, ignore_errors=True)
        shutil.copytree(clone / part, ROOT / part)
    shutil.copytree(clone / "data" / "cache", ROOT / "data" / "cache", dirs_exist_ok=True)


def main(profile: str) -> int:
    committed = summary.read(profile)
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                             text=True).stdout.strip()
    if changed:
        print("Note: the cold run clones the last commit; uncommitted changes to tracked files are not part of it.")
    with tempfile.TemporaryDirectory(prefix="anatomy-cold-") as tmp:
        clone = Path(tmp) / "study"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        (clone / "figures" / profile / "summary.json").unlink(missing_ok=True)  # every key written afresh
        shutil.rmtree(clone / "notebooks" / "executed" / profile, ignore_errors=True)  # every notebook run afresh
        setup = _timed(["make", "fetch"], clone)
        study = _timed(["make", f"PROFILE={profile}"], clone)
        fresh = json.loads((clone / "figures" / profile / "summary.json").read_text())
        _adopt(clone, profile)
    diff = differences(fresh, committed)
    added = sorted(set(fresh) - set(committed))
    reworded = sorted(k for k in committed if WORDING.search(k) and committed[k] != fresh.get(k))
    summary.record(profile, {"run.wall_minutes": setup + study, "run.setup_minutes": setup,
                             "run.study_minutes": study, "run.cold_commit": fresh.get("run.commit"),
                             "run.cold_reproduces_committed": (not diff) if committed else None})
    if profile in report.README_PROFILES:
        report.update_readme()
    print(f"cold run of {profile!r}: set-up (venv, wheels) {setup:.1f} min, study {study:.1f} min; outputs adopted.")
    if not committed:
        print("No committed summary.json to compare with.")
        return 0
    print("summary.json reproduces every committed value (timing keys aside)." if not diff else
          f"{len(diff)} committed summary values are not reproduced (committed -> fresh):")
    for key, (old, new) in diff.items():
        print(f"  {key}: {old!r} -> {new!r}")
    print(f"{len(added)} new keys; {len(reworded)} findings sentences reworded: {reworded}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "default"))
