"""The computed lines printed under each figure: right numbers, in the right place, from hand-made inputs."""
import numpy as np
import pandas as pd

from anatomy_utils.present import readings


def test_training_and_confusion_read_the_meta_of_fine_tuning():
    meta = {"history": [{"loss": 1.0}] * 10 + [{"loss": 0.1}] * 10,
            "metrics": {"validation": {"accuracy": 0.8, "n": 50},
                        "test": {"accuracy": 0.85, "n": 100, "confusion": [[40, 10], [5, 45]]}}}
    text = readings.training({"encoder": meta})
    assert text == ("This run, encoder: training loss 1.000 over the first tenth of its 20 steps and 0.100 over the "
                    "last; validation accuracy 0.800 (n = 50), test 0.850 (n = 100).")
    assert "15 errors on 100 test items: 10 negatives called positive and 5 positives called negative (67% / 33%" \
        in readings.confusion({"encoder": meta})


def test_layer_curves_name_where_the_cosine_reaches_one_half_and_how_far_inputs_differ():
    curves = np.array([[0.1, 0.2, 0.6, 0.9, 1.0], [0.3, 0.2, 0.4, 0.9, 1.0]])
    assert "cosine 0.10 at the embeddings, 0.60 at layer 2, 0.90 at layer 3 of 4; it first reaches 0.5 at layer 2" \
        in readings.layer_curve({"decoder": curves})
    assert "SD of 0.050 on average over the layers, at most 0.100 (layer 0)" in readings.input_spread({"d": curves})


def test_the_lens_line_names_the_decision_layer_or_says_there_is_none():
    table = pd.DataFrame({"auc": [0.5, 0.6, 0.7, 0.95, 1.0], "agreement": [0.4, 0.7, 0.8, 0.9, 1.0],
                          "chance": [0.6] * 5})
    assert ("stays at or above 0.9 from layer 3 of 4 on; AUC 0.60 at layer 1 and 0.70 at layer 2; agreement below "
            "chance at 1 of 4 layers") in readings.lens({"encoder": table}, {"encoder": 3}, 0.9)
    assert "never stays at or above 0.9" in readings.lens({"encoder": table}, {"encoder": None}, 0.9)


def test_neuron_lines_count_the_sets_and_find_the_highest_cosine():
    sets = {"encoder": [[[1, 2], [], [5]], [[1], [], []]]}  # [input][layer] -> ids
    assert "2.0 neurons above 0.35 per input (from 1 to 3 across the 2 inputs), in layers 0 and 2" \
        in readings.neuron_counts(sets, 0.35)
    cosines = {"encoder": np.zeros((2, 3, 8))}
    cosines["encoder"][0, 2, 5] = 0.4
    assert "3 neurons above 0.35, in layers 0 and 2; the highest cosine is 0.400 (neuron 5 of layer 2)" \
        in readings.neuron_graph(sets, cosines, 0.35)
    assert "in layer 2;" in readings.neuron_graph({"encoder": [[[], [], [5]]]}, cosines, 0.35)
    empty = {"encoder": [[[], [], []]]}
    assert "no neuron above 0.35" in readings.neuron_graph(empty, cosines, 0.35)


def test_overlaps_average_different_inputs_only_and_skip_undefined_pairs():
    m = np.array([[1.0, 0.2, np.nan], [0.2, 1.0, 0.4], [np.nan, 0.4, 1.0]])
    text = readings.overlaps({"early": m, "late": np.full((2, 2), np.nan)}, "encoder, top 15", 0.005)
    assert text == ("This run, encoder, top 15: mean overlap of two different inputs: early: 0.300; late: no pair to "
                    "compare (two random sets: 0.005).")


def test_the_pruning_and_score_lines_carry_intervals_and_verdicts():
    sweep = pd.DataFrame({"paper_rule": [0.8], "rule_ci_low": [0.75], "rule_ci_high": [0.85], "random_mean": [0.7],
                          "random_spread": [0.05], "random_masks": [10], "delta": [0.1], "delta_ci_low": [0.02],
                          "delta_ci_high": [0.18], "verdict": ["higher"]}, index=[0.5])
    assert ("50% pruned: the rule 0.800 [0.750, 0.850], random masks 0.700 (SD 0.050 over 10), rule minus random "
            "+10.0 pt [+2.0, +18.0] -> higher") in readings.pruning(sweep, 0.9)
    table = pd.DataFrame({"score": ["taylor", "cosine"], "setting": ["global", "uniform"], "sparsity": [0.5, 0.5],
                          "drop": [0.01, 0.2], "drop_ci_low": [-0.01, 0.15], "drop_ci_high": [0.03, 0.25],
                          "verdict": ["equivalent", "higher"]})
    assert ("best taylor (global, 50%) -1.0 pt [-3.0, +1.0]; the paper's cosine at its best setting -20.0 pt; 1 of 2 "
            "rows equivalent to dense within ±2 pt") in readings.scores({"encoder": table}, 0.02)


def test_agreement_emptied_and_seed_lines():
    names = ["a", "b", "c"]
    table = pd.DataFrame([[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1]], index=names, columns=names)
    assert "most alike a and b (0.500), least a and c (0.200); chance 0.333" \
        in readings.agreement({"encoder": table}, 1 / 3)
    shares = pd.DataFrame([[0.1, 0.9, 0.5]], index=["taylor"])
    assert "taylor removes most in layer 1 (90%) and least in layer 0 (10%)" \
        in readings.emptied({"encoder": shares}, {"encoder": "taylor"})
    pooled = pd.DataFrame({"agree": [4, 3], "n_seeds": [4, 4]})
    assert "1 of 2 claim rows keep the committed run's verdict in all 4 runs" in readings.seeds(pooled)
    assert "one fine-tuning run" in readings.seeds(pd.DataFrame({"agree": [1], "n_seeds": [1]}))
