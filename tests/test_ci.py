""".ci/run: installs the system packages the tests need (once), then runs `make test`.

The system tools are replaced by fakes on PATH that log their arguments, so these tests
check what .ci/run would do on a fresh machine, on a prepared one and without root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import conftest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["orthanc", "chromium", "bubblewrap"]


def _fake(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(0o755)


def _run_ci(tmp_path: Path, *, installed: list[str], uid: int = 0,
            apt: bool = True) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    state = tmp_path / "installed"
    state.write_text("\n".join(installed) + "\n", encoding="utf-8")
    _fake(bin_dir, "dpkg-query", f'echo "dpkg-query $*" >> {log}\n'
          f'for last; do :; done\n'
          f'grep -qx "$last" {state} && printf "install ok installed" || exit 1')
    if apt:
        _fake(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}\n'
              f'if [ "$1" = install ]; then shift 3; for p; do echo "$p" >> {state}; done; fi')
    _fake(bin_dir, "id", f'echo {uid}')
    _fake(bin_dir, "make", f'echo "make $* COURSE_CI=$COURSE_CI" >> {log}')
    for tool in ("bash", "grep", "dirname", "cat", "printf"):
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    run = subprocess.run(["bash", str(ROOT / ".ci" / "run")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return run, [c for c in calls if not c.startswith("dpkg-query")]


def test_fresh_machine_updates_once_installs_all_then_runs_make_test(tmp_path):
    """On a clean machine: one apt-get update, one install of everything, then make test?"""
    run, calls = _run_ci(tmp_path, installed=[])
    assert run.returncode == 0, run.stderr
    assert calls == [
        "apt-get update",
        "apt-get install -y --no-install-recommends " + " ".join(PACKAGES),
        "make test COURSE_CI=1",
    ]


def test_prepared_machine_installs_nothing(tmp_path):
    """Is .ci/run idempotent: with everything installed, no apt-get at all?"""
    run, calls = _run_ci(tmp_path, installed=PACKAGES)
    assert run.returncode == 0, run.stderr
    assert calls == ["make test COURSE_CI=1"]
    assert "already installed" in run.stdout


def test_only_what_is_missing_is_installed(tmp_path):
    run, calls = _run_ci(tmp_path, installed=["orthanc"])
    assert calls[:2] == ["apt-get update",
                         "apt-get install -y --no-install-recommends chromium bubblewrap"]


@pytest.mark.parametrize("uid, apt", [(1000, True), (0, False)])
def test_without_root_or_apt_it_says_so_and_still_runs_the_tests(tmp_path, uid, apt):
    run, calls = _run_ci(tmp_path, installed=[], uid=uid, apt=apt)
    assert run.returncode == 0 and calls == ["make test COURSE_CI=1"]
    assert "cannot install orthanc chromium bubblewrap" in run.stderr


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and script.rstrip().endswith("exec make test")
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


class _Report:
    def __init__(self, reason: str) -> None:
        self.skipped, self.outcome = True, "skipped"
        self.longrepr = ("tests/x.py", 1, f"Skipped: {reason}")


class _Outcome:
    def __init__(self, report: _Report) -> None:
        self.report = report

    def get_result(self) -> _Report:
        return self.report


def _after_hook(reason: str) -> _Report:
    report = _Report(reason)
    hook = conftest.pytest_runtest_makereport(None, None)
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(_Outcome(report))
    return report


def test_under_ci_a_missing_tool_fails_instead_of_skipping(monkeypatch):
    """With COURSE_CI set, is "Orthanc is not installed" a failure (other skips unchanged)?"""
    monkeypatch.setenv(conftest.CI_ENV, "1")
    report = _after_hook("Orthanc is not installed")
    assert report.outcome == "failed" and "Orthanc is not installed" in report.longrepr
    assert _after_hook("this lesson declares no alternative right answers").outcome == "skipped"
    monkeypatch.delenv(conftest.CI_ENV)
    assert _after_hook("Orthanc is not installed").outcome == "skipped"
