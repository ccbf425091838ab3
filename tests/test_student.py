"""The student track: nbgrader strips the solutions; the solved notebooks pass the package's tests, the stripped ones
fail them; grade() tells a wrong function from a right one."""
import json

import pytest
import torch

from anatomy_utils.tools import student


def test_there_are_six_coded_exercises_and_every_one_says_its_goal_difficulty_and_minutes():
    coded = student.exercises()
    assert len(coded) >= 6
    assert all(e.goal and e.difficulty in ("easy", "medium", "hard") and e.minutes > 0 and e.tests for e in coded)
    assert all(w.scheme and w.minutes > 0 for week in student.WEEKS.values() for w in week["written"])


def test_the_solution_is_the_package_source_between_nbgraders_markers():
    cell = student._solution_cell("core.passes:layer_similarity")
    assert cell.startswith("def layer_similarity(states: torch.Tensor) -> np.ndarray:")
    body = cell.split("### BEGIN SOLUTION\n")[1].split("\n    ### END SOLUTION")[0]
    assert body.strip() == "return F.cosine_similarity(states, states[:, -1:, :], dim=-1).numpy()"
    assert "F, np, torch" in student._imports("core.passes:layer_similarity")


def test_grade_passes_the_right_function_and_fails_a_wrong_one():
    def layer_similarity(states):
        return torch.nn.functional.cosine_similarity(states, states[:, -1:, :], dim=-1).numpy()

    student.grade(layer_similarity)

    def layer_similarity(states):  # noqa: F811  cosine to the first layer instead of the last
        return torch.nn.functional.cosine_similarity(states, states[:, :1, :], dim=-1).numpy()

    with pytest.raises(AssertionError, match="tests fail on your version"):
        student.grade(layer_similarity)
    with pytest.raises(ValueError, match="not one of the exercises"):
        student.grade(test_grade_passes_the_right_function_and_fails_a_wrong_one)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    student.build(root)
    return root


def test_the_student_version_keeps_no_solution_and_no_marking_scheme(course):
    for assignment, week in student.WEEKS.items():
        cells = json.loads((course / "release" / assignment / f"{assignment}.ipynb").read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells)
        assert "BEGIN SOLUTION" not in text and "Marking scheme" not in text
        assert text.count("raise NotImplementedError") == len(week["coded"])
        for e in week["coded"]:
            assert f"def {e.target.split(':')[1]}(" in text and f"about {e.minutes} minutes" in text


def test_solved_notebooks_get_full_marks_and_stripped_ones_none(course):
    scores = student.autograde(course, {"solved": "source", "stripped": "release"})
    for assignment, week in student.WEEKS.items():
        coded = sum(e.points for e in week["coded"])
        assert scores["solved", assignment][0] == coded  # the written answers await a human
        assert scores["stripped", assignment][0] == 0
        assert scores["solved", assignment][1] == coded + sum(w.points for w in week["written"])


def test_the_readme_lists_every_exercise_with_its_level_and_minutes():
    rows = [line for line in (student.ROOT / "README.md").read_text().splitlines() if line.startswith("| 1 |")
            or line.startswith("| 2 |")]
    expected = [(number, f"`{e.target.replace(':', '.')}`", f"{e.difficulty} | {e.minutes} |")
                for number, week in enumerate(student.WEEKS.values(), 1) for e in week["coded"]]
    expected += [(number, f"written: `{w.name}`", f"| | {w.minutes} |")
                 for number, week in enumerate(student.WEEKS.values(), 1) for w in week["written"]]
    for number, name, tail in expected:
        assert any(r.startswith(f"| {number} | {name} |") and r.endswith(tail) for r in rows), name
    assert len(rows) == len(expected)
