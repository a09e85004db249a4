"""nbgrader configuration for the course (this folder is the nbgrader course root).

Values that tests and instructors may need to change come from environment variables:
``COURSE_CELL_TIMEOUT`` (seconds a single cell may run while grading, default 300; read by
the sandboxed grader, autograder/verdicts.py).
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "medical-image-analysis"
c.CourseDirectory.root = here
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "gradebook.db")
# The authored lesson sources (*.py) live beside the generated source notebooks: never
# release them. Students' stray files are not copied into grading either.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.py",
    "*.pt.tmp",
]

# Grading executes nothing in nbgrader: `python -m autograder autograde` runs each
# submission in its own sandbox and decides the points in the grader's process (see
# autograder/verdicts.py), then writes them into this gradebook. nbgrader's autograde step
# only records the submission and restores locked and deleted test cells. Execution and
# output-based scoring are left out, so a bare `nbgrader autograde` runs no student code
# and awards no points.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    IgnorePattern,
)

c.Autograde.autograde_preprocessors = [
    IgnorePattern,
    ClearMetadataPreprocessor,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.Execute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "300"))
c.Execute.kernel_name = "python3"

# Deleted test cells come back from the gradebook (and score as they run).
c.OverwriteCells.add_missing_cells = True


c.Autograde.create_student = True
