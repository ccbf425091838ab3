from anatomy_utils import report
from anatomy_utils.finetune import TRAINING_CODE
from anatomy_utils.runtime import code_fingerprint

VALUES = {"scores.encoder.best_p30.accuracy_drop": 0.01, "scores.encoder.best_p30.drop_ci_low": -0.004,
          "scores.encoder.best_p30.drop_ci_high": 0.024, "scores.encoder.best_p50.score": "taylor",
          "scores.encoder.taylor.p50.setting": "uniform + repair", "scores.decoder.best_p50.score": "activation",
          "scores.decoder.activation.p50.setting": "global", "prune.encoder.p30.paper_rule.accuracy": 0.84,
          "prune.encoder.p30.random.accuracy_mean": 0.80, "prune.encoder.p30.rule_vs_random.delta": 0.04,
          "prune.encoder.p30.rule_vs_random.ci_low": 0.01, "prune.encoder.p30.rule_vs_random.ci_high": 0.07,
          "prune.encoder.p30.rule_vs_random.p_holm": 0.012, "prune.encoder.p30.rule_vs_random.verdict": "higher",
          "findings.prune.encoder": "30% pruned: the rule beats random", "run.code_fingerprint": "0ld"}


def test_results_block_gives_intervals_verdicts_and_the_chosen_setting(monkeypatch):
    monkeypatch.setattr(report.summary, "read", lambda profile: VALUES)
    lines = report.results_markdown("any").splitlines()
    assert ("| 30% removed, best score: drop vs dense (pt) [95% CI] (encoder target: ≤ 0.5, upper end ≤ 2) "
            "| 1.0 [-0.4, 2.4] | – |  |") in lines
    assert "| its budget and repair, chosen on validation (06) | uniform + repair | global |  |" in lines
    assert any(line.startswith("| 30% pruned: rule − random, paired (pt) [95% CI], Holm p: verdict | 4.0 [1.0, 7.0], "
                               "p = 0.012: higher |") for line in lines)
    assert "| 10% pruned: paper rule vs random" not in "\n".join(lines)  # absent keys: no row
    assert "differs from the current code" in lines[0]  # results of other training code are flagged


def test_current_results_are_not_flagged(monkeypatch):
    monkeypatch.setattr(report.summary, "read",
                        lambda profile: VALUES | {"run.code_fingerprint": code_fingerprint(*TRAINING_CODE)})
    assert "differs from the current code" not in report.results_markdown("any")


def test_findings_quote_the_recorded_sentences_with_their_figures(monkeypatch):
    monkeypatch.setattr(report.summary, "read", lambda profile: VALUES)
    text = report.findings_markdown("default")
    assert "- 30% pruned: the rule beats random" in text
    assert "![figure4_accuracy](figures/default/figure4_accuracy.png)" in text


def test_two_datasets_table_says_where_the_answers_agree(monkeypatch):
    first = VALUES | {"finetune.encoder.test_accuracy": 0.86, "data.source": "wheel, imdb", "data.test": 1000,
                      "prune.encoder.p50.rule_vs_random.verdict": "not resolved at this n",
                      "anatomy.encoder.mean_jaccard_across_inputs": 0.95}
    second = first | {"data.source": "wheel, rotten_tomatoes", "scores.encoder.best_p50.score": "magnitude",
                      "scores.encoder.magnitude.p50.setting": "global",
                      "anatomy.encoder.mean_jaccard_across_inputs": 0.91}
    monkeypatch.setattr(report.summary, "read", lambda profile: {"a": first, "b": second}[profile])
    lines = report.comparison_markdown("a", "b").splitlines()
    assert any(l.startswith("| best score at 50%, chosen on validation | encoder | taylor (uniform + repair) | "
                            "magnitude (global) | **no** |") for l in lines)
    assert any(l.startswith("| 50% pruned, paper rule − random: verdict | encoder |") and l.endswith("| yes |")
               for l in lines)
    assert any(l.startswith("| same neurons above 0.35") and l.endswith("| yes |") for l in lines)
    monkeypatch.setattr(report.summary, "read", lambda profile: {})
    assert "make PROFILE=b" in report.comparison_markdown("a", "b")
