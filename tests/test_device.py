"""Device selection: CUDA > MPS > CPU, explicit choices, clear errors."""

from __future__ import annotations

import pytest
import torch

from course_utils import device as device_module
from course_utils.device import describe_device, device_summary, pick_device


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    """Pretend the machine has (or lacks) a CUDA GPU and Apple's MPS."""

    def configure(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Test GPU")

    return configure


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu"),
])
def test_auto_prefers_cuda_then_mps(machine, cuda: bool, mps: bool, expected: str) -> None:
    machine(cuda, mps)
    assert pick_device() == torch.device(expected)
    assert device_summary()["best"] == expected


def test_explicit_choices(machine) -> None:
    machine(False, False)
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="MPS"):
        pick_device("mps")
    machine(True, False)
    assert pick_device("cuda") == torch.device("cuda")


def test_unknown_device_names(machine) -> None:
    machine(True, True)
    with pytest.raises(ValueError, match=r"preferred must be one of .*'tpu'"):
        pick_device("tpu")
    with pytest.raises(TypeError, match="must be a str"):
        pick_device(0)  # type: ignore[arg-type]


def test_describe_device(machine) -> None:
    machine(False, False)
    text = describe_device()
    assert text.startswith("Computing on cpu (") and "no GPU found" in text
    assert "lesson 05's training takes" in text
    machine(True, False)
    assert describe_device("cuda").startswith("Computing on cuda (Test GPU)")
    assert "Apple GPU" in describe_device(torch.device("mps"))
    with pytest.raises(ValueError, match="must name a torch device"):
        describe_device("tpu")
    with pytest.raises(TypeError, match="torch.device or str"):
        describe_device(3)


def test_summary_keys() -> None:
    summary = device_summary()
    assert set(summary) == {"torch", "cuda", "cuda_device", "mps", "best"}
    assert summary["torch"] == torch.__version__
    assert device_module.pick_device is pick_device


def test_cpu_threads_default_is_one_and_can_be_overridden(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Does the course use one CPU thread unless told otherwise, and refuse nonsense?"""
    from course_utils.device import DEFAULT_CPU_THREADS, THREADS_ENV, cpu_threads

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert DEFAULT_CPU_THREADS == 1 and cpu_threads() == 1
    assert cpu_threads(3) == 3
    monkeypatch.setenv(THREADS_ENV, "2")
    assert cpu_threads() == 2 and cpu_threads(1) == 1
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(ValueError, match=THREADS_ENV):
            cpu_threads()
    with pytest.raises(ValueError, match="threads"):
        cpu_threads(0)
    with pytest.raises(TypeError, match="threads"):
        cpu_threads(1.0)


def test_use_cpu_threads_sets_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils.device import THREADS_ENV, use_cpu_threads

    monkeypatch.delenv(THREADS_ENV, raising=False)
    before = torch.get_num_threads()
    try:
        assert use_cpu_threads(2) == 2 == torch.get_num_threads()
        assert use_cpu_threads() == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
