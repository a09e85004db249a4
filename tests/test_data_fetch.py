"""The ``data_fetch.py`` command line, against a local HTTP server (no internet)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import data_fetch
from course_utils import data
from tests.test_data import LocalServer, registry_for, server  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]


def _run(argv: list[str], registry: dict, capsys: pytest.CaptureFixture[str]
         ) -> tuple[int, str, str]:
    status = data_fetch.main(argv, registry=registry)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_list_fetch_verify(server: LocalServer, tmp_path: Path,  # noqa: F811
                           capsys: pytest.CaptureFixture[str]) -> None:
    registry = registry_for(server)
    cache = ["--cache-dir", str(tmp_path)]
    status, out, _ = _run(["--list", *cache], registry, capsys)
    assert status == 0 and f"cache folder: {tmp_path}" in out
    assert "good" in out and "[not downloaded]" in out
    status, out, err = _run(["good", "--no-progress", *cache], registry, capsys)
    assert status == 0, err
    assert "downloaded good/good.npz (checksum OK)" in out and "done: good" in out
    status, out, _ = _run(["--list", *cache], registry, capsys)
    assert "[cached]" in out
    status, out, _ = _run(["--verify", "good", *cache], registry, capsys)
    assert status == 0 and "good: OK (1 file)" in out
    (tmp_path / "good" / "good.npz").write_bytes(b"damaged")
    status, out, _ = _run(["--verify", *cache], registry, capsys)
    assert status == 1
    assert "good: CORRUPT good.npz; run `python data_fetch.py good`" in out
    assert "missing: not downloaded" in out


def test_list_columns_line_up(server: LocalServer, tmp_path: Path,  # noqa: F811
                              capsys: pytest.CaptureFixture[str]) -> None:
    """Does every row of --list start each column at the same place, long licences too?"""
    registry = dict(registry_for(server))
    name = next(iter(registry))
    registry[name] = dataclasses.replace(registry[name], licence="a very long licence " * 3)
    status, out, _ = _run(["--list", "--cache-dir", str(tmp_path)], registry, capsys)
    header, *rows = out.splitlines()[1:]
    assert status == 0 and header.split()[:3] == ["name", "size", "licence"]
    assert len(rows) == len(registry)
    for column in ("licence", "state", "title"):
        start = header.index(column)
        for row in rows:  # each column starts at its header, after a two-space gap
            assert row[start - 2:start] == "  " and row[start] != " ", (column, out)
    size_end = header.index("size") + len("size")
    assert all(row[size_end - 1] != " " and row[size_end] == " " for row in rows), out


def test_environment_variable_sets_the_cache(server: LocalServer, tmp_path: Path,  # noqa: F811
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "env"))
    status, _, _ = _run(["good", "--no-progress"], registry_for(server), capsys)
    assert status == 0
    assert (tmp_path / "env" / "good" / "good.npz").is_file()


@pytest.mark.parametrize(("name", "words"), [
    ("corrupt", "does not match the registry's checksum"),
    ("missing", "HTTP 404"),
    ("offline", "could not connect"),
])
def test_failures_are_one_plain_line(server: LocalServer, tmp_path: Path, name: str,  # noqa: F811
                                     words: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run([name, "--no-progress", "--timeout", "2", "--cache-dir",
                             str(tmp_path)], registry_for(server), capsys)
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]
    assert "Traceback" not in err and "done" not in out


def test_unknown_name_and_empty_command(capsys: pytest.CaptureFixture[str]) -> None:
    status = data_fetch.main(["chestmnist"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip() == ("error: unknown dataset 'chestmnist'; known datasets: breastmnist_28, "
                           "ct_head_ge, pneumoniamnist_28, pneumoniamnist_64 (see --list)")
    assert data_fetch.main([]) == 2
    assert "name at least one dataset" in capsys.readouterr().err


def test_script_runs_as_a_program(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "data_fetch.py"), "--list", "--cache-dir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for name in ("pneumoniamnist_28", "pneumoniamnist_64", "breastmnist_28", "ct_head_ge"):
        assert name in result.stdout
    assert "CC BY 4.0" in result.stdout
