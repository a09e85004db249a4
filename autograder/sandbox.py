"""A sandbox per submission: bubblewrap, a private folder, limits, and the worker inside it.

Everything a student's code runs while it is graded runs in :class:`Worker`, a process
started inside a bubblewrap (``bwrap``) sandbox:

* its own user, PID, network, IPC and UTS namespaces: it runs as user 65534 inside, sees
  only its own processes, has no network (not even the host's loopback), and everything it
  starts dies with it (``--die-with-parent``, and the PID namespace ends with its init);
* a filesystem of read-only system folders, the Python environment, the
  ``course_utils`` package and the course's data cache (read-only; public datasets, so a
  notebook trains on the images the grader's checkers score), plus one writable scratch
  folder of its own
  (holding the copy of that student's submission, a private HOME, IPython profile and
  matplotlib cache); ``/tmp`` is a private tmpfs. Nothing else of the host is visible: not
  the course sources, release, gradebook, configuration, grader code or other students;
* limits (``setrlimit``) on address space, processes, CPU time and file size, and on the
  bytes it may send back (:data:`autograder.worker.MAX_FRAME`, output per cell).

Without ``bwrap`` (or where user namespaces are disabled) grading refuses to start unless
the instructor passes ``--unsafe-no-sandbox``, which runs the same worker as a plain child
process of the grader: the verdicts are still decided in the grader, but the student's
code then runs with the instructor's rights (it can read and change any of their files).
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import worker as _wire

__all__ = ["Limits", "SandboxUnavailable", "Worker", "WorkerDied", "WorkerTimeout",
           "sandbox_problem", "UNSAFE_FLAG"]

#: The command-line flag that allows grading without a sandbox (named to be noticed).
UNSAFE_FLAG = "--unsafe-no-sandbox"
_SANDBOX_UID = 65534
#: ``course_utils.learning.medmnist.PATH_ENV`` (not imported here: it would load torch).
DATA_FILE_ENV = "COURSE_PNEUMONIAMNIST"
_ETC = ("alternatives", "fonts", "localtime", "ld.so.cache", "mime.types", "matplotlibrc",
        "ssl/certs")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create the namespaces it needs."""


class WorkerDied(RuntimeError):
    """The sandboxed process ended (crash, ``os._exit``, a limit) or broke the protocol."""


class WorkerTimeout(RuntimeError):
    """A request ran past its time limit; the sandbox was ended."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's sandbox.

    Parameters
    ----------
    memory_bytes : int
        Address space of each process (``RLIMIT_AS``).
    processes : int
        Processes and threads of the sandbox's user (``RLIMIT_NPROC``).
    cpu_seconds : int
        CPU time of each process (``RLIMIT_CPU``).
    file_bytes : int
        Largest file it may write (``RLIMIT_FSIZE``).
    """

    memory_bytes: int = 4 * 1024**3
    processes: int = 256
    cpu_seconds: int = 1800
    file_bytes: int = 256 * 1024**2

    @classmethod
    def from_env(cls) -> Limits:
        """Defaults, overridden by ``COURSE_SANDBOX_MEMORY_MB``/``_PROCESSES``/``_CPU_S``/``_FILE_MB``."""
        env = os.environ
        return cls(
            memory_bytes=int(env.get("COURSE_SANDBOX_MEMORY_MB", 4096)) * 1024**2,
            processes=int(env.get("COURSE_SANDBOX_PROCESSES", 256)),
            cpu_seconds=int(env.get("COURSE_SANDBOX_CPU_S", 1800)),
            file_bytes=int(env.get("COURSE_SANDBOX_FILE_MB", 256)) * 1024**2,
        )

    def apply(self) -> None:
        """Set the limits on the calling process (run in the child before ``exec``)."""
        for which, value in ((resource.RLIMIT_AS, self.memory_bytes),
                             (resource.RLIMIT_NPROC, self.processes),
                             (resource.RLIMIT_CPU, self.cpu_seconds),
                             (resource.RLIMIT_FSIZE, self.file_bytes),
                             (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(which, (value, value))


def _bwrap() -> str | None:
    return shutil.which("bwrap")


_PROBLEM: list[str | None] = []


def sandbox_problem() -> str | None:
    """Why no sandbox can be made here (None when bubblewrap works)."""
    if _PROBLEM:
        return _PROBLEM[0]
    binary = _bwrap()
    if binary is None:
        problem = ("bubblewrap (bwrap) is not installed; install it with your system's package "
                   "manager (Debian/Ubuntu: apt-get install bubblewrap)")
    else:
        probe = subprocess.run(
            [binary, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
            capture_output=True, text=True, timeout=30)
        problem = None if probe.returncode == 0 else (
            "bubblewrap cannot create a sandbox here (user namespaces disabled?): "
            + (probe.stderr.strip() or f"exit status {probe.returncode}"))
    _PROBLEM.append(problem)
    return problem


def _package_dir() -> Path:
    import course_utils

    return Path(course_utils.__file__).resolve().parent


def _bwrap_argv(scratch: Path, cwd: Path, env: dict[str, str]) -> list[str]:
    """The bubblewrap command line for a worker whose writable folder is ``scratch``."""
    argv = [_bwrap() or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--uid", str(_SANDBOX_UID), "--gid", str(_SANDBOX_UID),
            "--cap-drop", "ALL", "--hostname", "grading"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    for name in _ETC:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    # The private /tmp first: the environment, the package and the scratch folder may live
    # under /tmp themselves (a CI checkout, a temporary course), and a later tmpfs would
    # hide them. bubblewrap applies its mounts in order and makes the mount points.
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    read_only = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), _package_dir(),
                 Path(sys.prefix), Path(sys.executable).resolve().parent.parent}
    for path in sorted(read_only, key=lambda p: len(p.parts)):
        argv += ["--ro-bind", str(path), str(path)]
    for path in _course_data():
        argv += ["--ro-bind-try", str(path), str(path)]
    argv += ["--bind", str(scratch), str(scratch), "--chdir", str(cwd), "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv


def _environment(scratch: Path) -> dict[str, str]:
    home = scratch / "home"
    env = {
        "HOME": str(home), "USER": "student", "LOGNAME": "student",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "IPYTHONDIR": str(home / ".ipython"), "MPLCONFIGDIR": str(home / ".matplotlib"),
        "MPLBACKEND": "Agg", "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0", "LANG": "C.UTF-8",
        "NBGRADER_EXECUTION": "autograde",
    }
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                 "COURSE_CELL_TIMEOUT"):
        if name in os.environ:
            env[name] = os.environ[name]
    data_dir, *configured = _course_data()
    env["COURSE_DATA_DIR"] = str(data_dir)
    if configured:
        env[DATA_FILE_ENV] = str(configured[0])
    return env


def _course_data() -> list[Path]:
    """The course's data the sandbox sees read-only, as the grader does.

    The data cache (``$COURSE_DATA_DIR`` or the user cache folder: public datasets fetched
    by ``data_fetch.py``) and the file ``$COURSE_PNEUMONIAMNIST`` names, if any. A
    notebook then trains on the same images the grader's checkers load to score it.
    """
    from course_utils.data import cache_dir

    found = [cache_dir().expanduser().resolve()]
    configured = os.environ.get(DATA_FILE_ENV, "").strip()
    if configured and Path(configured).is_file():
        found.append(Path(configured).expanduser().resolve())
    return found


class Worker:
    """One submission's sandboxed worker process (see :mod:`autograder.worker`).

    Parameters
    ----------
    scratch : pathlib.Path
        The submission's private writable folder (made by the caller, deleted by it).
    cwd : pathlib.Path
        The working directory inside ``scratch`` (the copy of the student's folder).
    limits : Limits
        Resource limits.
    unsafe : bool
        Run without a sandbox (only with the instructor's explicit unsafe flag).
    """

    def __init__(self, scratch: Path, cwd: Path, *, limits: Limits | None = None,
                 unsafe: bool = False, start_timeout: float = 120.0) -> None:
        self.scratch, self.cwd = scratch, cwd
        self.limits = limits or Limits.from_env()
        self.unsafe = unsafe
        self._proc: subprocess.Popen | None = None
        self._start_timeout = start_timeout
        self.start()

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start (or restart) the sandboxed process and wait until it is ready."""
        self.close()
        if not self.unsafe and sandbox_problem():
            raise SandboxUnavailable(f"{sandbox_problem()}; or pass {UNSAFE_FLAG}")
        for sub in ("home/.ipython", "home/.matplotlib"):
            (self.scratch / sub).mkdir(parents=True, exist_ok=True)
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        source = Path(_wire.__file__).read_text(encoding="utf-8")
        env = _environment(self.scratch)
        command = [sys.executable, "-I", "-c", source, str(to_worker_r), str(from_worker_w)]
        if self.unsafe:
            argv, popen_env = command, env
        else:
            argv, popen_env = _bwrap_argv(self.scratch, self.cwd, env) + command, {}
        limits = self.limits

        def prepare() -> None:
            os.setsid()
            limits.apply()

        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(to_worker_r, from_worker_w),
                cwd=self.cwd, env=popen_env, preexec_fn=prepare, close_fds=True)
        finally:
            os.close(to_worker_r)
            os.close(from_worker_w)
        self._write, self._read = to_worker_w, from_worker_r
        reply, _ = self._receive(time.monotonic() + self._start_timeout)
        if not reply.get("ready"):
            raise WorkerDied("the sandboxed process did not start")

    def close(self) -> None:
        """End the process and everything it started."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for fd in (self._write, self._read):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- requests ---------------------------------------------------------------------
    def request(self, message: dict, blobs: list[bytes] = (), *,
                deadline: float) -> tuple[dict, list[bytes]]:
        """Send one request and wait for its reply until ``deadline`` (``time.monotonic``)."""
        if self._proc is None:
            raise WorkerDied("the sandboxed process is not running")
        try:
            _wire.write_frame(self._write, message, list(blobs))
        except OSError as exc:
            self.close()
            raise WorkerDied(f"the sandboxed process stopped listening ({exc})") from exc
        return self._receive(deadline)

    def _receive(self, deadline: float) -> tuple[dict, list[bytes]]:
        chunks = bytearray()
        need: int | None = None
        while need is None or len(chunks) < need + 8:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise WorkerTimeout("time limit reached")
            ready, _, _ = select.select([self._read], [], [], min(left, 1.0))
            if not ready:
                if self._proc is not None and self._proc.poll() is not None:
                    self._died()
                continue
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                self._died()
            chunks += chunk
            if need is None and len(chunks) >= 8:
                need = int.from_bytes(chunks[:8], "little")
                if need > _wire.MAX_FRAME:
                    self.close()
                    raise WorkerDied(f"the sandboxed process sent {need} bytes at once, more "
                                     f"than the {_wire.MAX_FRAME} allowed")
        if len(chunks) > need + 8:
            self.close()
            raise WorkerDied("the sandboxed process wrote to the grader's channel out of turn")
        try:
            return _wire.unpack(bytes(chunks[8:]))
        except _wire.ProtocolError as exc:
            self.close()
            raise WorkerDied(str(exc)) from exc

    def _died(self) -> None:
        code = self._proc.poll() if self._proc is not None else None
        self.close()
        why = {-signal.SIGKILL: "killed (out of memory or a limit)",
               -signal.SIGXCPU: "stopped at its CPU time limit",
               -signal.SIGXFSZ: "stopped at its file size limit",
               -signal.SIGSEGV: "crashed (segmentation fault)"}.get(code or 0)
        raise WorkerDied(why or f"ended (exit status {code})")


def make_scratch(prefix: str = "course-grade-") -> Path:
    """A fresh private scratch folder for one submission (the caller removes it)."""
    path = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    path.chmod(0o700)
    return path
