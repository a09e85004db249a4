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
