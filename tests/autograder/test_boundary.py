"""What crosses the sandbox's boundary besides plain data, and how the grader uses it.

DICOM data sets (as DICOM bytes), geometric transforms (as their matrix), str subclasses
(as the course's own), torch's own models, optimizers, scalers and generators (as
arguments, with what the student's code did to them copied back), models the student
returns (mirrored; their forward pass and gradients computed where they were built), the
checker's simulated machine (patches repeated in the sandbox) and the checker's loopback
servers (carried by a relay).
"""

import copy
import os
import shutil
import socket
import threading
import time
from unittest import mock

import numpy as np
import pydicom
import pytest
import torch
from torch import nn

from autograder import relay
from autograder import worker as wire
from autograder.calls import (
    Fallback,
    apply_mutation,
    patches_to_forward,
    record_calls,
    watch_checker_environment,
)
from autograder.planning import _LocalModels
from autograder.remote import RemoteModule, mirror
from autograder.sandbox import Worker, make_scratch, sandbox_problem
from course_utils.dicom.files import sample_file

needs_sandbox = pytest.mark.skipif(sandbox_problem() is not None and not os.environ.get("CI"),
                                   reason=f"no sandbox here: {sandbox_problem()}")


def _cross(value, **options):
    data, blobs = wire.encode(value, **options)
    header, received = wire.unpack(wire.pack({"v": data}, blobs)[8:])
    return wire.decode(header["v"], received, **options)


def test_dicom_data_sets_cross_as_dicom_bytes():
    """Does a data set arrive with the same elements (group lengths too), the sender's
    copy untouched (the writer resolves "OB or OW" in place), and an unwritable one refused?"""
    from course_utils.imaging.pet import pet_dataset

    made = pet_dataset(np.ones((4, 4)), weight_kg=70, dose_bq=3e8, injection_s=0,
                       series_s=3600)
    assert made["PixelData"].VR == "OB or OW"
    before = copy.deepcopy(made)
    received = _cross(made)
    assert made == before and made["PixelData"].VR == "OB or OW"
    assert received.PixelData == made.PixelData and received["PixelData"].VR == "OW"
    ds = pydicom.dcmread(sample_file("693_J2KI.dcm"))
    back = _cross([ds])[0]
    assert isinstance(back, pydicom.Dataset) and back.file_meta == ds.file_meta
    assert (0x0008, 0x0000) in ds and back[0x0008, 0x0000].value == ds[0x0008, 0x0000].value
    assert all(back[e.tag].value == e.value for e in ds if e.tag != 0x7FE00010)
    assert back.PixelData == ds.PixelData
    broken = pydicom.Dataset()
    broken.add_new(0x00080008, "CS", 12.5)  # not a string: pydicom cannot write it
    with pytest.raises(wire.NotPlain, match="cannot write"):
        wire.encode(broken)
    rng = np.random.default_rng(0)
    raw = open(sample_file("CT_small.dcm"), "rb").read()
    for k in range(40):  # truncated and corrupted bytes: a data set or a ProtocolError
        blob = bytearray(raw[:int(rng.integers(0, len(raw)))])
        if blob and k % 2:
            blob[int(rng.integers(0, len(blob)))] ^= 0xFF
        try:
            assert isinstance(wire.decode({"dicom": 0}, [bytes(blob)]), pydicom.Dataset)
        except wire.ProtocolError:
            pass


def test_transforms_cross_as_their_matrix():
    """A scikit-image transform arrives as itself; anything else with a ``params`` matrix
    as the course's Transform (the sender's class never crosses)."""
    from skimage.transform import AffineTransform

    t = AffineTransform(rotation=0.3, translation=(2, -1))
    back = _cross(t)
    assert type(back) is AffineTransform and np.array_equal(back.params, t.params)

    class Mine:
        params = np.eye(3)

        def __eq__(self, other):
            return True

    forged = _cross(Mine())
    assert type(forged) is wire.Transform and np.array_equal(forged.params, np.eye(3))
    assert "Mine" in repr(forged)


def test_str_subclasses_arrive_as_the_course_own():
    """A str subclass stays a subclass (exercises must accept them), never the sender's."""

    class Always(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    back = _cross(["plain", Always("cuda")])
    assert type(back[0]) is str and type(back[1]) is wire.Text
    assert back[1] == "cuda" and back[1] != "cpu"


def _small_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Dropout(0.2), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(16, 2))


def test_torch_arguments_cross_and_what_was_done_to_them_comes_back():
    """A training step on the received copies, copied back, equals the step done here."""
    model, twin = _small_model(), _small_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    twin_optimizer = torch.optim.Adam(twin.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    generator = torch.Generator().manual_seed(3)
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 1, 0])
    model.eval()
    twin.eval()
    sent = [model, optimizer, scaler, generator]
    received = _cross([sent])[0]
    m2, o2, s2, g2 = received
    assert o2.param_groups[0]["params"][0] is next(m2.parameters())
    assert type(m2) is nn.Sequential and not m2.training

    def step(m, o, gen, sc):
        m.train()
        o.zero_grad()
        noise = torch.rand(x.shape, generator=gen)
        torch.manual_seed(5)  # the same dropout mask
        sc.scale(nn.functional.cross_entropy(m(x + noise), y)).backward()
        sc.step(o)
        sc.update(4.0)

    step(m2, o2, g2, s2)
    for given, changed in zip(sent, _cross([received])[0]):
        apply_mutation(given, changed)
    step(twin, twin_optimizer, torch.Generator().manual_seed(3),
         torch.amp.GradScaler("cpu", init_scale=8.0))
    assert model.training
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 twin.state_dict().values()))
    assert all(torch.allclose(p.grad, q.grad) for p, q in zip(model.parameters(),
                                                              twin.parameters()))
    assert optimizer.state_dict()["state"][0]["step"] == 1
    assert scaler.get_scale() == 4.0
    assert torch.equal(generator.get_state(), g2.get_state())


def test_models_never_cross_as_results_and_foreign_classes_never_cross():
    """A returned model, a student's own class and a forged class name are refused."""

    class Mine(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(wire.NotPlain, match="checked where they were made"):
        wire.encode(_small_model(), objects=False)
    with pytest.raises(wire.NotPlain, match="torch.nn's own classes"):
        wire.encode(Mine())
    data, blobs = wire.encode(_small_model())
    with pytest.raises(wire.ProtocolError):
        wire.decode(data, blobs, objects=False)
    data["torch_module"]["class"] = "Module.__subclasses__"
    with pytest.raises(wire.ProtocolError, match="own classes"):
        wire.decode(data, blobs)


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.norm = nn.BatchNorm2d(2)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x))) + x


class _Net(nn.Module):
    """A student's own model: its own classes, a skip connection, a shared layer."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.block = _Block()
        self.head = nn.Linear(2 * 4 * 4, 3)
        self.again = self.head  # the same layer twice: shared parameters

    def forward(self, x):
        return self.again(self.block(self.encoder(x)).flatten(1))


def test_a_returned_model_is_mirrored_and_computes_where_it_was_built():
    """Types, settings, shared and given parameters are mirrored; the forward pass, hooks,
    state changes (weights copied in, .double(), eval) and gradients behave as the
    original's would."""
    torch.manual_seed(1)
    encoder = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2))
    sent: dict = {}
    data, blobs = wire.encode([encoder], registry=sent)
    received_registry: dict = {}
    (received_encoder,) = wire.decode(data, blobs, registry=received_registry)
    original = _Net(received_encoder)
    local = _LocalModels()
    part = local.models.keep_model(original, received_registry)
    copy_of_part = wire.decode(*wire.encode(part, objects=False), objects=False)
    model = mirror(local, copy_of_part, sent)
    assert isinstance(model, RemoteModule) and isinstance(model.block, RemoteModule)
    assert type(model.head) is nn.Linear and model.head.out_features == 3
    assert model.again is model.head or model.again.weight is model.head.weight
    assert model.encoder[0].weight is encoder[0].weight  # the grader's own parameter
    x = torch.randn(2, 1, 8, 8, requires_grad=True)
    model.eval()
    original.eval()
    with torch.no_grad():
        model.block.norm.running_mean.fill_(0.5)  # a change made in the mirror ...
        model.head.weight.mul_(2)
    seen = {}
    hook = model.block.register_forward_hook(lambda m, i, o: seen.setdefault("block", o))
    out = model(x)
    hook.remove()
    # ... reaches the original before its forward pass.
    assert torch.equal(original.block.norm.running_mean, torch.full((2,), 0.5))
    with torch.no_grad():
        expected = original(x.detach())
    assert torch.allclose(out, expected) and seen["block"].shape == (2, 2, 4, 4)
    (gx,) = torch.autograd.grad(out.sum(), x, retain_graph=True)
    (gw,) = torch.autograd.grad(out.sum(), model.block.conv.weight)
    x2 = x.detach().clone().requires_grad_(True)
    original(x2).sum().backward()
    assert torch.allclose(gx, x2.grad) and torch.allclose(gw, original.block.conv.weight.grad)
    double = copy.deepcopy(model).double()
    assert double(x.double()).dtype == torch.float64


@needs_sandbox
def test_a_relay_carries_exactly_the_ports_the_grader_listens_on():
    """Inside the sandbox, 127.0.0.1:PORT reaches the grader's server while it listens and
    is carried; other ports and a closed relay do not connect."""
    watch_checker_environment()
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def echo():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"echo:" + conn.recv(100))

    threading.Thread(target=echo, daemon=True).start()
    scratch = make_scratch()
    (scratch / "work").mkdir()
    relays = relay.GraderRelays(scratch / "relay")
    probe = ("import socket\n"
             "def ask(port):\n"
             "    try:\n"
             "        with socket.create_connection(('127.0.0.1', port), timeout=3) as s:\n"
             "            s.sendall(b'hi'); return s.recv(100)\n"
             "    except OSError as exc:\n"
             "        return type(exc).__name__\n")
    try:
        assert port in relay.listening_ports()
        with Worker(scratch, scratch / "work") as worker:
            def run(code):
                reply, _ = worker.request({"op": "run", "source": code},
                                          deadline=time.monotonic() + 30)
                return reply["output"]

            run(probe)
            wanted = relays.sync({port})
            worker.request({"op": "relay", "ports": {str(p): v for p, v in wanted.items()}},
                           deadline=time.monotonic() + 10)
            assert "b'echo:hi'" in run(f"print(ask({port}))")
            other = port + 1 if port < 65535 else port - 1
            assert "ConnectionRefusedError" in run(f"print(ask({other}))")
            worker.request({"op": "relay", "ports": {}}, deadline=time.monotonic() + 10)
            relays.sync(set())
            assert "echo" not in run(f"print(ask({port}))")
    finally:
        stop.set()
        relays.close()
        server.close()
        shutil.rmtree(scratch, ignore_errors=True)


def test_simulated_machines_are_repeated_and_other_patches_are_not():
    """A patch by a plain value is repeated where the function runs; a recording function
    cannot be, so the check stays where its patch is."""
    watch_checker_environment()
    with mock.patch.object(torch.cuda, "is_available", return_value=True):
        specs = patches_to_forward()
    assert specs == [{"module": "torch.cuda", "attribute": "is_available",
                      "return_value": True}]
    before = torch.cuda.is_available()
    context, _ = wire._patched(specs)
    with context:
        assert torch.cuda.is_available() is True
    assert torch.cuda.is_available() is before
    with mock.patch.object(os, "replace", lambda a, b: None), pytest.raises(Fallback):
        patches_to_forward()
    # A mock wrapping the original: repeated there, its calls copied into ours.
    with mock.patch.object(os, "replace", wraps=os.replace) as ours:
        specs = patches_to_forward()
        assert specs == [{"module": "os", "attribute": "replace", "wraps": True}]
        with mock.patch.object(os, "replace", ours._mock_wraps):  # as in the sandbox
            context, watched = wire._patched(specs)
            with context:
                try:
                    os.replace("/nonexistent-a", "/nonexistent-b")
                except OSError:
                    pass
        calls = [[[wire._call_argument(a) for a in c.args], {}]
                 for c in watched[0].call_args_list]
        record_calls(specs, [calls])
        assert ours.call_args_list == [mock.call("/nonexistent-a", "/nonexistent-b")]


def test_module_settings_never_carry_hooks_or_internals():
    """One rule for what a layer's settings are: hooks, internals and dunders never cross,
    even in a description forged to carry them."""
    assert wire.is_setting("in_channels") and wire.is_setting("_reversed_padding_repeated_twice")
    for key in ("_forward_hooks", "_parameters", "training", "__class__",
                "_state_dict_pre_hooks", "_load_state_dict_post_hooks"):
        assert not wire.is_setting(key), key
    local = _LocalModels()
    part = local.models.keep_model(nn.Sequential(nn.Linear(2, 2)), {})
    description = wire.decode(*wire.encode(part, objects=False), objects=False)
    leaf = description["description"]["children"][0][1]
    leaf["settings"]["_forward_hooks"] = {1: "not a function"}
    model = mirror(local, description, {})
    assert not model[0]._forward_hooks and model[0].in_features == 2


def test_the_sandbox_is_told_the_lesson_data_file_by_the_lesson_name():
    """The sandbox passes $COURSE_PNEUMONIAMNIST on under the name lesson 05 reads."""
    from autograder.sandbox import DATA_FILE_ENV
    from course_utils.learning.medmnist import PATH_ENV

    assert DATA_FILE_ENV == PATH_ENV
