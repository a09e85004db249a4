"""environment.yml (Binder, conda-forge) and pyproject.toml declare the same dependencies."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["lab"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"]
    declared = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for line in entry["pip"]:
                if not line.startswith("-"):
                    declared.update([_split(line)])
            assert "--editable ." in entry["pip"], "Binder must install course_utils itself"
            continue
        name, spec = _split(entry.replace("=", "==", 1) if re.match(r"^[\w\-]+=\d", entry) else entry)
        declared[CONDA_TO_PYPI.get(name, name)] = spec
    declared.pop("python"), declared.pop("pip")
    assert declared == wanted


def test_torch_requirement_is_a_range_so_colab_keeps_its_own():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    torch = next(r for r in project["dependencies"] if r.startswith("torch"))
    assert ">=" in torch and "==" not in torch


def test_pyproject_uses_the_spdx_licence_string_without_setuptools_warnings():
    """Is the licence an SPDX expression (PEP 639), read by setuptools with no warning?"""
    import subprocess
    import sys

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    config = tomllib.loads(text)
    assert config["project"]["license"] == "BSD-3-Clause"
    assert "setuptools>=77" in config["build-system"]["requires"][0]
    code = ("from setuptools.config.pyprojecttoml import apply_configuration\n"
            "from setuptools.dist import Distribution\n"
            "dist = apply_configuration(Distribution(), 'pyproject.toml')\n"
            "print(dist.metadata.license_expression)\n")
    run = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "BSD-3-Clause", run.stderr[-2000:]


def test_playwright_is_a_dev_dependency_and_no_browser_is_downloaded():
    """Is Playwright in the dev extras (tests/test_browser.py), and does CI install Chromium?"""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(r.startswith("playwright") for r in project["optional-dependencies"]["dev"])
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "chromium" in ci and "playwright install" not in ci
