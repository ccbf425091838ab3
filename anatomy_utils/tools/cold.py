"""``make cold``: the study as a new user meets it. Clones the committed tree into a temporary folder, runs the profile
there with an empty cache, times the set-up (venv and wheels) and the study apart, and says whether the fresh
``summary.json`` reproduces the committed one, timing keys aside: counts, strings, booleans and accuracies exactly,
other floats within ``TOLERANCE`` (another CPU's kernels round differently in the last digits). The outcome and the wall
clock go into the adopted summary, as part of the cold run's own ``run.*`` block."""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from ..base import keys, summary
from ..present import report
from ..base.runtime import ROOT

# Timing, provenance (which commit and code made a result: a code change changes them by design) and the machine; a
# time-share ceiling (`ceiling_time`) is computed from the measured FFN share of the time, so it is timing too.
MACHINE_DEPENDENT = re.compile(r"minutes|seconds|speedup|per_s$|ceiling_time$|\.cached$|code_fingerprint$|^run\."
                               r"|^runtime\.|^env\.(device|cpu_.*|threads)$|^timing\.|^claims\.(zeroing|removal)_speeds_up\.")
# sentences built from the compared numbers: a changed one is reported, not failed
WORDING = re.compile(r"^findings\.|^claims\..*\.sentence$")
# Continuous values (logit differences, similarities, intervals of them) may differ across CPUs in the last digits:
# they must agree within TOLERANCE relative, or within ABSOLUTE: one unit of the last decimal summary.json stores, so
# that a value near 0, or one rounded the other way, does not fail.
TOLERANCE = 1e-5
ABSOLUTE = 10.0 ** -summary.DECIMALS


def exact(key: str) -> bool:
    """Accuracies (the key's last part names one) are ratios of counts: they must be reproduced exactly."""
    return "accuracy" in key.rsplit(".", 1)[-1]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))  # older summaries wrote NaN for None


def _same(old, new) -> bool:
    """Equal values; True is not 1, and None is NaN (an older summary's way of writing "no value")."""
    if _missing(old) or _missing(new):
        return _missing(old) and _missing(new)
    return isinstance(old, bool) == isinstance(new, bool) and old == new


def _float(value) -> bool:
    return isinstance(value, float)


def close(a: float, b: float) -> bool:
    """Within ``TOLERANCE`` of each other, relative to the larger magnitude, or within ``ABSOLUTE``."""
    return abs(a - b) <= max(TOLERANCE * max(abs(a), abs(b)), ABSOLUTE) * (1 + 1e-9)  # 1e-9: the floats' own rounding


class Differences(NamedTuple):
    """``failed``: committed keys the fresh summary does not reproduce; ``tolerated``: floats that differ within the
    tolerance. Both map a key to (committed, fresh)."""

    failed: dict[str, tuple]
    tolerated: dict[str, tuple]
    compared: int

    @property
    def reproduces(self) -> bool:
        return not self.failed

    @property
    def missing(self) -> list[str]:
        """Failed keys the fresh run did not write at all (a result no longer made, or a key the committed summary
        kept from older code), as against values it wrote differently."""
        return [key for key, (old, new) in self.failed.items() if new is None and not _missing(old)]


def differences(fresh: dict, committed: dict) -> Differences:
    """Compare the committed keys (timing, run, machine and wording keys aside; keys new in the fresh summary are
    additions, not differences, and a missing one is a difference): integers, strings, booleans, missing values and
    accuracies exactly, other floats within the tolerance (``close``)."""
    compared = sorted(k for k in committed if not MACHINE_DEPENDENT.search(k) and not WORDING.search(k))
    failed, tolerated = {}, {}
    for key in compared:
        old, new = committed.get(key), fresh.get(key)
        if _same(old, new):
            continue
        if _float(old) and _float(new) and not exact(key) and not _missing(old) and not _missing(new) \
                and close(old, new):
            tolerated[key] = (old, new)
        else:
            failed[key] = (old, new)
    return Differences(failed, tolerated, len(compared))


def outcome(diff: Differences | None) -> dict:
    """The cold run's ``run.*`` keys of the comparison (``diff`` None: there was no committed summary)."""
    return {keys.run("cold_reproduces_committed"): None if diff is None else diff.reproduces,
            keys.run("cold_tolerance"): TOLERANCE, keys.run("cold_tolerance_absolute"): ABSOLUTE,
            keys.run("cold_compared"): None if diff is None else diff.compared,
            keys.run("cold_differences"): None if diff is None else len(diff.failed),
            keys.run("cold_missing"): None if diff is None else len(diff.missing),
            keys.run("cold_within_tolerance"): None if diff is None else len(diff.tolerated)}


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


def _print(diff: Differences, committed: dict, fresh: dict) -> None:
    where = [f"{s.get(keys.env('cpu_model'), '?')} ({s.get(keys.env('cpu_flags'), '?')})" for s in (committed, fresh)]
    print(f"CPU of the committed run: {where[0]}; of the cold run: {where[1]}.")
    print(f"{diff.compared} committed values compared (timing, run and machine keys aside): "
          f"{len(diff.failed)} not reproduced ({len(diff.missing)} of them not written at all), "
          f"{len(diff.tolerated)} floats within the tolerance "
          f"({TOLERANCE:g} relative, {ABSOLUTE:g} absolute), the rest identical.")
    for title, part in (("Not reproduced (committed -> fresh):", diff.failed),
                        ("Within tolerance (committed -> fresh):", diff.tolerated)):
        if part:
            print(title)
        for key, (old, new) in part.items():
            print(f"  {key}: {old!r} -> {new!r}")


def main(profile: str) -> int:
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                             text=True).stdout.strip()
    if changed:
        print("Note: the cold run clones the last commit; uncommitted changes to tracked files are not part of it.")
    with tempfile.TemporaryDirectory(prefix="anatomy-cold-") as tmp:
        clone = Path(tmp) / "study"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        committed_file = clone / "figures" / profile / "summary.json"  # the committed one, not the working tree's
        committed = json.loads(committed_file.read_text()) if committed_file.exists() else {}
        committed_file.unlink(missing_ok=True)  # every key written afresh
        shutil.rmtree(clone / "notebooks" / "executed" / profile, ignore_errors=True)  # every notebook run afresh
        setup = _timed(["make", "fetch"], clone)
        study = _timed(["make", f"PROFILE={profile}"], clone)
        fresh = json.loads((clone / "figures" / profile / "summary.json").read_text())
        _adopt(clone, profile)
    diff = differences(fresh, committed) if committed else None
    added = sorted(set(fresh) - set(committed))
    reworded = sorted(k for k in committed if WORDING.search(k) and committed[k] != fresh.get(k))
    # The adopted summary holds the cold run's own run.* block (written by record_runtime in the clone): add to it.
    summary.record(profile, {keys.run("cold"): True, keys.run("wall_minutes"): setup + study,
                             keys.run("setup_minutes"): setup, keys.run("study_minutes"): study,
                             keys.run("cold_commit"): fresh.get(keys.run("commit"))} | outcome(diff))
    if profile in report.README_PROFILES:
        report.update_readme()
    print(f"cold run of {profile!r}: set-up (venv, wheels) {setup:.1f} min, study {study:.1f} min; outputs adopted.")
    if diff is None:
        print("No committed summary.json to compare with.")
        return 0
    _print(diff, committed, fresh)
    print(f"{len(added)} new keys; {len(reworded)} findings sentences reworded: {reworded}")
    print(f"{profile}: the committed summary is " + ("reproduced." if diff.reproduces else "NOT reproduced."))
    return 0 if diff.reproduces else 1


if __name__ == "__main__":
    profiles = sys.argv[1:] or ["default"]
    sys.exit(max(main(profile) for profile in profiles))
