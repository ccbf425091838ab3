"""The paper's numbers, kept in one module, reach the figure, the README's results block and the paper profile."""
from anatomy_utils.base import paper, profiles
from anatomy_utils.present import report


def test_the_papers_points_are_labelled_from_its_numbers():
    assert paper.points("encoder") == [(0.3, 0.851, "paper rule 85.1"), (0.7, 0.78, "paper rule 78"),
                                       (0.5, 0.582, "paper random 58.2")]
    assert paper.points("decoder") == []  # the text gives no GPT-2 accuracies after pruning


def test_the_readme_rows_and_the_paper_profile_read_the_same_numbers():
    values = {"prune.encoder.p30.paper_rule.accuracy": 0.8, "prune.encoder.p50.paper_rule.accuracy": 0.7}
    rows = "\n".join(report._pruning_rows(values.get))
    assert "| 0.851 vs – (BERT) |" in rows and "| – vs 0.582 (BERT) |" in rows
    assert "0.862 / 0.849" in "\n".join(report._anatomy_rows({}.get))
    assert (profiles.PAPER_REFERENCE.encoder, profiles.PAPER_REFERENCE.decoder) == (0.862, 0.849)
