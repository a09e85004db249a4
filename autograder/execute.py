"""Execute a notebook and report each graded cell's outcome (for tests and benchmarks)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

__all__ = ["CellOutcome", "execute", "graded_cell_outcomes"]


@dataclass(frozen=True)
class CellOutcome:
    """How one autograded test cell ended."""

    grade_id: str
    points: float
    passed: bool
    text: str


def execute(
    path: Path,
    *,
    cwd: Path | None = None,
    timeout: int = 300,
    grading: bool = True,
    env: dict[str, str] | None = None,
) -> nbformat.NotebookNode:
    """Run a notebook top to bottom (errors recorded, not raised) and return it.

    Parameters
    ----------
    path : pathlib.Path
        The notebook.
    cwd : pathlib.Path, optional
        Working directory of the kernel; the notebook's folder by default.
    timeout : int
        Per-cell limit in seconds.
    grading : bool, default True
        Set ``NBGRADER_EXECUTION=validate`` in the kernel, as nbgrader does, so that heavy
        lessons use their grading budget.
    env : dict, optional
        Extra environment variables for the kernel.
    """
    nb = nbformat.read(path, as_version=4)
    kernel_env = dict(os.environ)
    kernel_env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    if grading:
        kernel_env["NBGRADER_EXECUTION"] = "validate"
    else:
        kernel_env.pop("NBGRADER_EXECUTION", None)
    kernel_env.update(env or {})
    client = NotebookClient(
        nb,
        config=_kernel_config(),
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd or path.parent)}},
    )
    client.execute(env=kernel_env)
    return nb


def _kernel_config():
    """Kernels on private IPC sockets (see nbgrader_config.py for why)."""
    import tempfile
    import uuid

    from traitlets.config import Config

    config = Config()
    if os.name == "posix":
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = os.path.join(
            tempfile.gettempdir(), f"course-kernel-{uuid.uuid4().hex[:12]}"
        )
    return config


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "".join(parts)


def graded_cell_outcomes(nb: nbformat.NotebookNode) -> list[CellOutcome]:
    """Score each autograded test cell as nbgrader would: errors or stderr fail it."""
    outcomes = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        failed = any(
            o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
            for o in cell.get("outputs", [])
        )
        outcomes.append(CellOutcome(meta["grade_id"], float(meta.get("points", 0)), not failed,
                                    _text(cell)))
    return outcomes
