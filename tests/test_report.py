from anatomy_utils import report


def test_results_block_names_the_chosen_setting_and_the_targets(monkeypatch):
    values = {"scores.encoder.best_p30.accuracy_drop": 0.01, "scores.encoder.best_p50.accuracy_drop": 0.04,
              "scores.encoder.best_p50.score": "taylor", "scores.encoder.taylor.p50.setting": "uniform + repair",
              "scores.decoder.best_p50.score": "activation", "scores.decoder.activation.p50.setting": "global"}
    monkeypatch.setattr(report.summary, "read", lambda profile: values)
    lines = report.results_markdown("any").splitlines()
    assert "| 50% removed, best score (06): accuracy drop vs dense (encoder target: at most 0.015) | 0.040 | – |  |" in lines
    assert "| its budget and repair, chosen on validation (06) | uniform + repair | global |  |" in lines
    assert "| 10% pruned: paper rule vs random (mean ± std)" not in "\n".join(lines)  # absent keys: no row
