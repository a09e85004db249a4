"""Every lesson in a real browser: JupyterLab on loopback, driven by Playwright in Chromium.

For each lesson (every source under autograder/source/, discovered), the SOLUTION notebook
of a scratch build is opened in one JupyterLab server started by this test and run with
*Run → Run All Cells*, as a student would. The test then checks that

* every code cell ran, and no output is an error or unexpected stderr;
* at least one ipywidget renders as a widget (not "Error displaying widget", not a text
  repr such as ``VBox(children=...)``) and responds to input: moving a slider (or picking
  another option) changes what the widget shows;

and saves a screenshot per lesson in ``test-artifacts/browser/`` (git-ignored by its own
``.gitignore``; ``COURSE_TEST_ARTIFACTS`` moves it).

The browser is the system's Chromium (Debian: ``apt-get install chromium``), never a
download. Without it the test skips, saying so; under CI (``COURSE_CI``, set by .ci/run)
tests/conftest.py turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import LESSONS, BuiltCourse

ROOT = Path(__file__).resolve().parents[1]
#: Where the screenshots go (the folder ignores itself in git).
ARTIFACTS = Path(os.environ.get("COURSE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
#: Seconds a lesson may take to run top to bottom in the browser (2 busy cores).
RUN_LIMIT_S = float(os.environ.get("COURSE_BROWSER_LIMIT_S", "300"))
#: Seconds a widget has to react to input (a kernel round trip and a redraw).
REACT_LIMIT_S = 20.0

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_executable() -> str | None:
    """The system's Chromium: ``$COURSE_CHROMIUM``, else the first one on PATH."""
    explicit = os.environ.get("COURSE_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _has_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


# Skipped before anything is built or started (the reasons say what to install; under CI
# tests/conftest.py makes a "not installed" skip a failure).
pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not _has_playwright(), reason="Playwright is not installed (pip "
                       "install playwright; it is in the dev extras)"),
    pytest.mark.skipif(chromium_executable() is None, reason="Chromium is not installed "
                       "(Debian: apt-get install chromium; or set COURSE_CHROMIUM); the "
                       "real-browser test needs it"),
]


# -- the JupyterLab server ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    """A JupyterLab server on loopback, serving ``root``."""

    base: str
    token: str
    root: Path
    log: Path

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=20) as response:
            body = response.read()
        return json.loads(body) if body else None

    def wait_for_kernel(self, path: str, limit_s: float = 60) -> None:
        """Wait until the notebook at ``path`` has a started, idle kernel."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            for session in self.api("/api/sessions"):
                kernel = session.get("kernel") or {}
                if session.get("path") == path and kernel.get("execution_state") == "idle":
                    return
            time.sleep(0.5)
        raise AssertionError(f"no idle kernel for {path} within {limit_s:g} s")

    def kernels_idle(self) -> bool:
        """Is every running kernel idle?"""
        return all((session.get("kernel") or {}).get("execution_state") == "idle"
                   for session in self.api("/api/sessions"))

    def shut_down_kernels(self) -> None:
        for session in self.api("/api/sessions"):
            with contextlib.suppress(urllib.error.URLError, OSError):
                self.api(f"/api/sessions/{session['id']}", method="DELETE")


def _lab_settings(folder: Path) -> None:
    """User settings for the test's lab: every cell in the DOM, no news pop-up."""
    settings = {
        # windowing would leave cells outside the viewport out of the page
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false", "checkForUpdates": False},
    }
    for name, value in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


@contextlib.contextmanager
def jupyterlab(root: Path, tmp: Path) -> Iterator[Lab]:
    """Start JupyterLab as `make lab` configures it (.jupyter/), serving ``root``."""
    port, token = _free_port(), secrets.token_hex(16)
    _lab_settings(tmp / "settings")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "NBGRADER", "COURSE_GRADING"))}
    env.update(
        JUPYTER_CONFIG_PATH=str(ROOT / ".jupyter"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        # the kernels draw figures as a student's would (the test process uses Agg)
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        # one core's worth per kernel, as the course's budgets assume
        OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    log = tmp / "lab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with log.open("w") as handle:
        server = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                  cwd=root, start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                lab.api("/api/status")
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "JupyterLab did not start within 90 s"
                time.sleep(0.5)
        yield lab
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    """The system's Chromium through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_executable(),
                                              headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def lab(browser, built_course: BuiltCourse, tmp_path_factory) -> Iterator[Lab]:
    """One JupyterLab for every lesson, serving copies of the solution notebooks."""
    root = tmp_path_factory.mktemp("browser_course")
    for lesson in LESSONS:
        shutil.copy(built_course.solution(lesson), root / f"{lesson}.ipynb")
    with jupyterlab(root, tmp_path_factory.mktemp("browser_lab")) as served:
        yield served


def _artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# screenshots and logs written by the tests\n*\n", encoding="utf-8")
    return ARTIFACTS


# -- in the page ---------------------------------------------------------------------------------
_PROMPTS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(
    cell => (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '')"""

_ERRORS_JS = """() => [...document.querySelectorAll(
    '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(node => node.innerText.slice(0, 2000))"""

_TEXT_REPRS_JS = """() => [...document.querySelectorAll(
    '.jp-Notebook .jp-OutputArea-output[data-mime-type="text/plain"]')]
    .map(node => node.innerText)
    .filter(text => /^(Error displaying widget|[A-Z][A-Za-z]*\\((children|value|layout)=)/
                    .test(text.trim()))"""

# A widget's visible state without its own controls' readouts: what it SHOWS.
_SHOWN_JS = """(area) => {
    const copy = area.cloneNode(true);
    copy.querySelectorAll('.widget-slider, .widget-play, .widget-dropdown, '
                          + '.widget-toggle-buttons, .widget-readout').forEach(n => n.remove());
    const images = [...area.querySelectorAll('img')].map(img => img.src.slice(-4000));
    return copy.innerText + '\\n' + images.join('\\n');
}"""


def _run_all(page, lesson: str) -> list[str]:
    """Click Run → Run All Cells and wait until every code cell ran (or one failed)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    start = time.monotonic()
    prompts: list[str] = []
    while time.monotonic() - start < RUN_LIMIT_S:
        prompts = [p.strip() for p in page.evaluate(_PROMPTS_JS)]
        running = any("*" in p for p in prompts)
        finished = prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
        if not running and (finished or page.evaluate(_ERRORS_JS)):
            return prompts
        page.wait_for_timeout(500)
    raise AssertionError(f"{lesson} did not finish within {RUN_LIMIT_S:g} s in the browser; "
                         f"cell prompts: {prompts}")


def _unexpected_errors(texts: list[str]) -> list[str]:
    # Progress bars (tqdm) draw on stderr by design; nothing else may.
    return [t for t in texts if not re.search(r"\d+%\|.*\|\s*\d+/\d+", t)]


def _controls(area) -> list:
    """Inputs a student can use in a widget, the most telling first."""
    sliders = area.locator(".widget-slider:not(.widget-vslider) .noUi-target:not([disabled]) "
                           ".noUi-handle")
    selects = area.locator(".widget-dropdown select:not([disabled])")
    toggles = area.locator(".widget-toggle-buttons button:not(.mod-active):not([disabled])")
    found = [("slider", sliders.nth(i)) for i in range(min(sliders.count(), 3))]
    found += [("dropdown", selects.nth(i)) for i in range(min(selects.count(), 2))]
    found += [("toggle", toggles.nth(i)) for i in range(min(toggles.count(), 2))]
    return found


def _use(page, kind: str, control) -> None:
    control.scroll_into_view_if_needed()
    if kind == "slider":
        box = control.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 60, y, steps=6)
        page.mouse.up()
        control.press("ArrowRight")
    elif kind == "dropdown":
        options = control.locator("option").all_inner_texts()
        current = control.evaluate("node => node.value")
        others = [o for o in options if o != current]
        control.select_option(label=others[-1])
    else:
        control.click()


def _settle(page, area, lab: Lab, limit_s: float = REACT_LIMIT_S) -> None:
    """Wait until the kernel is idle and what the widget shows has stopped changing."""
    last, stable_since = area.evaluate(_SHOWN_JS), time.monotonic()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        shown = area.evaluate(_SHOWN_JS)
        if shown != last:
            last, stable_since = shown, time.monotonic()
        elif time.monotonic() - stable_since > 1.5 and lab.kernels_idle():
            return


def _widget_responds(page, lab: Lab) -> tuple[str, object] | None:
    """Use each widget's controls until what it shows changes; return (what, widget area)."""
    areas = page.locator(".jp-Notebook .jp-OutputArea-output:has(.jupyter-widgets)")
    for index in range(areas.count()):
        area = areas.nth(index)
        for kind, control in _controls(area):
            before = area.evaluate(_SHOWN_JS)
            _use(page, kind, control)
            deadline = time.monotonic() + REACT_LIMIT_S
            while time.monotonic() < deadline:
                page.wait_for_timeout(400)
                if area.evaluate(_SHOWN_JS) != before:
                    _settle(page, area, lab)  # the redraw finished: a faithful screenshot
                    return kind, area
    return None


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_and_its_widgets_work_in_a_real_browser(lesson: str, lab: Lab, browser):
    """Does the lesson run in JupyterLab without errors, with a live, responsive widget?"""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console_errors: list[str] = []
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    started = time.monotonic()
    try:
        page.goto(f"{lab.base}/lab/tree/{lesson}.ipynb?reset&token={lab.token}")
        page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=60_000)
        lab.wait_for_kernel(f"{lesson}.ipynb")
        prompts = _run_all(page, lesson)
        run_s = time.monotonic() - started
        ran = f"{lesson}: {run_s:.0f} s in the browser"
        errors = _unexpected_errors(page.evaluate(_ERRORS_JS))
        assert not errors, f"{ran}; unexpected error output:\n" + "\n---\n".join(errors)
        assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), (
            f"{ran}; not every cell ran: {prompts}")
        progress = page.locator(".jp-Notebook").inner_text()
        assert re.search(r"Progress: (\d+) of \1 exercises pass their visible tests", progress), (
            f"{ran}; the progress table at the end does not show every exercise passing")
        page.wait_for_selector(".jp-Notebook .jp-OutputArea-output .jupyter-widgets",
                               timeout=30_000)
        reprs = page.evaluate(_TEXT_REPRS_JS)
        assert not reprs, f"{ran}; widgets shown as text, not rendered: {reprs}"
        responded = _widget_responds(page, lab)
        shot = _artifacts() / f"{lesson}.png"
        page.screenshot(path=str(shot))
        with (_artifacts() / "runs.jsonl").open("a", encoding="utf-8") as log:
            log.write(json.dumps({"lesson": lesson, "run_all_s": round(run_s, 1),
                                  "total_s": round(time.monotonic() - started, 1),
                                  "widget_input": responded[0] if responded else None}) + "\n")
        assert responded is not None, (
            f"{ran}; no widget changed what it shows when its slider / options were used "
            f"(screenshot: {shot})")
        assert not [e for e in console_errors if "widget" in e.lower()], console_errors
    finally:
        context.close()
        lab.shut_down_kernels()
