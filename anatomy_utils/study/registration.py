"""The registration: the confirmation's design, written from the pilot (``make``) and frozen before the confirmation
reads a review (``params/registration/<profile>.yaml``).

One entry per ledger row: its instrument, null, margin, direction, family, the pre-stated alternative at which its
power is computed (the paper's own figure, or half the margin: never an effect a run showed) and the sizes it reads.
The planning standard error of each row at its registered size comes from the pilot's variance (a nuisance parameter,
not an effect); the power follows from it, the alternative and the row's level. The file's sha256 is the design's
identity: outputs written under one digest are never overwritten under another (a changed design is a new version).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import yaml
from scipy import stats as sps

from .. import stats
from ..base.runtime import FIGURES, ROOT

FOLDER = ROOT / "params" / "registration"
ALPHA = 1 - stats.LEVEL
STAMP = "design.sha256"  # in a version's output folder: the digest its outputs were written under


class RegistrationError(ValueError):
    """A registration that is missing, malformed, or changed after outputs were written under it."""


@dataclass(frozen=True)
class Row:
    """One ledger row's registered design."""

    claim: str
    role: str
    null: float
    direction: str
    family: str  # "primary" (Holm within it) or "secondary" (its own 95%)
    alternative: float  # where the power is computed
    alternative_source: str
    reviews: int  # the fresh reviews it reads
    planning_se: float  # the standard error expected at ``reviews`` (from the pilot's variance)
    margin: float | None = None
    masks: int | None = None  # random masks, for rows against a distribution of masks
    mask_var: float | None = None  # their planning variance components: between masks, and per review
    review_var: float | None = None
    choice: dict = field(default_factory=dict)  # a pruned model fixed by the pilot: score and setting
    level: float = stats.LEVEL  # the level power is planned at: a primary row's Bonferroni level (Holm reads it at
    #                             that level or a laxer one), else 95%

    @property
    def key(self) -> str:
        return f"{self.claim}.{self.role}"

    @property
    def power(self) -> float:
        return decision_power(self.alternative, self.null, self.margin, self.planning_se, self.level)


@dataclass(frozen=True)
class Registration:
    profile: str
    version: int
    sha256: str
    frozen: str  # when, and from which pilot
    reviews: dict  # role -> the fresh reviews drawn for it (the largest of its rows' sizes)
    mask_seed: int  # the random masks of the confirmation are seeds mask_seed, mask_seed + 1, ...
    rows: dict  # key -> Row
    not_confirmed: dict  # key -> why the row is not part of the confirmation
    family_alpha: float = ALPHA  # the primary family's Holm level: 5%, or lower where simulation showed 5% errs more
    fresh_from: int = 0  # fresh reviews that earlier versions read: this one reads the ones after them

    def folder(self):
        """Where this version's outputs live: ``figures/<profile>/confirm/v<version>/``."""
        return FIGURES / self.profile / "confirm" / f"v{self.version}"

    def primary(self) -> list[str]:
        return [k for k, r in self.rows.items() if r.family == "primary"]

    def expected_decided(self) -> float:
        """The design's expected number of decided rows: the sum of its rows' powers at their alternatives."""
        return sum(r.power for r in self.rows.values())


def decision_power(alternative: float, null: float, margin: float | None, se: float, level: float) -> float:
    """The chance that a normal interval (half-width ``z * se``) decides the row when the truth is ``alternative``:
    it excludes ``null`` (confirmed or refuted), or lies within ``null`` +- ``margin`` (equivalent). Undecided means
    ``|estimate - null|`` between ``max(margin - h, 0)`` and ``h``."""
    if se <= 0:
        raise RegistrationError("a planning standard error must be positive")
    half = stats.z_value(level) * se
    inner = max(margin - half, 0.0) if margin is not None else 0.0
    shift = alternative - null
    if inner >= half:  # every interval is decided: inside the margin, or clear of the null
        return 1.0
    undecided = lambda a, b: sps.norm.cdf((b - shift) / se) - sps.norm.cdf((a - shift) / se)  # noqa: E731
    return float(1 - undecided(inner, half) - undecided(-half, -inner))


def path(profile: str):
    return FOLDER / f"{profile}.yaml"


def digest(profile: str) -> str:
    return hashlib.sha256(path(profile).read_bytes()).hexdigest()


def load(profile: str) -> Registration:
    """The frozen registration of ``profile``; a clear error when there is none or it is malformed."""
    file = path(profile)
    if not file.exists():
        raise RegistrationError(f"No registration for profile {profile!r} ({file}): the confirmation runs only a "
                                f"design frozen beforehand; profiles with one: "
                                f"{sorted(p.stem for p in FOLDER.glob('*.yaml'))}.")
    try:
        registration = parse(yaml.safe_load(file.read_text()), digest(profile))
    except (KeyError, TypeError) as error:
        raise RegistrationError(f"{file}: malformed registration ({type(error).__name__}: {error})") from None
    for row in registration.rows.values():
        if row.reviews > registration.reviews[row.role]:
            raise RegistrationError(f"{file}: {row.key} reads {row.reviews} reviews, more than the {row.role}'s "
                                    f"{registration.reviews[row.role]} fresh ones")
    return registration


def parse(raw: dict, sha256: str = "") -> Registration:
    """A registration from its YAML's mapping (``sha256``: its file's digest); primary rows are planned at their
    Bonferroni level ``1 - family_alpha / #primary``, the first step of Holm's."""
    alpha = float(raw.get("family_alpha", ALPHA))
    primary = sum(spec["family"] == "primary" for spec in raw["rows"].values())
    rows = {key: Row(*key.split("."), **spec, level=1 - alpha / primary if spec["family"] == "primary"
                     else stats.LEVEL) for key, spec in raw["rows"].items()}
    return Registration(raw["profile"], int(raw["version"]), sha256, raw["frozen"], dict(raw["reviews"]),
                        int(raw["mask_seed"]), rows, dict(raw["not_confirmed"]), alpha, int(raw.get("fresh_from", 0)))


def check_frozen(registration: Registration) -> None:
    """Refuse to run when outputs of this version were written under another digest: the design changed after its
    data were read. A changed design gets a new ``version`` (its outputs a new folder); the old ones stay."""
    stamp = registration.folder() / STAMP
    if stamp.exists() and stamp.read_text().strip() != registration.sha256:
        raise RegistrationError(
            f"{path(registration.profile)} changed after the confirmation v{registration.version} wrote outputs under "
            f"sha256 {stamp.read_text().strip()[:12]}: a changed design is a new version. Raise `version:` in the "
            f"registration (the old outputs stay, labelled v{registration.version}) or restore the file.")


def stamp(registration: Registration) -> None:
    folder = registration.folder()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STAMP).write_text(registration.sha256 + "\n")


def bound_text(row: dict, number) -> str:
    """The one-sided bound a row can state, in words, on the claim's side: "loses at most 2.4 pt", "at least 0.91"."""
    if row["direction"] == "+":
        return f"at least {number(row['ci_low'])}"
    return f"at most {number(row['ci_high'])}"


def planning_se(half_width: float, level: float, n_pilot: int, n: int, mask_var: float | None = None,
                review_var: float | None = None, masks: int | None = None) -> float:
    """The standard error a row is expected to have at ``n`` reviews: the pilot's (from its interval's half-width)
    scaled by sqrt(n_pilot / n); for a row against random masks, from the two variance components instead."""
    if mask_var is not None and review_var is not None and masks:
        return math.sqrt(mask_var / masks + review_var / n)
    return half_width / stats.z_value(level) * math.sqrt(n_pilot / n)
