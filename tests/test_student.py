"""The student track: nbgrader strips the solutions; the solved notebooks pass the package's tests, the stripped ones
fail them; grade() tells a wrong function from a right one."""
import gc
import json
import re
import textwrap

import nbformat
import pytest
import torch

from anatomy_utils.base import keys, summary
from anatomy_utils.base.profiles import load_profile
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


def _answer(cell: str):
    """The function a notebook cell defines, with the cell's own namespace around it (as a kernel runs it)."""
    namespace = {}
    exec(compile(textwrap.dedent(cell), "<answer cell>", "exec"), namespace)
    return namespace["layer_similarity"]


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


def test_the_whole_answer_cell_is_graded_its_helpers_and_aliases_included():
    student.grade(_answer("""
        import torch.nn.functional as F2

        def _last(states):
            return states[:, -1:, :]

        def layer_similarity(states):
            return F2.cosine_similarity(states, _last(states), dim=-1).numpy()
        """))


@pytest.mark.parametrize("cell, why", [
    ("from anatomy_utils.core.passes import layer_similarity", "is the package's own function"),
    ("""
     from anatomy_utils.core import passes as p
     def layer_similarity(states):
         return p.layer_similarity(states)
     """, "calls the package's own"),
    ("""
     import types
     from anatomy_utils.core import passes
     layer_similarity = types.FunctionType(passes.layer_similarity.__code__, vars(passes))
     """, "built from the package's code"),
    ("""
     import types
     from anatomy_utils.core import passes
     solution = types.FunctionType(passes.layer_similarity.__code__, vars(passes))
     def layer_similarity(states):
         return solution(states)
     """, "a copy of the package's"),
])
def test_an_answer_that_uses_the_packages_solution_scores_0_with_a_message(cell, why):
    with pytest.raises(student.SolutionUsed, match=f"0 points: .*{why}"):
        student.grade(_answer(cell))
    gc.collect()  # the cell's namespace (and any copy in it) goes with the exception
    student.grade(_answer("""
        import torch
        def layer_similarity(states):
            return torch.nn.functional.cosine_similarity(states, states[:, -1:, :], dim=-1).numpy()
        """))  # the package function is itself again afterwards


def test_every_helper_a_stub_uses_is_explained_in_it():
    for e in student.exercises():
        text = student._helpers(e.target)
        assert all(f"`{name}(" in text for name in student.helpers(e.target))
        assert "None" not in text.split("`: ")[-1][:4]  # every helper has a docstring


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


def _submission(course, version: str, answer) -> None:
    """Every week's solved notebook with each coded answer cell rewritten by ``answer(name, solution)``, under
    ``course/version``."""
    for assignment in student.WEEKS:
        book = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", 4)
        for cell in book.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if cell.cell_type == "code" and grade_id.endswith("_answer"):
                cell.source = answer(grade_id.removesuffix("_answer"), cell.source)
        (course / version / assignment).mkdir(parents=True, exist_ok=True)
        nbformat.write(book, course / version / assignment / f"{assignment}.ipynb")


def test_autograde_gives_full_marks_to_own_code_and_none_to_the_packages(course):
    targets = {e.target.split(":")[1]: e.target.split(":")[0] for e in student.exercises()}
    _submission(course, "imports", lambda name, _: f"from anatomy_utils.{targets[name]} import {name}")
    _submission(course, "helpers", lambda name, solution: solution.replace(f"def {name}(", f"def _{name}_impl(", 1)
                + f"\n\n\ndef {name}(*args, **kwargs):\n    return _{name}_impl(*args, **kwargs)\n")
    scores = student.autograde(course, {"solved": "source", "stripped": "release", "imports": "imports",
                                        "helpers": "helpers"})
    for assignment, week in student.WEEKS.items():
        coded = sum(e.points for e in week["coded"])
        assert scores["solved", assignment][0] == scores["helpers", assignment][0] == coded  # written: by hand
        assert scores["stripped", assignment][0] == scores["imports", assignment][0] == 0
        assert scores["solved", assignment][1] == coded + sum(w.points for w in week["written"])
        graded = nbformat.read(course / "autograded" / "imports" / assignment / f"{assignment}.ipynb", 4)
        outputs = [json.dumps(cell.get("outputs", [])) for cell in graded.cells]
        refused = [text for text in outputs if "0 points: " in text]
        assert len(refused) == len(week["coded"]) and all("is the package's own function" in r for r in refused)
    assert set(student.grading_seconds(course, "solved")) == {e.target.split(":")[1] for e in student.exercises()}


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


def test_the_marking_schemes_state_no_number_the_committed_outputs_do_not_give():
    values, threshold = summary.read("default"), load_profile("default").anatomy.neuron_threshold
    for week in student.WEEKS.values():
        for w in week["written"]:
            literal = re.findall(r"\d+\.\d+", re.sub(r"\{\w+\}", "", w.scheme + w.question))
            assert set(literal) <= {str(threshold)}, w.name  # every other number is read from the summary
            assert "{" not in w.marking(values)
    topk = [values[keys.anatomy(role, "topk", "jaccard")] for role in ("encoder", "decoder")]
    chance = values[keys.anatomy("encoder", "topk", "jaccard_chance")]
    assert all(10 * chance < jaccard < 0.5 for jaccard in topk)  # same_neurons: "far from 1, far above chance"
