"""The steps notebooks 04 (encoder) and 05 (decoder) share, one method each, so that the two notebooks hold only what
is their own: their role, their figure names and their text. The study itself lives in ``prune_study`` and
``speed_study``; this module only strings it together for one role and prints what a reader checks."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from . import findings, paper, plots, predictions, prune_study, readings, speed_study, stats, summary
from .families import ffn_widths
from .finetune import encoded_split, load_trained
from .profiles import Profile
from .runtime import FIGURES


@dataclass
class PruneNotebook:
    """One role's fine-tuned model, its test subsets (all, the grid's, the random masks'), its prediction store and the
    inputs 02/03 saved; each step below adds its results to ``values`` (the summary keys ``record`` writes)."""

    profile: Profile
    role: str
    values: dict = field(default_factory=dict)

    def __post_init__(self):
        p, role = self.profile, self.role
        self.clf, self.tok, self.meta = load_trained(p, role)
        self.data, self.grid_data, self.mask_data = (
            encoded_split(p, role, self.tok, "test", getattr(p.prune, f"{role}_{part}_examples"))
            for part in ("eval", "grid", "mask"))
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

    def accuracy(self) -> str:
        """The grid, the rule across sparsities and the random masks, paired; tables saved beside the figures."""
        p, role = self.profile, self.role
        self.results, found = prune_study.run(p, role, self.store, self.data, self.grid_data, self.mask_data)
        self.compared = prune_study.comparisons(self.results, found, p.claims.accuracy_margin)
        self.sweep = prune_study.sweep_table(self.results, self.compared)
        self.results.to_csv(FIGURES / p.name / f"prune_{role}_results.csv", index=False)
        self.compared.to_csv(FIGURES / p.name / f"prune_{role}_comparisons.csv", index=False)
        self.values |= prune_study.summary_values(p, role, self.results, self.compared, self.unit)
        columns = ["method", "setting", "sparsity", "n", "pruned_fraction", "accuracy", "ci_low", "ci_high",
                   "agreement", "mean_abs_dlogit"]
        shown = self.results[self.results["method"] != prune_study.RANDOM][columns]
        return f"{shown.round(3).to_string()}\n{self.sweep.round(3).to_string()}"

    def accuracy_figure(self):
        return plots.pruning_accuracy(self.results, self.sweep, self.title, paper.points(self.role), self.unit)

    def accuracy_reading(self) -> str:
        dense = self.results.loc[self.results["method"] == "dense", "accuracy"].iloc[0]
        return readings.pruning(self.sweep, dense, self.profile.prune.headline_sparsities)

    def timing(self) -> str:
        """Dense, zeroed, removed and width-rounded copies timed with the A/A control; what rounding costs in
        accuracy."""
        p, role = self.profile, self.role
        keeps, rounded = prune_study.timing_keeps(p, role, self.clf)
        # quiet: the gate's machine-dependent refusal is printed by speed_text, in a cell nbval does not compare
        self.speed, timed, self.gate = speed_study.speed(p, role, self.clf, self.tok, keeps, rounded=rounded,
                                                         quiet=True)
        self.speed.to_csv(FIGURES / p.name / f"prune_{role}_speed.csv", index=False)
        rounding = prune_study.rounding_cost(self.store, self.data, keeps, rounded, p.claims.accuracy_margin)
        self.values |= timed | {f"prune.{role}.p{round(100 * r['sparsity'])}.rounding_cost.{k}": r[k]
                                for _, r in rounding.iterrows() for k in ("delta", "ci_low", "ci_high", "n", "verdict")}
        self.timed = timed
        return "\n".join([
            f"timed batch: {timed[f'timing.{role}.batch']} x {timed[f'timing.{role}.tokens']} tokens ({self.unit} x "
            f"tokens), {p.prune.timing_rounds} rounds",
            f"removed model's logits equal the zeroed model's to 1e-5: "
            f"{timed[f'timing.{role}.max_abs_logit_diff_removed_vs_zeroed'] < 1e-5}",
            self.speed[["variant", "ceiling_flops"]].dropna().round(3).to_string(index=False),
            "rounding the widths, rounded minus own widths (accuracy):",
            *(f"  {r['sparsity']:.0%}: {stats.describe(r)} -> {r['verdict']}" for _, r in rounding.iterrows())])

    def speed_text(self) -> str:
        """The measured speed-ups in words (machine-dependent: not compared by nbval)."""
        return "\n".join(speed_study.describe(self.timed, self.role))

    def timing_figure(self):
        return plots.inference_time(self.speed, self.title, self.timed[f"timing.{self.role}.device"],
                                    self.timed[f"timing.{self.role}.threads"], self.gate, paper.TIMING[self.role])

    def speed_reading(self) -> str:
        return readings.speed(self.speed)

    def footprints(self) -> pd.DataFrame:
        """The rule's model at the first timed sparsity saved as a checkpoint folder and loaded back in one call."""
        return prune_study.save_pruned(self.profile, self.role, self.clf, self.tok, self.data,
                                       self.profile.prune.timing_sparsities[0])

    def verdicts(self) -> str:
        return "\n".join(prune_study.verdict(self.compared, self.unit))

    def record(self, notebook: str) -> None:
        """Write this notebook's summary keys (dropping the role's keys of earlier runs) and its predictions."""
        summary.record(self.profile.name, self.values, forget=(f"prune.{self.role}.", f"timing.{self.role}."))
        predictions.export(self.profile.name, notebook, [self.store])
