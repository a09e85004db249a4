"""`make lab` and `make instructor`: start each JupyterLab exactly as the Makefile does.

The students' lab must open their copy of lesson 00, root its file browser at the
repository (README.md, data_fetch.py, their work folder), run terminals with the course's
environment first on PATH, and show none of nbgrader's instructor tools; the instructors'
lab has them. `make work` copies the lessons once and never overwrites a student's file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV_BIN = Path(sys.prefix) / "bin"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None


def _request(url: str, token: str, method: str = "GET") -> tuple[int, dict, str]:
    request = urllib.request.Request(url, method=method,
                                     headers={"Authorization": f"token {token}"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8",
                                                                                   "replace")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


def make_command(target: str) -> str:
    """The last command `make -n TARGET` would run (the JupyterLab line)."""
    run = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    lines = [line for line in run.stdout.splitlines() if "jupyter" in line and " lab" in line]
    assert lines, f"`make -n {target}` starts no JupyterLab:\n{run.stdout}"
    return lines[-1]


def lab_env(tmp: Path) -> dict[str, str]:
    """A clean Jupyter environment: nothing read from or written to the user's folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "COURSE_"))}
    (tmp / "home").mkdir(exist_ok=True)
    env.update(
        HOME=str(tmp / "home"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
        # as if the user's shell had no course environment on PATH at all
        PATH=os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                             if p and Path(p) != ENV_BIN),
        SHELL="/bin/bash",
    )
    return env


@contextlib.contextmanager
def running_lab(command: str, tmp: Path, *extra: str) -> Iterator[tuple[str, str]]:
    """Start ``command`` (a Makefile line) on loopback; yield (base URL, token)."""
    port, token = _free_port(), secrets.token_hex(16)
    flags = ["--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}", *extra]
    log = (tmp / f"lab-{port}.log").open("w")
    server = subprocess.Popen(
        ["sh", "-c", command + " " + " ".join(shlex.quote(f) for f in flags)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=lab_env(tmp),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _request(f"{base}/api/status", token)[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp / f"lab-{port}.log").read_text()
            assert time.monotonic() < deadline, "JupyterLab did not start within 90 s"
            time.sleep(0.5)
        yield base, token
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


async def _terminal_output(base: str, token: str, name: str, script: str, marker: str) -> str:
    from tornado.websocket import websocket_connect

    url = base.replace("http", "ws", 1) + f"/terminals/websocket/{name}?token={token}"
    conn = await websocket_connect(url)
    seen = ""
    try:
        await conn.write_message(json.dumps(["stdin", script + "\r"]))
        deadline = time.monotonic() + 60
        while marker not in seen.replace(script, ""):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the terminal did not answer within 60 s:\n{seen}"
            message = await asyncio.wait_for(conn.read_message(), remaining)
            assert message is not None, f"the terminal closed:\n{seen}"
            kind, *payload = json.loads(message)
            if kind == "stdout":
                seen += payload[0]
    finally:
        conn.close()
    return seen


#: The students' folder that `make lab` fills (the Makefile's WORK).
STUDENT_WORK = "work"


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("student_lab")
    with running_lab(make_command("lab"), tmp) as served:
        yield served


def test_lab_opens_the_students_copy_of_lesson_00(student_lab):
    """Does the lab's front page lead to lesson 00 in the work folder (not the Launcher)?"""
    base, token = student_lab
    status, headers, _ = _request(f"{base}/", token)
    assert status in (301, 302)
    landing = "/".join(("lab", "tree", STUDENT_WORK, "00_orientation.ipynb"))
    assert headers["Location"].split("?")[0].endswith("/" + landing)


def test_file_browser_shows_what_a_student_needs(student_lab):
    """Is the root the repository, with README and data_fetch.py, and no instructor files?"""
    base, token = student_lab
    status, _, body = _request(f"{base}/api/contents", token)
    names = {item["name"] for item in json.loads(body)["content"]}
    assert status == 200 and {"README.md", "data_fetch.py", "course_utils"} <= names
    assert not names & {"autograder", "tests", "benchmarks", "notebooks", ".venv", ".jupyter"}


def test_no_nbgrader_tools_in_the_students_lab(student_lab):
    """Are nbgrader's lab extensions disabled and its server tools (formgrader) absent?"""
    base, token = student_lab
    status, _, page = _request(f"{base}/lab", token)
    assert status == 200
    config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page,
                                  re.S).group(1))
    assert config["disabledExtensions"]  # the page lists what it disables
    assert any(name.startswith("@jupyter/nbgrader") for name in config["disabledExtensions"])
    for path in ("/formgrader", "/assignments", "/courses"):
        assert _request(f"{base}{path}", token)[0] == 404, path


def test_terminal_runs_the_course_environment(student_lab):
    """Does `python` in a JupyterLab terminal import the course's packages (pooch...)?"""
    base, token = student_lab
    status, _, body = _request(f"{base}/api/terminals", token, method="POST")
    assert status == 200, body
    name = json.loads(body)["name"]
    script = ("python -c 'import sys, pooch, course_utils; print(\"PREFIX=\" + sys.prefix)'; "
              "echo DONE-$((6*7))")
    seen = asyncio.run(_terminal_output(base, token, name, script, "DONE-42"))
    assert f"PREFIX={sys.prefix}" in seen, seen
    assert "ModuleNotFoundError" not in seen, seen


def test_instructor_lab_has_the_nbgrader_tools(tmp_path):
    """Does `make instructor` start a lab in autograder/ with the formgrader on?"""
    command = make_command("instructor")
    assert command.startswith("cd autograder") and ".jupyter" not in command
    with running_lab(command, tmp_path) as (base, token):
        status, _, page = _request(f"{base}/lab", token)
        config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page,
                                      re.S).group(1))
        assert not any(n.startswith("@jupyter/nbgrader") for n in config["disabledExtensions"])
        assert _request(f"{base}/formgrader", token)[0] != 404
        status, _, body = _request(f"{base}/api/contents", token)
        assert "nbgrader_config.py" in {item["name"] for item in json.loads(body)["content"]}


def _make_work(work: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "work", f"WORK={work}"], cwd=ROOT,
                          capture_output=True, text=True, check=True)


def test_work_copies_lessons_once_and_never_overwrites(tmp_path):
    """Is every lesson copied, a student's edit kept, and a lesson added later copied?"""
    work = tmp_path / "repo" / "work"
    _make_work(work)
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert lessons and sorted(p.name for p in work.glob("*.ipynb")) == lessons
    for name in lessons:
        assert (work / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
    edited = work / lessons[0]
    edited.write_text('{"my": "work"}', encoding="utf-8")
    (work / lessons[-1]).unlink()  # as if this lesson were new upstream
    second = _make_work(work)
    assert edited.read_text(encoding="utf-8") == '{"my": "work"}'
    assert (work / lessons[-1]).is_file() and f"new lesson: {work}/{lessons[-1]}" in second.stdout
    assert lessons[0] not in second.stdout


def test_work_folder_is_ignored_by_git(tmp_path):
    """Does git see nothing in the work folder (so `git pull` and `git add .` leave it be)?"""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    _make_work(repo / "work")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                             "--untracked-files=all"], capture_output=True, text=True, check=True)
    assert status.stdout == ""
