"""The sentences and summary values of notebooks 02 and 03, from synthetic numbers."""
import json
import math

import numpy as np
import pandas as pd
import torch

from anatomy_utils import stats
from anatomy_utils.core import passes
from anatomy_utils.present import findings
from anatomy_utils.study import anatomy
from anatomy_utils.base.profiles import load_profile

N = 200
FINAL = np.where(np.arange(N) % 5 < 3, 1.0, -1.0)  # 60% positive: chance is 60%


def _lens(decided_at: int | None, layers: int = 6) -> np.ndarray:
    """A lens that predicts "positive" for everything before ``decided_at`` and the final class from there on."""
    columns = [np.ones(N) if decided_at is None or layer < decided_at else FINAL for layer in range(layers)]
    return np.stack(columns + [FINAL], axis=1)


def test_a_late_decision_is_reported_as_the_last_layer_with_the_auc_before_it():
    lens = _lens(None)
    text = findings.layer_anatomy("encoder", "m", np.array([0.49, 0.5, 0.5, 0.5, 0.541, 0.5405, 1.0]),
                                  anatomy.lens_agreement(lens), anatomy.decision_layer(lens, 0.9), "reviews")
    assert "an AUC of 0.50 one layer before the last: the decision layer is the last" in text
    assert "first reaches 0.9" not in text  # only the last layer reaches it: true by construction
    assert "-0.00" not in text and "largest fall" not in text  # a fall that rounds to zero is left out
    assert "60% (chance)" in text and "At layers 0-5 the lens predicts one class for every review" in text


def test_an_earlier_decision_is_stated_with_its_agreement_interval_and_chance():
    lens = _lens(3)
    table = anatomy.lens_agreement(lens)
    text = findings.layer_anatomy("decoder", "m", np.array([-0.001, 0.3, 0.95, 0.9, 0.5, 0.4, 1.0]), table,
                                  anatomy.decision_layer(lens, 0.9), "sentences")
    assert "an AUC of 1.00 at layer 3 of 6 (50% of the depth), the decision layer" in text
    assert "agrees with the final one on 100% [98%, 100%]" in text
    assert "it first reaches 0.9 at layer 2, before the last layer" in text
    assert "after the embeddings" in text and "-0.00" not in text and "is 0.00 after" in text
    assert "the largest fall from layer 3 to 4 (-0.40)" in text
    assert "200 test sentences" in text and "every sentence" in text


def test_jaccard_sentence_judges_only_when_there_are_nonempty_pairs():
    empty = stats.overlap_summary([[[], []]] * 4, 100)
    top = stats.overlap_summary([[[1, 2], [3, 4]]] * 4, 100)
    text = findings.neuron_anatomy("decoder", "m", 0.0, 0.0, 0.35, empty, top, 2, 100, 0.3, 0.5)
    assert "too small to tell" in text and "Where at least one" not in text
    assert "The top 2 neurons by cosine of each layer (2.0% of 100) overlap by 1.00 [1.00, 1.00]" in text
    assert "over all 12 input pairs × layers" in text and "holds" in text
    some = stats.overlap_summary([[[1], []], [[2], []], [[3], []], [[], []]], 100)
    text = findings.neuron_anatomy("decoder", "m", 0.75, 0.01, 0.35, some, top, 2, 100, 0.3, 0.5)
    assert "over 6 of 12 input pairs × layers" in text and "does not hold" in text and "too small" not in text
    assert "mean pairwise cosine of 0.30; the targets differ enough" in text


def test_alike_targets_are_named_as_the_reason_for_identical_sets():
    targets = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    assert passes.target_alignment(targets[:2]) > 0.99 and abs(passes.target_alignment(targets[[0, 2]])) < 1e-6
    top = stats.overlap_summary([[[1, 2]]] * 4, 100)
    text = findings.neuron_anatomy("encoder", "m", 2.0, 0.02, 0.35, top, top, 2, 100, 0.97, 0.5)
    assert "mean pairwise cosine of 0.97" in text and "identical sets follow from alike targets" in text


def test_causal_sentence_names_the_masked_sets_and_their_paired_intervals():
    table = pd.DataFrame([{"ablated": "top_cosine", "masked": 15, "delta_accuracy": -0.05, "ci_low": -0.09,
                           "ci_high": -0.01, "n": 200, "level": 0.95},
                          {"ablated": "random", "masked": 15, "delta_accuracy": 0.0, "ci_low": -0.01,
                           "ci_high": 0.01, "n": 200, "level": 0.95}]).set_index("ablated")
    text = findings.causal_check("encoder", "m", table, 0.1, "sentences")
    assert "200 test sentences" in text and "matched pairs" in text
    assert "masking the top 15 by cosine lowers accuracy, -5.0 pt [-9.0, -1.0], n = 200" in text
    assert "masking 15 random neurons changes accuracy by no detectable amount" in text


def test_items_are_sentences_for_rotten_tomatoes_only():
    assert findings.unit(load_profile("rotten_tomatoes")) == "sentences"
    assert findings.unit(load_profile("default")) == "reviews"
    assert findings.dataset(load_profile("default")) == "imdb"
    assert findings.layer_ranges([0, 1, 2, 4, 6, 7]) == "0-2, 4 and 6-7"


def test_summary_values_hold_no_nan():
    none = stats.overlap_summary([[[]], [[]]], 10)
    top = stats.overlap_summary([[[1]], [[2]]], 10)
    values = anatomy.overlap_values("decoder", none, top, 1, 10, 0.5) | anatomy.lens_values(
        "decoder", anatomy.lens_agreement(_lens(None)[:3]), None)
    json.dumps(values, allow_nan=False)
    assert values["anatomy.decoder.jaccard_nonempty"] is None and values["anatomy.decoder.nonempty_pairs"] == 0
    assert (values["anatomy.decoder.topk.jaccard"] == 0.0
            and math.isclose(values["anatomy.decoder.topk.jaccard_chance"], 0.1))
    assert values["anatomy.decoder.decision_layer"] is None and values["anatomy.decoder.decision_depth"] is None
    assert values["anatomy.decoder.layers"] == 6 and values["anatomy.decoder.ffn_width"] == 10
    lens = anatomy.lens_values("encoder", anatomy.lens_agreement(_lens(3)), anatomy.decision_layer(_lens(3), 0.9))
    assert lens["anatomy.encoder.decision_depth"] == 0.5 and lens["anatomy.encoder.lens_chance"] == 0.6


def test_compact_keeps_the_first_last_and_asked_for_layers_of_a_long_table():
    import pandas as pd
    from anatomy_utils.present.findings import compact

    table = pd.DataFrame({"x": range(31)})
    short = compact(table, rows=7, keep=[13])
    assert short.index[0] == 0 and short.index[-1] == 30 and 13 in short.index and len(short) <= 8
    assert compact(table.iloc[:6]).equals(table.iloc[:6])  # short tables stay whole
