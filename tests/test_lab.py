"""``make lab`` starts JupyterLab on the notebooks, headless, with this environment's kernel.

The test runs the real make target (``LAB_HEADLESS=1``, a token and a free port; ``-o`` skips
re-installing the environment), waits until the server answers on 127.0.0.1, checks that the
notebooks' ``python3`` kernel starts and is this environment's Python, and stops the server.
Nothing leaves the machine: the server's update and news checks are off.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOKEN = uuid.uuid4().hex
STARTUP_SECONDS = 90  # a first start on a busy 2-core machine; a normal start takes seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str | None = None, method: str = "GET", body: bytes | None = None):
    request = urllib.request.Request(url, data=body, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read() or b"null")


@pytest.fixture
def lab_server():
    """(base URL, process) of ``make lab`` on a free port; the server is stopped afterwards."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = Path(sys.prefix)
    port = _free_port()
    cmd = ["make", "-s", "-C", str(REPO), f"VENV={venv}", "-o", str(venv / ".installed-stamp"),
           "lab", "LAB_HEADLESS=1", f"LAB_TOKEN={TOKEN}", f"LAB_PORT={port}"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.fail(f"make lab exited with {proc.returncode} before answering:\n{output}")
            try:
                status, _ = _get(f"{base}/api")
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer on {base} within {STARTUP_SECONDS} s")
            time.sleep(0.3)
        yield base, proc
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop make and the server it started (their own process group, started for this)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    if proc.stdout and not proc.stdout.closed:
        proc.stdout.close()


def _kernel_executable(base: str, kernel_id: str) -> str:
    """Run ``sys.executable`` in the kernel over the server's websocket; return the answer."""
    from tornado import ioloop, websocket

    async def ask() -> str:
        url = f"{base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?token={TOKEN}"
        conn = await websocket.websocket_connect(url)
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                  "msg_type": "execute_request", "version": "5.3", "date": ""}  # fmt: skip
        code = "import sys; print(sys.executable, end='')"
        message = {"header": header, "parent_header": {}, "metadata": {}, "channel": "shell",
                   "content": {"code": code, "silent": False, "store_history": False,
                               "user_expressions": {}, "allow_stdin": False}}  # fmt: skip
        await conn.write_message(json.dumps(message))
        try:
            while True:
                reply = await conn.read_message()
                if reply is None:
                    raise RuntimeError("the kernel's websocket closed")
                data = json.loads(reply)
                if data.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if data["msg_type"] == "stream":
                    return data["content"]["text"]
                if data["msg_type"] == "error":
                    raise RuntimeError(data["content"])
        finally:
            conn.close()

    return ioloop.IOLoop.current().run_sync(ask, timeout=60)


def test_make_lab_serves_the_notebooks_with_this_environments_kernel_then_stops(lab_server):
    base, proc = lab_server
    status, specs = _get(f"{base}/api/kernelspecs", TOKEN)
    assert status == 200 and "python3" in specs["kernelspecs"], specs
    status, listing = _get(f"{base}/api/contents/notebooks", TOKEN)
    names = {item["name"] for item in listing["content"]}
    assert {"00_setup.ipynb", "03_synergistic_cores.ipynb"} <= names, names
    with pytest.raises(urllib.error.HTTPError) as denied:  # the token is required
        _get(f"{base}/api/contents/notebooks")
    assert denied.value.code == 403

    status, kernel = _get(
        f"{base}/api/kernels", TOKEN, "POST", json.dumps({"name": "python3"}).encode()
    )
    assert status == 201, kernel
    try:
        executable = _kernel_executable(base, kernel["id"])
    finally:
        _get(f"{base}/api/kernels/{kernel['id']}", TOKEN, "DELETE")
    assert Path(executable).resolve().parent == Path(sys.executable).resolve().parent, (
        f"the notebooks' kernel runs {executable}, not this environment's {sys.executable}"
    )

    _stop(proc)
    assert proc.returncode is not None
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _get(f"{base}/api")
