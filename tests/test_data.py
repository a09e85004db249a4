"""The dataset registry and downloads, tested against a local HTTP server (no internet)."""

from __future__ import annotations

import errno
import hashlib
import http.server
import io
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from course_utils import data
from course_utils.data import (
    ChecksumMismatchError,
    DataFile,
    DatasetEntry,
    DownloadError,
    UnknownDatasetError,
)


def medmnist_bytes(seed: int = 0, n: int = 6, size: int = 8) -> bytes:
    """A small MedMNIST-format .npz file, as bytes."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, size, size)).astype(np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 2, (n, 1)).astype(np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@dataclass
class LocalServer:
    """A loopback HTTP server with good, corrupted, truncated, missing and slow files."""

    port: int
    files: dict[str, bytes]
    requests: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


def _handler(server: LocalServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

        def do_GET(self) -> None:
            name = self.path.lstrip("/").split("?")[0]
            server.requests.append(name)
            if name == "slow.npz":
                time.sleep(3.0)
            body = server.files.get(name.replace("slow", "good").replace("truncated", "good")
                                    .replace("corrupt", "good"))
            if body is None:
                self.send_error(404, "Not Found")
                return
            if name == "corrupt.npz":
                body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if name == "truncated.npz":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """Serve test files on 127.0.0.1 (a free port), stopped after the test."""
    state = LocalServer(port=0, files={"good.npz": medmnist_bytes()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def registry_for(server: LocalServer) -> dict[str, DatasetEntry]:
    """A registry whose entries point at the local server."""
    good = server.files["good.npz"]
    md5 = hashlib.md5(good).hexdigest()

    def entry(name: str, file_name: str, url_name: str, size: int | None = None) -> DatasetEntry:
        return DatasetEntry(
            name=name, title=f"test {name}", description="test data",
            files=(DataFile(file_name, server.url(url_name), f"md5:{md5}", size),),
            approx_size="1 kB", licence="CC0", citation="none", homepage="http://localhost",
        )

    return {
        "good": entry("good", "good.npz", "good.npz", len(good)),
        "corrupt": entry("corrupt", "data.npz", "corrupt.npz"),
        "truncated": entry("truncated", "data.npz", "truncated.npz"),
        "missing": entry("missing", "data.npz", "missing.npz"),
        "slow": entry("slow", "data.npz", "slow.npz"),
        "offline": DatasetEntry(
            name="offline", title="no server", description="nothing listens there",
            files=(DataFile("data.npz", "http://127.0.0.1:9/data.npz", f"md5:{md5}"),),
            approx_size="1 kB", licence="CC0", citation="none", homepage="http://localhost"),
    }


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# -- the registry itself -------------------------------------------------------------------------
def test_registry_has_the_course_datasets() -> None:
    assert data.dataset_names() == ["breastmnist_28", "ct_head_ge", "pneumoniamnist_28",
                                    "pneumoniamnist_64"]
    pneumonia = data.get_entry("pneumoniamnist_28")
    (file,) = pneumonia.files
    assert file.known_hash == "md5:28209eda62fecd6e6a2d98b1501bb15f"
    assert file.url.startswith("https://zenodo.org/records/10519652/files/pneumoniamnist.npz")
    assert "pneumoniamnist_64.npz" in data.get_entry("pneumoniamnist_64").files[0].url
    for entry in data.REGISTRY.values():
        assert entry.licence and entry.citation and entry.homepage and entry.approx_size
        for f in entry.files:
            algorithm, _, digest = f.known_hash.partition(":")
            assert {"md5": 32, "sha256": 64}[algorithm] == len(digest)
            assert re.fullmatch("[0-9a-f]+", digest)
            assert f.url.startswith("https://")


def test_ct_series_entry_matches_the_pinned_commit() -> None:
    entry = data.get_entry("ct_head_ge")
    assert len(entry.files) == 28
    assert [f.name for f in entry.files] == [f"{i:02d}.dcm" for i in range(1, 29)]
    commit = "d03e30e4c5c8ad07bf16422b96efc3e91e233dc5"
    for f in entry.files:
        assert f.url == (f"https://raw.githubusercontent.com/neurolabusc/dcm_qa_ct/{commit}/"
                         f"In/GE/{f.name}")
        assert f.known_hash.startswith("sha256:")
    assert entry.total_bytes is not None and 14_000_000 < entry.total_bytes < 15_500_000
    assert "BSD" in entry.licence


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                            ) -> None:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert data.cache_dir() == tmp_path
    assert data.dataset_dir("pneumoniamnist_28") == tmp_path / "pneumoniamnist_28"
    monkeypatch.delenv(data.DATA_DIR_ENV)
    assert data.cache_dir().name == "medical-image-course"


def test_unknown_names() -> None:
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'chestmnist'.*pneumonia"):
        data.get_entry("chestmnist")
    with pytest.raises(TypeError, match="must be a str"):
        data.get_entry(28)  # type: ignore[arg-type]
    with pytest.raises(UnknownDatasetError):
        data.fetch("nope")
    with pytest.raises(UnknownDatasetError):
        data.verify(["nope"])


# -- downloads -------------------------------------------------------------------------------------
def test_fetch_good_file_then_uses_the_cache(server: LocalServer, tmp_path: Path) -> None:
    registry = registry_for(server)
    lines: list[str] = []
    (path,) = data.fetch("good", cache=tmp_path, registry=registry, progress=False,
                         report=lines.append)
    assert path == tmp_path / "good" / "good.npz"
    assert path.read_bytes() == server.files["good.npz"]
    assert data.is_cached("good", tmp_path, registry)
    assert server.requests == ["good.npz"] and "checksum OK" in lines[0]
    data.fetch("good", cache=tmp_path, registry=registry, progress=False, report=lines.append)
    assert server.requests == ["good.npz"]  # not downloaded again
    assert "already in the cache" in lines[1]
    assert data.verify(["good"], cache=tmp_path, registry=registry) == {
        "good": {"good.npz": "ok"}}


def test_a_damaged_cached_file_is_downloaded_again(server: LocalServer, tmp_path: Path
                                                    ) -> None:
    registry = registry_for(server)
    (path,) = data.fetch("good", cache=tmp_path, registry=registry, progress=False)
    path.write_bytes(b"damaged")
    status = data.verify(cache=tmp_path, registry=registry)
    assert status["good"]["good.npz"].startswith("corrupt (got md5:")
    assert status["missing"] == {"data.npz": "missing"}
    assert not data.is_cached("good", tmp_path, registry)
    data.fetch("good", cache=tmp_path, registry=registry, progress=False)
    assert path.read_bytes() == server.files["good.npz"]
    assert server.requests.count("good.npz") == 2


def test_corrupted_download_is_refused_and_leaves_nothing(server: LocalServer, tmp_path: Path
                                                          ) -> None:
    with pytest.raises(ChecksumMismatchError) as info:
        data.fetch("corrupt", cache=tmp_path, registry=registry_for(server), progress=False)
    message = str(info.value)
    assert "does not match the registry's checksum" in message and "Try again" in message
    assert "\n" not in message
    assert _files(tmp_path) == []


def test_truncated_download_leaves_nothing(server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises((DownloadError, ChecksumMismatchError)) as info:
        data.fetch("truncated", cache=tmp_path, registry=registry_for(server), progress=False)
    assert "\n" not in str(info.value)
    assert _files(tmp_path) == []


@pytest.mark.parametrize("name", ["corrupt", "truncated", "missing", "slow"])
def test_a_failed_download_leaves_no_folder_behind(server: LocalServer, tmp_path: Path,
                                                   name: str) -> None:
    """Are the cache folders a failed download created removed again (and others kept)?"""
    cache = tmp_path / "new" / "cache"
    with pytest.raises((DownloadError, ChecksumMismatchError)):
        data.fetch(name, cache=cache, registry=registry_for(server), progress=False, timeout=0.5)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    with pytest.raises((DownloadError, ChecksumMismatchError)):
        data.fetch(name, cache=tmp_path / "kept", registry=registry_for(server), progress=False,
                   timeout=0.5)
    assert [p.name for p in tmp_path.rglob("*")] == ["kept"]


def test_a_failed_download_keeps_a_dataset_folder_that_holds_files(server: LocalServer,
                                                                    tmp_path: Path) -> None:
    """Is a dataset folder that already held files left alone after a failure?"""
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ChecksumMismatchError):
        data.fetch("corrupt", cache=tmp_path, registry=registry_for(server), progress=False)
    assert _files(tmp_path) == ["notes.txt"]


def test_http_404(server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        data.fetch("missing", cache=tmp_path, registry=registry_for(server), progress=False)
    assert server.url("missing.npz") in str(info.value)
    assert _files(tmp_path) == []


def test_slow_server_times_out_in_bounded_time(server: LocalServer, tmp_path: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="sent nothing for 0.5 s"):
        data.fetch("slow", cache=tmp_path, registry=registry_for(server), progress=False,
                   timeout=0.5)
    assert time.perf_counter() - start < 2.5
    assert _files(tmp_path) == []


def test_no_network(server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="could not connect.*no network"):
        data.fetch("offline", cache=tmp_path, registry=registry_for(server), progress=False,
                   timeout=2)


def test_not_enough_disk_space(server: LocalServer, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    class Usage:
        free = 10

    monkeypatch.setattr(data.shutil, "disk_usage", lambda path: Usage())
    with pytest.raises(DownloadError, match="not enough disk space") as info:
        data.fetch("good", cache=tmp_path / "new", registry=registry_for(server),
                   progress=False)
    assert info.value.errno == errno.ENOSPC
    assert server.requests == []


def test_disk_full_while_writing(server: LocalServer, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    def full(*args: object, **kwargs: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pooch, "retrieve", full)
    with pytest.raises(DownloadError, match="disk is full") as info:
        data.fetch("good", cache=tmp_path, registry=registry_for(server), progress=False)
    assert "--cache-dir" in str(info.value)


def test_timeout_is_validated(server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timeout must be > 0"):
        data.fetch("good", cache=tmp_path, registry=registry_for(server), timeout=0)


def test_file_checksum(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    assert data.file_checksum(path, "md5") == hashlib.md5(b"abc").hexdigest()
    assert data.file_checksum(path) == hashlib.sha256(b"abc").hexdigest()
