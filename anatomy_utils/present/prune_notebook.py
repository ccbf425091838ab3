"""The steps notebooks 04 (encoder) and 05 (decoder) share, one method each, so that the two notebooks hold only what
is their own: their role, their figure names and their text. The study itself lives in ``prune_study`` and
``speed_study``; this module only strings it together for one role and prints what a reader checks."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from . import findings, plots, readings
from .. import stats
from ..base import keys, paper, summary
from ..study import predictions, prune_study, speed_study
from ..core.families import ffn_widths
from ..study.finetune import encoded_split, load_trained
from ..base.profiles import Profile
from ..base.runtime import FIGURES


@dataclass(frozen=True)
class Accuracy:
    """What the accuracy step measured: every variant's accuracy, the paired comparisons, the sweep of the rule against
    random masks, and their summary keys."""

    results: pd.DataFrame
    compared: pd.DataFrame
    sweep: pd.DataFrame
    values: dict


@dataclass(frozen=True)
class Speed:
    """What the timing step measured: the speed table, the timing keys, whether the A/A gate passed, what rounding the
    widths costs in accuracy, and their summary keys."""

    table: pd.DataFrame
    timed: dict
    gate: bool
    rounding: pd.DataFrame
    values: dict


@dataclass
class PruneNotebook:
    """One role's fine-tuned model, its test subsets (all, the grid's, the random masks'), its prediction store and the
    inputs 02/03 saved. The two measurements (``measured``: accuracy, ``speed_run``: timing) are computed once, on
    first use, by whichever step needs them first, so the steps can be called in any order."""

    profile: Profile
    role: str

    def __post_init__(self):
        p, role = self.profile, self.role
        self.clf, self.tok, self.meta = load_trained(p, role)
        size = p.sizes[role]
        self.data, self.grid_data, self.mask_data = (
            encoded_split(p, role, self.tok, "test", count) for count in (size.prune, size.grid, size.masks))
        self.store = predictions.Store(p.name, role, self.clf, self.tok.pad_token_id, getattr(p, role).eval_batch_size)
        self.widths = ffn_widths(self.clf.body)
        self.saved = prune_study.inputs(p, role)
        self.grid = prune_study.rules(p, role, len(self.widths))
        self.unit = findings.unit(p)
        self.title = f"{role}: {self.meta['config']['model']}, {findings.dataset(p)}"

    def header(self) -> str:
        return (f"{self.title}: {len(self.widths)} layers x {self.widths[0]} FFN neurons; rule vs random on "
                f"{len(self.data.ids)} test {self.unit} (random masks on the first {len(self.mask_data.ids)}), the "
                f"paper's grid on the first {len(self.grid_data.ids)}\nfocusing layers per grid point: "
                f"{sorted({r.focusing for r in self.grid})}")

    def thresholds(self) -> str:
        """Figure 4a / 5a: thresholds and neurons pruned per layer for the grid's first setting."""
        table = prune_study.figure4a(self.grid[0], self.saved, self.widths)
        return (f"alpha={self.grid[0].alpha} beta={self.grid[0].beta}: {table['pruned'].sum()} of {sum(self.widths)} "
                f"neurons pruned\n{table.round(5).to_string()}")

    @cached_property
    def measured(self) -> Accuracy:
        """The grid, the rule across sparsities and the random masks, paired; tables saved beside the figures."""
        p, role = self.profile, self.role
        results, found = prune_study.run(p, role, self.store, self.data, self.grid_data, self.mask_data)
        compared = prune_study.comparisons(results, found, p.claims.accuracy_margin)
        results.to_csv(FIGURES / p.name / f"prune_{role}_results.csv", index=False)
        compared.to_csv(FIGURES / p.name / f"prune_{role}_comparisons.csv", index=False)
        return Accuracy(results, compared, prune_study.sweep_table(results, compared),
                        prune_study.summary_values(p, role, results, compared, self.unit))

    def accuracy(self) -> str:
        """The accuracy table and the sweep, as the notebook prints them."""
        columns = ["method", "setting", "sparsity", "n", "pruned_fraction", "accuracy", "ci_low", "ci_high",
                   "agreement", "mean_abs_dlogit"]
        results = self.measured.results
        shown = results[results["method"] != prune_study.RANDOM][columns]
        return f"{shown.round(3).to_string()}\n{self.measured.sweep.round(3).to_string()}"

    def accuracy_figure(self):
        m = self.measured
        return plots.pruning_accuracy(m.results, m.sweep, self.title, paper.points(self.role), self.unit)

    def accuracy_reading(self) -> str:
        results = self.measured.results
        dense = results.loc[results["method"] == "dense", "accuracy"].iloc[0]
        return readings.pruning(self.measured.sweep, dense, self.profile.prune.headline_sparsities)

    @cached_property
    def speed_run(self) -> Speed:
        """Dense, zeroed, removed and width-rounded copies timed with the A/A control; what rounding costs in
        accuracy."""
        p, role = self.profile, self.role
        keeps, rounded = prune_study.timing_keeps(p, role, self.clf)
        # quiet: the gate's machine-dependent refusal is printed by speed_text, in a cell nbval does not compare
        table, timed, gate = speed_study.speed(p, role, self.clf, self.tok, keeps, rounded=rounded, quiet=True)
        table.to_csv(FIGURES / p.name / f"prune_{role}_speed.csv", index=False)
        rounding = prune_study.rounding_cost(self.store, self.data, keeps, rounded, p.claims.accuracy_margin)
        values = timed | {keys.prune(role, keys.percent(r["sparsity"]), "rounding_cost", k): r[k]
                          for _, r in rounding.iterrows() for k in ("delta", "ci_low", "ci_high", "n", "verdict")}
        return Speed(table, timed, gate, rounding, values)

    @property
    def speed(self) -> pd.DataFrame:
        """The speed table (``prune_<role>_speed.csv``)."""
        return self.speed_run.table

    def timing(self) -> str:
        """The timed batch, the removed-vs-zeroed check, the FLOP ceilings and the cost of rounding, as printed."""
        p, role, timed = self.profile, self.role, self.speed_run.timed
        return "\n".join([
            f"timed batch: {timed[keys.timing(role, 'batch')]} x {timed[keys.timing(role, 'tokens')]} tokens "
            f"({self.unit} x tokens), {p.prune.timing_rounds} rounds",
            f"removed model's logits equal the zeroed model's to 1e-5: "
            f"{timed[keys.timing(role, 'max_abs_logit_diff_removed_vs_zeroed')] < 1e-5}",
            self.speed[["variant", "ceiling_flops"]].dropna().round(3).to_string(index=False),
            "rounding the widths, rounded minus own widths (accuracy):",
            *(f"  {r['sparsity']:.0%}: {stats.describe(r)} -> {r['verdict']}"
              for _, r in self.speed_run.rounding.iterrows())])

    def speed_text(self) -> str:
        """The measured speed-ups in words (machine-dependent: not compared by nbval)."""
        return "\n".join(speed_study.describe(self.speed_run.timed, self.role))

    def timing_figure(self):
        timed = self.speed_run.timed
        return plots.inference_time(self.speed, self.title, timed[keys.timing(self.role, "device")],
                                    timed[keys.timing(self.role, "threads")], self.speed_run.gate,
                                    paper.TIMING[self.role])

    def speed_reading(self) -> str:
        return readings.speed(self.speed)

    def footprints(self) -> pd.DataFrame:
        """The rule's model at the first timed sparsity saved as a checkpoint folder and loaded back in one call."""
        return prune_study.save_pruned(self.profile, self.role, self.clf, self.tok, self.data,
                                       self.profile.prune.timing_sparsities[0])

    def verdicts(self) -> str:
        return "\n".join(prune_study.verdict(self.measured.compared, self.unit))

    def record(self, notebook: str) -> None:
        """Write this notebook's summary keys (both measurements', dropping the role's keys of earlier runs) and its
        predictions."""
        summary.record(self.profile.name, self.measured.values | self.speed_run.values,
                       forget=(keys.under(keys.prune(self.role)), keys.under(keys.timing(self.role))))
        predictions.export(self.profile.name, notebook, [self.store])
