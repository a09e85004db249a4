"""The sandbox boundary: what crosses it (plain data only) and what the inside can see."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

from autograder import worker as wire
from autograder.feedback import markdown_to_html, render_page, visible_code
from autograder.results import Result, Status
from autograder.sandbox import Limits, Worker, WorkerTimeout, make_scratch, sandbox_problem
from autograder.verdicts import parse_test_cell

needs_sandbox = pytest.mark.skipif(sandbox_problem() is not None and not os.environ.get("CI"),
                                   reason=f"no sandbox here: {sandbox_problem()}")


def test_plain_data_round_trips():
    """Do arrays, scalars, containers, bytes, paths and non-finite floats cross unchanged?"""
    value = [np.arange(6, dtype=np.uint8).reshape(2, 3), np.float32(1.5), (1, "a", None),
             {"k": [True, float("nan")], 3: b"\x00\x01"}, Path("x/y"), 2**70, 1 + 2j, {1, 2}]
    data, blobs = wire.encode(value)
    header, received = wire.unpack(wire.pack({"v": data}, blobs)[8:])
    back = wire.decode(header["v"], received)
    assert back[0].dtype == np.uint8 and np.array_equal(back[0], value[0])
    assert type(back[1]) is np.float32 and back[2] == (1, "a", None)
    assert back[3]["k"][0] is True and np.isnan(back[3]["k"][1]) and back[3][3] == b"\x00\x01"
    assert back[4] == Path("x/y") and back[5] == 2**70 and back[6] == 1 + 2j and back[7] == {1, 2}


def test_objects_and_subclasses_do_not_cross_as_themselves():
    """Is an object refused, and does a lying ndarray or str subclass arrive as the plain type?"""
    with pytest.raises(wire.NotPlain):
        wire.encode(object())

    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    class Always(str):
        def __eq__(self, other):
            return True

    data, blobs = wire.encode([np.zeros(2).view(Liar), Always("x")])
    back = wire.decode(data, blobs)
    # A str subclass arrives as the course's own (str's behaviour), never the sender's.
    assert type(back[0]) is np.ndarray and type(back[1]) is wire.Text and back[1] != "y"


def test_malformed_data_is_refused():
    """Are unknown tags, bad blob indices and pickled object arrays refused?"""
    import io

    with pytest.raises(wire.ProtocolError):
        wire.decode({"pickle": 0}, [])
    with pytest.raises(wire.ProtocolError):
        wire.decode({"ndarray": 5}, [])
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(wire.ProtocolError):
        wire.decode({"ndarray": 0}, [buffer.getvalue()])
    with pytest.raises(wire.ProtocolError):
        wire.unpack(b"\xff\xff")


def test_test_cells_are_parsed_into_checker_calls():
    """Are visible and hidden checker calls found, and anything else left to the sandbox?"""
    cell = ("lesson04.check_conv(conv)\n### BEGIN HIDDEN TESTS\n"
            "lesson04.check_conv(conv, seed=3, n_random=9)\nlesson05.check_model(f, data=data)\n"
            "### END HIDDEN TESTS")
    first, second, third = parse_test_cell(cell)
    assert (first.checker, first.target, first.kwargs, first.hidden) == (
        "lesson04.check_conv", "conv", {}, False)
    assert second.hidden and second.kwargs == {"seed": 3, "n_random": 9}
    assert third.hidden and third.checker is None


@needs_sandbox
def test_the_sandbox_sees_only_its_own_folder(tmp_path):
    """Can the inside see the host's files, its processes, the network? Is it limited?"""
    scratch = make_scratch()
    (scratch / "work").mkdir()
    secret = Path(__file__).resolve()
    code = (
        "import os, socket\n"
        f"print('secret', os.path.exists({str(secret)!r}))\n"
        "print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "print('uid', os.getuid())\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 80), timeout=2)\n"
        "    print('network yes')\n"
        "except OSError:\n"
        "    print('network no')\n"
        "try:\n"
        "    bytearray(1500 * 1024**2)\n"
        "    print('memory unlimited')\n"
        "except MemoryError:\n"
        "    print('memory limited')\n")
    try:
        with Worker(scratch, scratch / "work", limits=Limits(memory_bytes=1024**3)) as worker:
            reply, _ = worker.request({"op": "run", "source": code},
                                      deadline=time.monotonic() + 60)
            out = reply["output"]
            assert "secret False" in out and "network no" in out and "memory limited" in out
            assert "uid 65534" in out
            assert "pids [1, 2]" in out or "pids [2]" in out or "pids [1, 2, 3]" in out, out
            with pytest.raises(WorkerTimeout):
                worker.request({"op": "run", "source": "while True: pass"},
                               deadline=time.monotonic() + 2)
            assert not worker.alive
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


def test_feedback_pages_render_offline():
    """Is Markdown rendered (raw HTML escaped), math drawn as SVG, hidden code replaced?"""
    html = markdown_to_html("**bold** $O = (I - K + 2P)/S + 1$ <script>alert(1)</script>")
    assert "<strong>bold</strong>" in html and "<svg" in html and "<script>" not in html
    code = visible_code("check(f)\n### BEGIN HIDDEN TESTS\ncheck(f, seed=1)\n"
                        "### END HIDDEN TESTS", 0, 1)
    assert "seed" not in code and "# Hidden tests: 0 of 1 passed." in code
    page = render_page(Result("s", "00_x", Status.INVALID, reasons=["not <valid>"]), None, [])
    assert "<strong>Grading status: invalid.</strong>" in page and "not &lt;valid&gt;" in page
    assert "white-space: pre-wrap" in page


def test_result_records_round_trip(tmp_path):
    """Does a saved report load back with its Status, and is a broken one refused?"""
    result = Result("ann", "00_x", Status.FAILED, 0, 5, ["why"])
    loaded = Result.load(result.save(tmp_path))
    assert loaded == result and loaded.status is Status.FAILED
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="not a grading report"):
        Result.load(bad)


def test_the_private_tmp_never_hides_the_environment(tmp_path):
    """A course checked out under /tmp (a CI clone) must stay visible inside: the private
    /tmp is mounted before the environment, the package and the scratch folder."""
    import sys

    from autograder.sandbox import _bwrap_argv, _package_dir

    argv = _bwrap_argv(tmp_path, tmp_path, {})
    tmpfs = argv.index("--tmpfs")
    binds = [i for i, a in enumerate(argv) if a in ("--ro-bind", "--bind")
             and argv[i + 1] in {sys.prefix, str(_package_dir()), str(tmp_path)}]
    assert binds and all(i > tmpfs for i in binds), argv
