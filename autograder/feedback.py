"""``python -m autograder feedback LESSON``: one self-contained HTML page per student.

The page is built from the grader's own data: the grading status and reasons, each test
cell's visible messages and its hidden tests' pass count (the hidden code itself never
appears), and the student's cells with their printed output, bounded in bytes. It needs
no network to display: Markdown is rendered here (raw HTML in it is escaped), formulas
become inline SVG (matplotlib's mathtext), and long lines wrap instead of being cut off.
"""

from __future__ import annotations

import functools
import html
import io
import json
import re
from pathlib import Path

from autograder.autograde import verdicts_path
from autograder.paths import COURSE_ROOT
from autograder.results import Result, Status, check_lesson

__all__ = ["feedback", "render_page", "visible_code", "markdown_to_html"]

_MATH = re.compile(r'<(span|div) class="math">(?:\\\(|\$\$)(.*?)(?:\\\)|\$\$)</\1>', re.S)
#: Most characters of a cell's own output shown on the page.
MAX_OUTPUT_CHARS = 20_000
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       line-height: 1.45; color: #222; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f8fa; padding: .6em;
      border-radius: 4px; font-size: 90%; }
pre.out { background: #fff; border-left: 3px solid #bbb; }
pre.err { background: #fff0f0; border-left: 3px solid #c00; }
pre.ok { background: #f0fff0; border-left: 3px solid #080; }
.status { border: 2px solid #888; padding: .6em 1em; border-radius: 6px; }
.status.graded { border-color: #080; } .status.failed, .status.invalid, .status.missing,
.status.integrity { border-color: #c00; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2em .5em; }
img { max-width: 100%; }
"""


@functools.lru_cache(maxsize=4096)
def _formula(tex: str, display: bool) -> str:
    import matplotlib
    from matplotlib import mathtext

    matplotlib.use("Agg", force=False)
    buffer = io.BytesIO()
    try:
        mathtext.math_to_image(f"${tex.strip()}$", buffer, format="svg", dpi=72)
    except Exception:  # mathtext covers most of LaTeX's math, not all of it
        return f"<code>{html.escape(tex)}</code>"
    svg = buffer.getvalue().decode("utf-8")
    svg = svg[svg.find("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    style = "display:block;margin:.4em auto" if display else "vertical-align:middle"
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(tex)}" '
                               f'style="{style}" ', 1)


def markdown_to_html(text: str) -> str:
    """Render Markdown (raw HTML escaped) with formulas as inline SVG."""
    import mistune

    render = mistune.create_markdown(escape=True, plugins=["table", "strikethrough", "math"])
    rendered = render(text)
    return _MATH.sub(lambda m: _formula(html.unescape(m.group(2)), m.group(1) == "div"),
                     rendered)


def visible_code(source: str, hidden_passed: int | None, hidden_total: int) -> str:
    """A test cell's code with its hidden part replaced by the pass count."""
    lines = source.splitlines()
    begin = next((i for i, ln in enumerate(lines) if "BEGIN HIDDEN TESTS" in ln), None)
    end = next((i for i, ln in enumerate(lines) if "END HIDDEN TESTS" in ln), None)
    if begin is None:
        return source
    summary = (f"# Hidden tests: {hidden_passed} of {hidden_total} passed."
               if hidden_passed is not None else "# Hidden tests: not run.")
    rest = lines[end + 1:] if end is not None and end > begin else []
    return "\n".join(lines[:begin] + [summary] + rest)


def _pre(text: str, kind: str = "") -> str:
    if len(text) > MAX_OUTPUT_CHARS:
        dropped = len(text) - MAX_OUTPUT_CHARS
        text = text[:MAX_OUTPUT_CHARS] + f"\n[... {dropped} more characters of output not kept]"
    return f'<pre class="{kind}">{html.escape(text)}</pre>\n'


def _status_block(result: Result) -> str:
    parts = [f'<div class="status {html.escape(result.status.value)}">',
             f"<p><strong>Grading status: {html.escape(result.status.value)}.</strong> "
             f"Score: {result.score:g} / {result.max_score:g}.</p>"]
    if result.reasons:
        parts.append("<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in result.reasons)
                     + "</ul>")
    parts.append("</div>")
    return "\n".join(parts)


def render_page(result: Result, notebook: dict | None, cells: list[dict]) -> str:
    """The feedback page of one student as HTML text.

    Parameters
    ----------
    result : Result
        The student's report.
    notebook : dict or None
        The graded notebook (its markdown and code are shown), or None.
    cells : list of dict
        The grader's per-cell outcomes (:mod:`autograder.verdicts`).
    """
    title = f"Feedback: {result.lesson} ({result.student})"
    body = [f"<h1>{html.escape(title)}</h1>", _status_block(result)]
    by_index = {c["index"]: c for c in cells}
    for index, cell in enumerate((notebook or {}).get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if meta.get("grade_id") == "integrity":
            continue
        if cell.get("cell_type") == "markdown":
            body.append(markdown_to_html(source))
            continue
        if cell.get("cell_type") != "code":
            continue
        outcome = by_index.get(index)
        if outcome is not None and outcome.get("max_points"):
            hidden = outcome["hidden_passed"] if outcome.get("decided") else None
            body.append(f"<h4>Test {html.escape(str(meta.get('grade_id')))}: "
                        f"{outcome['points']:g} / {outcome['max_points']:g} points</h4>")
            body.append(_pre(visible_code(source, hidden, outcome.get("hidden_total", 0))))
            for message in outcome.get("visible", []):
                failed = not str(message).startswith("\u2714")
                body.append(_pre(str(message), "err" if failed else "ok"))
            if outcome.get("hidden_total") and hidden is not None and (
                    hidden < outcome["hidden_total"]):
                body.append(_pre("Hidden tests failed (details are hidden).", "err"))
            continue
        if meta.get("grade") and not meta.get("solution"):
            source = visible_code(source, None, 0)
        body.append(_pre(source))
        if outcome is not None:
            if outcome.get("output"):
                body.append(_pre(str(outcome["output"]), "out"))
            if outcome.get("error"):
                body.append(_pre(str(outcome["error"]), "err"))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def feedback(lesson: str, *, course_root: Path = COURSE_ROOT) -> list[Path]:
    """Write each graded student's page ``feedback/STUDENT/LESSON/LESSON.html``.

    Returns
    -------
    list of pathlib.Path
        The pages written.
    """
    check_lesson(lesson, course_root)
    written = []
    for path in sorted((course_root / "grading_reports" / lesson).glob("*.json")):
        if path.name.endswith(".cells.json"):
            continue
        result = Result.load(path)
        notebook = None
        graded = course_root / "autograded" / result.student / lesson / f"{lesson}.ipynb"
        if result.status in (Status.GRADED, Status.FAILED) and graded.is_file():
            notebook = json.loads(graded.read_text(encoding="utf-8"))
        outcomes = verdicts_path(course_root, lesson, result.student)
        cells = json.loads(outcomes.read_text(encoding="utf-8")).get("cells", []) if (
            notebook is not None and outcomes.is_file()) else []
        target = course_root / "feedback" / result.student / lesson / f"{lesson}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_page(result, notebook, cells), encoding="utf-8")
        written.append(target)
    return written
