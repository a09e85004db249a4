"""`make lab` serves the course: start JupyterLab on loopback, fetch pages, stop it."""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode("utf-8", "replace")


def test_jupyterlab_serves_the_course(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
         "--ServerApp.port_retries=0"] + (["--allow-root"] if os.geteuid() == 0 else []),
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "lab.log").open("w"),
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path),
             "JUPYTER_CONFIG_DIR": str(tmp_path / "config")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, _ = _get(f"{base}/api/status", token)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "lab.log").read_text()
                assert time.monotonic() < deadline, "JupyterLab did not start within 90 s"
                time.sleep(0.5)
        status, page = _get(f"{base}/lab", token)
        assert status == 200 and "JupyterLab" in page
        status, listing = _get(f"{base}/api/contents/notebooks", token)
        names = {item["name"] for item in json.loads(listing)["content"]}
        assert "00_orientation.ipynb" in names
        status, body = _get(f"{base}/api/contents/notebooks/00_orientation.ipynb", token)
        assert json.loads(body)["type"] == "notebook"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
