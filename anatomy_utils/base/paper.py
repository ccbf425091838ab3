"""The paper's own numbers, in one place: what the study sets its results against (the ledger, Figures 4/4-1 and
5/5-1, the README's results block, the ``paper`` profile's reference accuracies). Table 1's probe inputs are data:
``data/probe_inputs.csv``."""
from __future__ import annotations

FINE_TUNED = {"encoder": 0.862, "decoder": 0.849}  # test accuracy of the fine-tuned BERT-base and GPT-2 (§5.3, Fig. 4a)
FINE_TUNED_SOURCE = "the paper's BERT and GPT-2 on IMDB (section 5.3, Figure 4a)"
# accuracy after pruning a fraction of the FFN neurons (§5.3); the text gives none for GPT-2
RULE = {"encoder": {0.3: 0.851, 0.7: 0.78}, "decoder": {}}  # by the paper's rule
RANDOM = {"encoder": {0.5: 0.582}, "decoder": {}}  # at random, the rule's control
# seconds per 1,000 test reviews on a T4 GPU, dense and with a fraction of the neurons zeroed (§5.3)
TIMING = {"encoder": {"model": "BERT-base", "sparsity": 0.1, "dense_seconds": 13.71, "zeroed_seconds": 10.3},
          "decoder": {"model": "GPT-2", "sparsity": None, "dense_seconds": 23.0, "zeroed_seconds": 20.0}}


def points(role: str) -> list[tuple[float, float, str]]:
    """The pruned accuracies the paper reports for ``role``, as (fraction pruned, accuracy, label) for a figure."""
    return ([(f, a, f"paper rule {100 * a:g}") for f, a in RULE[role].items()]
            + [(f, a, f"paper random {100 * a:g}") for f, a in RANDOM[role].items()])
