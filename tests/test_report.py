import re

from anatomy_utils.present import front_page, report
from anatomy_utils.study.finetune import TRAINING_CODE
from anatomy_utils.base.cache import code_fingerprint

VALUES = {"scores.encoder.best.p30.accuracy_drop": 0.01, "scores.encoder.best.p30.drop_ci_low": -0.004,
          "scores.encoder.best.p30.drop_ci_high": 0.024, "scores.encoder.best.score": "taylor",
          "scores.encoder.best.setting": "uniform + repair", "scores.decoder.best.score": "activation",
          "scores.decoder.best.setting": "global", "prune.encoder.p30.paper_rule.accuracy": 0.84,
          "prune.encoder.p30.random.accuracy_mean": 0.80, "prune.encoder.p30.random_spread": 0.02,
          "prune.encoder.p30.random_masks": 10, "prune.encoder.p30.rule_vs_random.delta": 0.04,
          "prune.encoder.p30.rule_vs_random.ci_low": 0.01, "prune.encoder.p30.rule_vs_random.ci_high": 0.07,
          "prune.encoder.p30.rule_vs_random.n": 200, "prune.encoder.p30.rule_vs_random.verdict": "higher",
          "findings.prune.encoder": "30% pruned: the rule beats random", "run.code_fingerprint": "0ld"}


def test_results_block_gives_intervals_verdicts_and_the_chosen_setting(monkeypatch):
    monkeypatch.setattr(report.summary, "read", lambda profile: VALUES)
    lines = report.results_markdown("any").splitlines()
    assert ("| 30% removed, best score: change vs dense (pt) [simultaneous CI] | -1.0 pt [-2.4, +0.4] | – |  |"
            in lines)  # drop 0.01 shown as a change
    assert "| its budget and repair or refit, chosen on validation (06) | uniform + repair | global |  |" in lines
    assert any(line.startswith("| 30% pruned: rule − random masks (pt) [simultaneous CI], n: verdict | "
                               "+4.0 pt [+1.0, +7.0], n = 200: higher |") for line in lines)
    assert any(line.startswith("| 30% pruned: paper rule vs random masks (mean ± SD between masks, masks) | "
                               "0.840 vs 0.800 ± 0.020 (10) |") for line in lines)
    assert "| 10% pruned: paper rule vs random" not in "\n".join(lines)  # absent keys: no row
    assert "differs from the current code" in lines[0]  # results of other training code are flagged


def test_current_results_are_not_flagged(monkeypatch):
    monkeypatch.setattr(report.summary, "read",
                        lambda profile: VALUES | {"run.code_fingerprint": code_fingerprint(*TRAINING_CODE)})
    assert "differs from the current code" not in report.results_markdown("any")


def test_findings_quote_the_recorded_sentences_with_their_figures(monkeypatch):
    monkeypatch.setattr(report.summary, "read",
                        lambda profile: VALUES | {"findings.01_finetune.decoder": "decoder (smollm2): accuracy 0.85"})
    text = report.findings_markdown("default")
    assert "- decoder (smollm2): accuracy 0.85" in text  # a sentence that names its model stays as it is
    assert "- **encoder**: 30% pruned: the rule beats random" in text  # a sentence that does not name its model
    assert "![figure4_accuracy](figures/default/figure4_accuracy.png)" in text


def test_the_ledger_table_puts_both_datasets_side_by_side(monkeypatch):
    key = "claims.rule_beats_random.decoder"
    first = {"data.source": "wheel, imdb", f"{key}.verdict": "refuted", f"{key}.effect": -0.133,
             f"{key}.ci_low": -0.227, f"{key}.ci_high": -0.039, f"{key}.null": 0.0, f"{key}.level": 0.95,
             f"{key}.n": 64}
    second = {"data.source": "wheel, rotten_tomatoes", f"{key}.verdict": "inconclusive", f"{key}.effect": 0.032,
              f"{key}.ci_low": -0.007, f"{key}.ci_high": 0.072, f"{key}.null": 0.0, f"{key}.level": 0.95,
              f"{key}.n": 200, f"{key}.mde": 0.05}
    monkeypatch.setattr(report.summary, "read", lambda profile: {"a": first, "b": second}[profile])
    row = [line for line in report.ledger_markdown("a", "b").splitlines() if line.startswith("| `rule_beats_random`")
           and "| decoder |" in line][0]
    # each cell leads with what the verdict means for the claim
    assert "**does not hold** (refuted): -13.3 pt [-22.7, -3.9] vs +0.0, n = 64" in row
    assert "**undecided** (inconclusive): +3.2 pt [-0.7, +7.2] vs +0.0, n = 200; MDE 5.0 pt" in row
    assert row.endswith("|") and "**different**" in row  # the intervals of the two effects are apart
    short = [line for line in report.ledger_markdown("a", "b").splitlines() if line.startswith("- **In short")]
    assert short == ["- **In short, a**: *does not hold* (1): `rule_beats_random` (decoder, refuted).",
                     "- **In short, b**: *undecided* (1): see the table."]
    untested = "claims.lower_layers_raise_accuracy.encoder"
    first |= {f"{untested}.verdict": "not testable",
              f"{untested}.sentence": "encoder: not testable: the paper states it for GPT-2 only."}
    assert report._claim_cell(first.get, "lower_layers_raise_accuracy", "encoder") == \
        "**not tested**: the paper states it for GPT-2 only"
    key = "claims.sparse_neurons.decoder"
    share = {f"{key}.verdict": "confirmed", f"{key}.effect": 0.0042, f"{key}.ci_low": 0.003, f"{key}.ci_high": 0.0051,
             f"{key}.null": 0.05, f"{key}.n": 10}
    assert report._claim_cell(share.get, "sparse_neurons", "decoder") == \
        "**holds** (confirmed): +0.004 [+0.003, +0.005] vs +0.050, n = 10"  # not "+0.00 [+0.00, +0.00]"
    monkeypatch.setattr(report.summary, "read", lambda profile: {})
    assert "make PROFILE=b" in report.ledger_markdown("a", "b")


def test_a_cold_run_that_did_not_reproduce_says_how_many_values_and_how_many_were_not_written(monkeypatch):
    run = {"run.wall_minutes": 130.6, "run.setup_minutes": 2.5, "run.study_minutes": 128.1,
           "run.cold_commit": "5f3fa47",
           "run.cold_reproduces_committed": False, "run.cold_compared": 10, "run.cold_differences": 3}
    monkeypatch.setattr(report.summary, "read", lambda profile: VALUES | run | {"run.cold_missing": 2})
    assert "did not reproduce 3 of the 10 committed values, 2 of them keys it did not write at all" \
        in report.results_markdown("any")
    # a run from before the split was recorded
    monkeypatch.setattr(report.summary, "read", lambda profile: VALUES | run)
    assert "did not reproduce 3 of the 10 committed values (`make cold` lists them" in report.results_markdown("any")


def test_the_datasets_table_says_how_much_of_each_committed_run_its_cold_run_reproduced(monkeypatch):
    runs = {"a": {"run.cold_reproduces_committed": True},
            "b": {"run.cold_reproduces_committed": False, "run.cold_differences": 26, "run.cold_compared": 652,
                  "run.cold_missing": 26}}
    monkeypatch.setattr(report.summary, "read", lambda profile: runs[profile])
    row = report.datasets_markdown("a", "b").splitlines()[-1]
    assert row == ("| reproduced the summary committed before it (`make cold`) | yes | no: 26 of 652 values "
                   "(26 of them keys the fresh run did not write) |")
    runs["a"] = {}
    assert report.datasets_markdown("a", "b").splitlines()[-1].split(" | ")[1] == "–"


def test_the_speed_paragraph_gives_one_line_per_model_with_its_intervals(monkeypatch):
    timing = {"env.threads": 2, "timing.encoder.device": "AMD EPYC (2 logical CPUs)", "timing.encoder.threads": 1,
              "timing.encoder.batch": 1, "timing.encoder.tokens": 256, "timing.encoder.dense_seconds_per_1000": 217.66,
              "timing.encoder.aa_ratio": 0.9956, "timing.encoder.aa_ci_low": 0.9905, "timing.encoder.aa_ci_high": 1.002,
              "timing.encoder.gate_passed": True, "timing.encoder.zeroed_ratio": 0.997,
              "timing.encoder.p50.removed_ratio": 1.36, "timing.encoder.p50.removed_ci_low": 1.34,
              "timing.encoder.p50.removed_ci_high": 1.38, "timing.encoder.p50.ceiling_flops": 1.43}
    monkeypatch.setattr(report.summary, "read", lambda profile: timing)
    lines = [line for line in report.findings_markdown("any").splitlines() if line.startswith("- **")]
    assert lines == ["- **encoder** (AMD EPYC (2 logical CPUs), 1 thread; batch 1 x 256 tokens; "
                     "dense 217.7 s per 1,000): A/A 0.996x [0.991, 1.002], zeroed weights 1.00x; "
                     "50% removed 1.36x [1.34, 1.38] against a 1.43x FLOP bound."]
    monkeypatch.setattr(report.summary, "read", lambda profile: timing | {"timing.encoder.gate_passed": False})
    assert "timing noise exceeds tolerance" in report.findings_markdown("any")
    # the results row reads the timing keys' own spelling (removed_ci_low), so the interval is printed
    monkeypatch.setattr(report.summary, "read", lambda profile: timing | {"timing.encoder.p30.removed_ratio": 1.18,
                                                                          "timing.encoder.p30.removed_ci_low": 1.16,
                                                                          "timing.encoder.p30.removed_ci_high": 1.2})
    row = [line for line in report.results_markdown("any").splitlines() if line.startswith("| 30% pruned: speed-up")][0]
    assert "| 1.18 [1.16, 1.20] / " in row


def _front_page_values() -> dict:
    values = {"data.test": 1000}
    for m in report.ROLES:
        values |= {f"finetune.{m}.model": f"model-{m}", f"finetune.{m}.test_accuracy": 0.85}
        for claim, effect, null in (("late_decision", 0.8, 0.9), ("sparse_neurons", 0.001, 0.05),
                                    ("same_neurons", 0.2, 0.5), ("removal_speeds_up", 1.4, 1.0),
                                    ("rule_keeps_accuracy", -0.1, -0.02), ("refit_keeps_accuracy", -0.01, -0.02)):
            values |= {f"claims.{claim}.{m}.{k}": v for k, v in (("effect", effect), ("ci_low", effect - 0.01),
                                                                 ("ci_high", effect + 0.01), ("null", null),
                                                                 ("n", 200), ("verdict", "refuted"))}
    return values


def test_the_front_page_gives_a_reading_order_and_five_short_findings_from_the_ledger(monkeypatch):
    values = _front_page_values()
    monkeypatch.setattr(front_page.summary, "read", lambda profile: values)
    reading, _, *findings, _, figure = front_page.headline_markdown("default").splitlines()
    assert reading.startswith("**How to read this page.**") and "*FFN neuron*" in reading and "*pt*" in reading
    assert [line[:3] for line in findings] == ["1. ", "2. ", "3. ", "4. ", "5. "] and figure.startswith("![")
    for line in findings:
        assert "notebooks/executed/default/" in line
        text = re.sub(r"\d\.\d", "#", line.split("**", 2)[2])  # the finding after its bold title, decimals masked
        assert len(re.findall(r"[.!?](?:\s|$)", text)) <= 2, line  # at most two sentences
    assert "the encoder loses 9.0 to 11.0 pt and the decoder loses 9.0 to 11.0 pt" in findings[3]
    assert "AUC of at most 0.81 in the encoder" in findings[1] and "model-encoder 85.0%" in findings[0]
    assert "the encoder runs 1.40x faster" in findings[4] and "the encoder loses at most 2.0 pt" in findings[4]
    values["claims.rule_keeps_accuracy.encoder.verdict"] = "confirmed"
    values["claims.late_decision.decoder.verdict"] = "inconclusive"
    page = front_page.headline_markdown("default")
    assert "holds in the encoder but not in the decoder" in page and "undecided for the decoder" in page
    monkeypatch.setattr(front_page.summary, "read", lambda profile: {})
    assert "make" in front_page.headline_markdown("default")


def test_a_registered_score_reaches_the_readme_with_no_other_edit(monkeypatch):
    from anatomy_utils.core import importance

    monkeypatch.setitem(importance.SCORES, "squared_norm", lambda inputs: None)
    values = VALUES | {"scores.encoder.squared_norm.p30.accuracy": 0.83, "scores.encoder.squared_norm.p30.ci_low": 0.8,
                       "scores.encoder.squared_norm.p30.ci_high": 0.86, "scores.encoder.squared_norm.seconds": 1.5}
    monkeypatch.setattr(report.summary, "read", lambda profile: values)
    lines = report.results_markdown("any").splitlines()
    assert ("| 30% removed, squared_norm score at its setting: accuracy [95% CI] | 0.830 [0.800, 0.860] | – |  |"
            in lines)
    assert "| seconds to compute the squared_norm score (06) | 1.5 | – |  |" in lines
    assert not any("mirror score" in line for line in lines)  # the control stays in 06


SEEDS = {"claims.rule_keeps_accuracy.encoder.verdict": "confirmed", "findings.07_seeds": "Across 4 runs ...",
         "seeds.rule_keeps_accuracy.encoder.stable": "3/4 confirmed, 1/4 inconclusive",
         "seeds.rule_keeps_accuracy.encoder.verdicts": "confirmed, confirmed, inconclusive, confirmed",
         "seeds.rule_keeps_accuracy.encoder.n_seeds": 4, "seeds.rule_keeps_accuracy.encoder.agree": 3,
         "seeds.rule_keeps_accuracy.encoder.pooled_effect": -0.004,
         "seeds.rule_keeps_accuracy.encoder.pooled_ci_low": -0.012,
         "seeds.rule_keeps_accuracy.encoder.pooled_ci_high": 0.004,
         "seeds.rule_keeps_accuracy.encoder.between_sd": 0.003,
         "seeds.rule_keeps_accuracy.encoder.within_sd": 0.006,
         "seeds.rule_keeps_accuracy.encoder.pooled_verdict": "confirmed"}


def test_the_seed_study_reaches_the_readme_and_the_ledger_column(monkeypatch):
    monkeypatch.setattr(report.summary, "read", lambda profile: SEEDS)
    rows = report.seeds_markdown("any").splitlines()
    assert ("| `rule_keeps_accuracy` | encoder | confirmed | 3/4 confirmed, 1/4 inconclusive (confirmed, confirmed, "
            "inconclusive, confirmed) | -0.4 pt [-1.2 pt, +0.4 pt] | 0.3 pt (0.6 pt) | confirmed |") in rows
    assert rows[-1] == "In words (07): Across 4 runs ..."
    assert report.claims.seeds_text(SEEDS, "rule_keeps_accuracy", "encoder") == (
        "4 seeds: 3/4 confirmed, 1/4 inconclusive; pooled -0.4 pt [-1.2 pt, +0.4 pt] -> confirmed")
    assert report.claims.seeds_text(SEEDS, "late_decision", "encoder") is None  # not re-judged: no column text
    monkeypatch.setattr(report.summary, "read", lambda profile: {})
    assert report.seeds_markdown("rotten_tomatoes").startswith("(Run `make PROFILE=rotten_tomatoes`")
