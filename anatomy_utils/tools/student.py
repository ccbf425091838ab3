"""The student track (``make student``): graded exercises built from the study's own code.

Each coded exercise is one function of the package. Its notebook cell is written from the package source (signature and
docstring kept, the body between nbgrader's solution markers), so the solution is the study's code itself, never a
second copy; ``nbgrader generate_assignment`` strips the bodies for the student version. The cell after it grades the
student's function with the package's own tests, in the student's kernel (:func:`grade`): while they run, the package
function's code calls the student's function, with the student's cell around it (helpers, imports, aliases). Students
have the package installed, so the solutions are on their disk: the grader refuses, with a score of 0 and a message,
an answer that is the package's function, is built from its code object, or calls it. (Retyping the package's text is
not detected: that is copying a published solution.) Written exercises sit beside them as manually graded answers
whose marking scheme is stripped from the student version.
"""
from __future__ import annotations

import ast
import contextlib
import gc
import importlib
import inspect
import io
import os
import subprocess
import sys
import textwrap
import time
import types
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from ..base import keys, summary
from ..base.runtime import ROOT

COURSE = ROOT / "notebooks" / "student"  # nbgrader's course folder: source/, release/, gradebook.db (all built)
ANSWER = "_student_answer"  # while grading: the global of the exercise's module that its function's code calls


@dataclass(frozen=True)
class Exercise:
    target: str  # "module:function" of anatomy_utils
    tests: tuple[str, ...]  # pytest node ids under tests/ that grade it
    goal: str  # what the student learns
    difficulty: str  # easy / medium / hard
    minutes: int  # a student's working time, stated (the grader's own seconds are measured by make student)
    points: int = 2


@dataclass(frozen=True)
class Written:
    name: str
    question: str
    scheme: str  # the marking scheme: what a full answer contains (stripped from the student version)
    minutes: int
    points: int = 3
    numbers: tuple = ()  # (placeholder of the scheme, summary key of the default profile, format): read at build

    def marking(self, values: dict) -> str:
        """The scheme with its numbers read from the default profile's summary (so it cannot contradict them)."""
        return self.scheme.format(**{name: format(values[key], spec) for name, key, spec in self.numbers})


WEEKS = {
    "week1_anatomy": {
        "title": "Week 1 · layer and neuron anatomy (notebooks 01–03)",
        "coded": (
            Exercise("core.passes:layer_similarity",
                     ("tests/test_anatomy.py::test_layer_similarity_is_one_at_the_final_layer_and_exact_elsewhere",),
                     "the paper's Figure 1 measure: cosine of each layer's target token to the final one", "easy", 10),
            Exercise("core.passes:neuron_cosines",
                     ("tests/test_anatomy.py::test_a_neuron_equal_to_the_target_has_cosine_one",),
                     "an FFN neuron as one output vector in the residual stream, "
                     "scored by the paper's cosine (Figure 2)",
                     "medium", 20),
            Exercise("stats:chance_jaccard", ("tests/test_anatomy.py::test_chance_jaccard_matches_a_hand_computation",
                                                "tests/test_anatomy.py::test_chance_jaccard_agrees_with_a_simulation"),
                     "an overlap means nothing without its chance level: "
                     "the hypergeometric expectation of a Jaccard index",
                     "medium", 25),
            Exercise("core.passes:lens_logits",
                     ("tests/test_anatomy.py::test_lens_at_the_last_layer_equals_the_classifier",),
                     "a logit lens: the fine-tuned head read at every layer, with the final norm the last layer gets",
                     "medium", 20),
        ),
        "written": (
            Written("encoder_lens",
                    "In 02 the encoder's lens predicts one class for almost every review until its last layer, yet its "
                    "AUC against the final prediction is already high a layer or two earlier. Explain how both can be "
                    "true, and say which of the two readings the ledger's `late_decision` uses and why.",
                    "Full marks: (1) the lens applies the *last* layer's head, whose bias and scale fit the last "
                    "layer's states; earlier states are shifted, so every logit lands on one side of 0 (one class); "
                    "(2) the AUC ignores the threshold and asks only whether the logits *rank* the reviews as the "
                    "final prediction does; a shifted but ordered logit ranks well; (3) the ledger uses the AUC "
                    "because a statistic that cannot leave chance until the last layer would call every decision late "
                    "by construction.", 15),
            Written("same_neurons",
                    "03 finds that the paper's neuron sets (cosine above 0.35) are nearly the same for every probe "
                    "input. Using `target_alignment` and the top-k overlap of 03, argue whether this says something "
                    "about the model's computation or only about the score.",
                    "Full marks: (1) the score is a cosine of fixed weight vectors to the target state, so only a "
                    "handful of neurons pass 0.35 and which ones is set mostly by the weights: the same few recur "
                    "whenever the targets point roughly the same way (03's target alignment: {enc_align} encoder, "
                    "{dec_align} decoder); (2) the top-k sets of two reviews overlap by a Jaccard of {enc_topk} "
                    "(encoder) and {dec_topk} (decoder): far from 1, so most top neurons change from review to review, "
                    "yet far above the {chance} that two random sets of that size share (`chance_jaccard`), so they "
                    "are not random either; (3) so the paper's stable sets say more about the score and its threshold "
                    "than about which neurons do the work, which only a causal check (03's masking) can tell.", 15,
                    numbers=(("enc_align", keys.anatomy("encoder", "target_alignment"), ".2f"),
                             ("dec_align", keys.anatomy("decoder", "target_alignment"), ".2f"),
                             ("enc_topk", keys.anatomy("encoder", "topk", "jaccard"), ".2f"),
                             ("dec_topk", keys.anatomy("decoder", "topk", "jaccard"), ".2f"),
                             ("chance", keys.anatomy("encoder", "topk", "jaccard_chance"), ".3f"))),
        ),
    },
    "week2_pruning": {
        "title": "Week 2 · pruning without retraining and the claims ledger (notebooks 04–07)",
        "coded": (
            Exercise("core.families:remove_neurons",
                     ("tests/test_pruning.py::test_removing_equals_masking_and_zeroing_weights",
                      "tests/test_pruning.py::test_pruned_model_saves_and_loads_with_its_widths"),
                     "physical removal of FFN neurons for BERT, GPT-2 and the gated Llama MLP "
                     "through the family adapter",
                     "hard", 30),
            Exercise("core.importance:taylor",
                     ("tests/test_importance.py::test_taylor_is_the_squared_gradient_of_a_neuron_mask",),
                     "the Taylor (Fisher) importance of a neuron: the gradient of the loss with respect to its mask, "
                     "by the chain rule from the gradient at its activation (which `_batches` gives), squared and "
                     "summed over reviews",
                     "hard", 30),
            Exercise("stats:tango", ("tests/test_stats.py::test_matched_pairs_is_tangos_score_interval",
                                     "tests/test_stats.py::test_tango_excludes_zero_exactly_when_mcnemars_score_test_rejects",
                                     "tests/test_stats.py::test_identical_variants_do_not_give_a_point_interval"),
                     "a paired interval that holds with few discordant reviews: inverting Tango's score test",
                     "hard", 30),
        ),
        "written": (
            Written("mirror",
                    "In 06 the `mirror` control ranks neurons by the paper's cosine turned upside down (the highest "
                    "cosine goes first). Compare it with `random` for the encoder: which keeps more accuracy, and what "
                    "does that say about the paper's score? Name the number in 06 that shows it and the interval that "
                    "qualifies it.",
                    "Full marks: (1) if the cosine ranked neurons by importance, pruning the highest-cosine neurons "
                    "first (mirror) should hurt more than random; if it hurts as little or less, high cosine does not "
                    "mark the neurons the decision needs (the ledger's `high_cosine_neurons_matter` asks the same "
                    "causally); (2) the answer "
                    "quotes 06's mirror-against-random comparison with its paired interval and n; (3) it says whether "
                    "that interval excludes 0 and so whether the difference is decided.", 15),
            Written("ledger",
                    "Pick one undecided row of the confirmed claims ledger (08). Say why it is undecided, what power "
                    "the registered design had to decide it at its pre-stated alternative, and what a design with 80% "
                    "power there would cost on a 2-core CPU.",
                    "Full marks: (1) the row's interval contains the null (or crosses the margin) and the answer reads "
                    "it; (2) it takes the row's planning standard error from the registration and the alternative "
                    "(not the effect the run observed), finds the n with 80% power and turns it into minutes from "
                    "the per-review cost; (3) it judges the trade-off, noting when no number of reviews suffices "
                    "(rows limited by the spread between masks).", 15),
        ),
    },
}


def exercises() -> list[Exercise]:
    return [e for week in WEEKS.values() for e in week["coded"]]


def _function(target: str):
    module, name = target.split(":")
    return importlib.import_module(f"anatomy_utils.{module}"), name


def _source(target: str) -> tuple:
    """The exercise's module and the (undecorated) function's source, dedented."""
    module, name = _function(target)
    return module, textwrap.dedent(inspect.getsource(inspect.unwrap(getattr(module, name))))


def _solution_cell(target: str) -> str:
    """The function's source with its body (after the docstring) between nbgrader's solution markers."""
    source = _source(target)[1]
    node = ast.parse(source).body[0]
    start = node.body[1].lineno - 1 if ast.get_docstring(node) else node.body[0].lineno - 1
    lines = source.splitlines()
    return "\n".join(lines[:start] + ["    ### BEGIN SOLUTION"] + lines[start:] + ["    ### END SOLUTION"])


def _names(target: str) -> list[str]:
    """Every global of the function's module that its source names (decorators and defaults included)."""
    module, source = _source(target)
    return sorted({n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and n.id in vars(module)}
                  - {target.split(":")[1]})


def _imports(target: str) -> str:
    """The imports a student's version needs: the names the package's version uses."""
    wrapped = textwrap.fill(", ".join(_names(target)), 112, initial_indent="    ", subsequent_indent="    ")
    return f"from __future__ import annotations\n\nfrom {_function(target)[0].__name__} import (\n{wrapped},\n)"


def helpers(target: str) -> list[str]:
    """The private helpers of the exercise's module that the package's version calls."""
    return [name for name in _names(target) if name.startswith("_")]


def _helpers(target: str) -> str:
    """The stub's explanation of each private helper it may use: signature and docstring."""
    module = _function(target)[0]
    return "".join(f"\n\n*Helper* `{name}{inspect.signature(getattr(module, name))}`: "
                   f"{' '.join(inspect.getdoc(getattr(module, name)).split())}" for name in helpers(target))


def _cell(kind: str, source: str, grade_id: str | None = None, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "grade": False, "solution": False,
                                     "locked": False, "task": False} | nbgrader
    return cell


def notebook(assignment: str) -> nbformat.NotebookNode:
    """The instructor's (source) notebook of one week: solutions in place, marked for nbgrader."""
    week, values = WEEKS[assignment], summary.read("default")
    minutes = sum(e.minutes for e in week["coded"]) + sum(w.minutes for w in week["written"])
    cells = [_cell("markdown", f"# {week['title']}\n\nEach coded exercise is a function of the study's package "
                   "(`anatomy_utils`) with its body removed: write it, run the cell, then run the grading cell under "
                   "it, which runs the package's own tests on your function. The written exercises are marked by "
                   f"hand. About {minutes} minutes in all; nothing here needs a trained model.", "intro", locked=True)]
    for e in week["coded"]:
        name = e.target.split(":")[1]
        cells.append(_cell("markdown", f"## `{e.target.replace(':', '.')}` · {e.difficulty}, about {e.minutes} "
                           f"minutes\n\n**Goal:** {e.goal}.\n\nThe names the package's version uses are imported for "
                           f"you; read the docstring, then write the body.{_helpers(e.target)}", f"{name}_intro",
                           locked=True))
        cells.append(_cell("code", _imports(e.target), f"{name}_imports", locked=True))
        cells.append(_cell("code", _solution_cell(e.target), f"{name}_answer", solution=True))
        cells.append(_cell("code", f"from anatomy_utils.tools.student import grade\n\ngrade({name})", f"{name}_grade",
                           grade=True, locked=True, points=e.points))
    for w in week["written"]:
        cells.append(_cell("markdown", f"## Written: {w.name} · about {w.minutes} minutes\n\n{w.question}",
                           f"{w.name}_question", locked=True))
        cells.append(_cell("markdown", f"**Marking scheme ({w.points} points).** {w.marking(values)}",
                           f"{w.name}_answer",
                           solution=True, grade=True, points=w.points))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _nbgrader(*args: str, root: Path) -> None:
    """One nbgrader command on the course at ``root``, with this environment's commands first on PATH (nbgrader
    calls ``alembic`` by name)."""
    bin_dir = str(Path(sys.executable).parent)
    subprocess.run([f"{bin_dir}/nbgrader", *args, f"--CourseDirectory.root={root}", "--log-level=ERROR"], check=True,
                   cwd=root, env=os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})


def build(root: Path = COURSE) -> list[Path]:
    """Write each week's source notebook under ``root/source`` and let nbgrader strip it into ``root/release``."""
    released = []
    for assignment in WEEKS:
        path = root / "source" / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook(assignment), path)
        _nbgrader("generate_assignment", assignment, "--force", root=root)
        released.append(root / "release" / assignment / f"{assignment}.ipynb")
    return released


def autograde(root: Path, versions: dict[str, str]) -> dict[tuple[str, str], tuple[float, float]]:
    """Submit ``versions`` (student id -> a folder of ``root`` holding every week, e.g. "source" or "release") and
    autograde them with nbgrader: (student, assignment) -> (score, max score); also (None, assignment) -> the seconds
    nbgrader took for that week's submissions."""
    from nbgrader.api import Gradebook

    for student, version in versions.items():
        for assignment in WEEKS:
            folder = root / "submitted" / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{assignment}.ipynb"
            (folder / name).write_bytes((root / version / assignment / name).read_bytes())
    seconds = {}
    for assignment in WEEKS:
        started = time.perf_counter()
        _nbgrader("autograde", assignment, "--force", "--ExecutePreprocessor.timeout=600", root=root)
        seconds[None, assignment] = time.perf_counter() - started
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as book:
        return seconds | {(s, a): (book.find_submission(a, s).score, book.find_assignment(a).max_score)
                          for s in versions for a in WEEKS}


def grading_seconds(root: Path, student: str) -> dict[str, float]:
    """The seconds each graded cell of ``student``'s autograded notebooks printed: exercise -> seconds."""
    found = {}
    for assignment in WEEKS:
        notebook_ = nbformat.read(root / "autograded" / student / assignment / f"{assignment}.ipynb", 4)
        for cell in notebook_.cells:
            for output in cell.get("outputs", []):
                for line in output.get("text", "").splitlines():
                    name, _, rest = line.partition(": the package's tests pass (")
                    if rest:
                        found[name] = float(rest.split(" s)")[0])
    return found


class SolutionUsed(AssertionError):
    """An answer that runs the package's own solution instead of its own code: it scores 0."""


def _trampoline(*args, **kwargs):
    """While grading, the code of the exercise's package function: it calls the student's answer."""
    return _student_answer(*args, **kwargs)  # noqa: F821  a global of the exercise's module while grading


def _refusal(answer, original) -> str | None:
    """Why ``answer`` is the package's solution rather than the student's code, or None."""
    name = original.__name__
    if answer is original:
        return f"`{name}` is the package's own function (imported or assigned), not an answer"
    if answer.__code__ is original.__code__ or answer.__code__.co_filename == original.__code__.co_filename:
        return f"`{name}` is built from the package's code of `{name}`, not written in the notebook"
    if any(isinstance(f, types.FunctionType) and f is not original for f in gc.get_referrers(original.__code__)):
        return f"a copy of the package's `{name}` (made from its code object) exists in this session"
    return None


@contextlib.contextmanager
def _answering(module, original, answer):
    """The package function runs ``answer`` (every reference to it, decorated or registered); the answer calling
    the package function back raises :class:`SolutionUsed`."""
    inside = []

    def guarded(*args, **kwargs):
        if inside:
            raise SolutionUsed(f"your `{original.__name__}` calls the package's own `{original.__name__}`")
        inside.append(True)
        try:
            return answer(*args, **kwargs)
        finally:
            inside.pop()

    code, vars(module)[ANSWER] = original.__code__, guarded
    original.__code__ = _trampoline.__code__
    try:
        yield
    finally:
        original.__code__ = code
        del vars(module)[ANSWER]


class _Failures:
    """A pytest plugin that keeps the failed tests' (and failed collections') reports."""

    def __init__(self):
        self.reports = []

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.reports.append(report)

    pytest_collectreport = pytest_runtest_logreport


def grade(function) -> None:
    """Run the package's tests of ``function`` on the student's version, in this process (the answer's cell, helpers
    and imports included, is what runs); an AssertionError saying why when a test fails or the answer uses the
    package's own solution (it then scores 0)."""
    exercise = next((e for e in exercises() if e.target.endswith(f":{function.__name__}")), None)
    if exercise is None:
        raise ValueError(f"{function.__name__!r} is not one of the exercises: {[e.target for e in exercises()]}.")
    module, name = _function(exercise.target)
    original, answer = inspect.unwrap(getattr(module, name)), inspect.unwrap(function)
    refused = _refusal(answer, original)
    if refused:
        raise SolutionUsed(f"{name}: 0 points: {refused}. Write the body yourself.")
    started, failures, report = time.perf_counter(), _Failures(), io.StringIO()
    with _answering(module, original, answer), contextlib.redirect_stdout(report):
        code = pytest.main(["-q", "-p", "no:cacheprovider", "--color=no", f"--rootdir={ROOT}", "-W", "ignore",
                     *[str(ROOT / test) for test in exercise.tests]], plugins=[failures])
    used = [r for r in failures.reports if "SolutionUsed" in r.longreprtext]
    if used:
        raise SolutionUsed(f"{name}: 0 points: your `{name}` calls the package's own `{name}`. Write the body "
                           "yourself.")
    if failures.reports or code != pytest.ExitCode.OK:
        raise AssertionError(f"{name}: the package's tests fail on your version:\n"
                             + ("\n\n".join(r.longreprtext.strip()[-3000:] for r in failures.reports)
                                or report.getvalue()[-3000:]))
    passed = ", ".join(test.rsplit("::", 1)[-1] for test in exercise.tests)
    print(f"{name}: the package's tests pass ({time.perf_counter() - started:.1f} s): {passed}")


def main() -> int:
    """``make student``: build both weeks, then autograde the solved notebooks (they must get full marks) and print
    what grading took: each graded cell, and each week's submission."""
    released = build()
    print("Student notebooks (solutions stripped):", *[p.relative_to(ROOT) for p in released], sep="\n  ")
    scores = autograde(COURSE, {"solutions": "source"})
    for assignment in WEEKS:
        score, top = scores["solutions", assignment]
        print(f"{assignment}: the solutions score {score:g} of {top:g} (written answers are marked by hand and count 0 "
              f"here); autograding the submission took {scores[None, assignment]:.1f} s")
    cells = grading_seconds(COURSE, "solutions")
    print("Each graded cell (seconds, in the student's kernel):", ", ".join(f"{k} {v:.1f}" for k, v in cells.items()))
    coded = sum(e.points for e in exercises())
    return 0 if sum(scores["solutions", a][0] for a in WEEKS) >= coded and len(cells) == len(exercises()) else 1


if __name__ == "__main__":
    sys.exit(main())
