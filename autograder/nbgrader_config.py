"""nbgrader configuration for the course (this folder is the nbgrader course root).

Values that tests and instructors may need to change come from environment variables:
``COURSE_CELL_TIMEOUT`` (seconds a single cell may run while grading, default 300).
"""

import os
import tempfile

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

# Execution while grading: an explicit per-cell limit; a cell that runs past it is
# interrupted and scored as an error, and grading moves on to the next cell.
c.Execute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "300"))
c.Execute.interrupt_on_timeout = True
c.Execute.kernel_name = "python3"
# Kernels talk over local IPC sockets named after this process. With TCP, kernels started
# at the same moment by parallel graders can pick the same free ports, and a grader then
# waits on a kernel that is not its own until the cell timeout.
if os.name == "posix":
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = os.path.join(tempfile.gettempdir(), f"course-kernel-{os.getpid()}")

# Deleted test cells come back from the gradebook (and score as they run).
c.OverwriteCells.add_missing_cells = True

# Keep huge outputs (a print in a loop) out of graded notebooks and feedback.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 60

c.Autograde.create_student = True
