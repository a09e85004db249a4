"""Every lesson runs top to bottom: solutions pass every test, stubs fail every test.

Notebooks run as nbgrader runs them (``NBGRADER_EXECUTION`` set), so heavy lessons use
their grading budget.
"""

import re
import shutil

import pytest

from autograder.build import INTEGRITY_ID
from autograder.execute import execute, graded_cell_outcomes
from autograder.paths import NOTEBOOKS_DIR
from tests.conftest import LESSONS

pytestmark = pytest.mark.notebook


_OBJECT_REPR = re.compile(r"<[\w.]+ (object )?at 0x[0-9a-f]+>")


def _demo_errors(nb):
    problems = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        for output in cell.outputs:
            if output.output_type == "error":
                problems.append(f"{cell.source[:60]!r}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"{cell.source[:60]!r} wrote to stderr: {output.text[:200]}")
            elif output.output_type == "execute_result":
                text = output.get("data", {}).get("text/plain", "")
                if _OBJECT_REPR.search(text):  # e.g. <torch._C.Generator at 0x7f...>
                    problems.append(f"{cell.source[:60]!r} shows a raw object: {text[:120]}")
    return problems


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_notebook_passes_every_test_cell(built_course, lesson, tmp_path):
    notebook = tmp_path / f"{lesson}.ipynb"
    shutil.copy(built_course.solution(lesson), notebook)
    nb = execute(notebook)
    failed = [f"{o.grade_id}: {o.text[-600:]}" for o in graded_cell_outcomes(nb) if not o.passed]
    assert not failed, "\n".join(failed)
    assert not _demo_errors(nb), _demo_errors(nb)


@pytest.mark.parametrize("lesson", LESSONS)
def test_student_notebook_runs_and_every_test_cell_fails(lesson, tmp_path):
    notebook = tmp_path / f"{lesson}.ipynb"
    shutil.copy(NOTEBOOKS_DIR / f"{lesson}.ipynb", notebook)
    nb = execute(notebook)
    outcomes = {o.grade_id: o for o in graded_cell_outcomes(nb)}
    vacuous = [g for g, o in outcomes.items() if o.passed and g != INTEGRITY_ID]
    assert not vacuous, f"these test cells pass on the untouched stubs: {vacuous}"
    assert outcomes[INTEGRITY_ID].passed  # nothing of the integrity check is visible
    assert len(outcomes) >= 5
    assert not _demo_errors(nb), _demo_errors(nb)
