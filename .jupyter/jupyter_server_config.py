"""The students' JupyterLab, as `make lab` starts it (JUPYTER_CONFIG_PATH=.jupyter).

An extra config path, not JUPYTER_CONFIG_DIR: your own settings, themes and workspaces
stay in your usual Jupyter folder, and nothing is written here.

* The course's environment comes first on PATH for everything the lab starts: kernels
  and terminals (a terminal's bash reads your ~/.bashrc, then terminal_bashrc puts the
  course's Python back in front).
* The file browser is rooted at the repository (README.md, data_fetch.py, your work
  folder) and hides what only instructors and maintainers use.
* nbgrader's server tools are off here (its lab extensions are disabled in
  labconfig/page_config.json); instructors use `make instructor`.
* The lab opens the student's copy of lesson 00 (`make lab` makes the copies in work/).
"""

import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

HERE = Path(__file__).resolve().parent
#: The folder of the interpreter running JupyterLab: the course's environment.
ENV_BIN = str(Path(sys.prefix) / ("Scripts" if os.name == "nt" else "bin"))

_path = os.environ.get("PATH", "").split(os.pathsep)
if not _path or _path[0] != ENV_BIN:
    os.environ["PATH"] = os.pathsep.join([ENV_BIN] + [p for p in _path if p and p != ENV_BIN])
if sys.prefix != sys.base_prefix:
    os.environ["VIRTUAL_ENV"] = sys.prefix
os.environ["COURSE_ENV_BIN"] = ENV_BIN

_bash = shutil.which("bash")
if _bash and os.name != "nt":
    # Not a login shell: /etc/profile would reset PATH. Inherit the lab's environment.
    c.ServerApp.terminado_settings = {
        "shell_command": [_bash, "--rcfile", str(HERE / "terminal_bashrc"), "-i"]
    }

c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.validate_assignment": False,
    "nbgrader.server_extensions.assignment_list": False,
    "nbgrader.server_extensions.course_list": False,
}

c.ContentsManager.hide_globs = [
    "__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~", "*.so", "*.dylib",  # the defaults
    "*.egg-info", "autograder", "benchmarks", "tests",
    # the committed originals: students work on their copies (`make lab` makes them)
    "notebooks",
]

# The student's copy of lesson 00 (the Makefile's WORK folder).
c.LabApp.default_url = f"/lab/tree/{os.environ.get('COURSE_WORK', 'work').strip('/')}/00_orientation.ipynb"
