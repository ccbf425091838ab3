import pandas as pd

from anatomy_utils import score_study


def selection(rows):
    return pd.DataFrame(rows, columns=["score", "setting", "accuracy", "loss"])


def test_validation_accuracy_decides_and_loss_breaks_ties():
    table = selection([("taylor", "uniform", 0.80, 0.40), ("taylor", "global", 0.85, 0.50),
                       ("taylor", "uniform + repair", 0.85, 0.45), ("taylor", "global + repair", 0.70, 0.30),
                       ("cosine", "uniform", 0.75, 0.40), ("cosine", "global", 0.75, 0.40)])
    chosen = score_study.chosen_settings(table)
    assert chosen["taylor"] == "uniform + repair"  # tied with "global" on accuracy, lower loss
    assert chosen["cosine"] == "uniform"  # a full tie goes to the simpler, earlier setting
    assert chosen["mirror"] == chosen["random"] == "uniform"  # controls are never chosen on validation
    assert score_study.best(table) == "taylor"


def test_selection_table_stars_the_chosen_setting_in_settings_order():
    table = selection([(score, setting, 0.5 + 0.1 * i, 0.3) for score in ("cosine", "taylor")
                       for i, setting in enumerate(score_study.SETTINGS)])
    shown = score_study.selection_table(table)
    assert list(shown.columns) == list(score_study.SETTINGS)
    assert shown.loc["taylor", "global + repair"] == "0.800 / 0.300 *"
    assert shown.loc["taylor", "uniform"] == "0.500 / 0.300"
