"""Model downloads in Chromium against a local server laid out like Hugging Face (`/REPO/resolve/main/PATH`,
ETag = sha256, HTTP Range): progress, resume after an interrupted transfer, a tampered file, a full quota."""

import hashlib
import json
import socket
import time

import numpy as np
import pytest

from sitebuild.server import Handler, SiteServer
from tests.conftest import python, wait_ready

pytestmark = pytest.mark.browser

REPO_PATH = "/hf/onnx-community/Tiny-Test/resolve/main/"
MODEL = np.random.default_rng(0).integers(0, 256, 3_000_000, dtype=np.uint8).tobytes()
CONFIG = json.dumps({"model_type": "llama", "hidden_size": 64}).encode()
FILES = {"config.json": CONFIG, "onnx/model_q4.onnx": MODEL}


class HubMirror(Handler):
    """Serves FILES under REPO_PATH like the Hub does; `mode` can break transfers on purpose."""

    mode = {"interrupt_once": False, "tamper": False}
    ranges: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if not self.path.startswith(REPO_PATH):
            return super().do_GET()
        name = self.path[len(REPO_PATH):].split("?")[0]
        data = FILES.get(name)
        if data is None:
            self.send_error(404)
            return
        etag = hashlib.sha256(data).hexdigest()
        if self.mode["tamper"] and name.endswith(".onnx"):
            data = data[:1000] + b"X" + data[1001:]
        start = 0
        if self.headers.get("Range"):
            self.ranges.append(self.headers["Range"])
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{etag}"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if self.mode["interrupt_once"] and name.endswith(".onnx"):
            self.mode["interrupt_once"] = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(1.0)  # let the first half reach the browser, as on a real network, before the drop
            self.connection.shutdown(socket.SHUT_RDWR)  # the network drops mid-file
            return
        self.wfile.write(body)


def _manifest(pin: bool = True) -> list[dict]:
    return [{"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest() if pin else None}
            for p, d in FILES.items()]


def _download(page, model_id: str, manifest: list[dict]) -> dict:
    code = f"""
from hearth.runtime.browser import Download, StoreError, store_list
events = []
d = Download({model_id!r}, {REPO_PATH!r}, {manifest!r}, on_progress=events.append)
try:
    stored = await d.run()
    result = {{"ok": True, "stored": stored}}
except StoreError as error:
    result = {{"ok": False, "kind": error.kind, "message": str(error), "stored": await store_list()}}
result["events"] = len(events)
result["last"] = events[-1] if events else None
result
"""
    return python(page, code)


@pytest.fixture
def hub(dist):
    HubMirror.mode.update(interrupt_once=False, tamper=False)
    HubMirror.ranges.clear()
    with SiteServer(dist, handler=HubMirror) as server:
        yield server


def _model(stored: list[dict], model_id: str) -> dict:
    return next(m for m in stored if m["id"] == model_id)


def test_download_with_progress_then_read_and_delete(page, hub):
    wait_ready(page, hub.url)
    result = _download(page, "tiny", _manifest())
    assert result["ok"], result
    assert result["events"] >= 2
    assert result["last"]["done"] == result["last"]["total"] == len(MODEL) + len(CONFIG)
    files = {f["path"]: f for f in _model(result["stored"], "tiny")["files"]}
    assert files["onnx/model_q4.onnx"]["size"] == len(MODEL) and not files["onnx/model_q4.onnx"]["partial"]
    config = python(page, "from hearth.runtime.browser import store_read\n"
                          "(await store_read('tiny', 'config.json')).decode()")
    assert json.loads(config) == {"model_type": "llama", "hidden_size": 64}
    left = python(page, "from hearth.runtime.browser import store_list, store_remove\n"
                        "await store_remove('tiny')\n[m['id'] for m in await store_list()]")
    assert "tiny" not in left


def test_interrupted_download_resumes_with_range(page, hub):
    wait_ready(page, hub.url)
    HubMirror.mode["interrupt_once"] = True
    first = _download(page, "resume", _manifest())
    assert not first["ok"] and first["kind"] == "network", first
    assert "resumes where it stopped" in first["message"]
    partial = [f for f in _model(first["stored"], "resume")["files"] if f["partial"]]
    assert partial and 0 < partial[0]["size"] < len(MODEL)
    second = _download(page, "resume", _manifest())
    assert second["ok"], second
    assert HubMirror.ranges and HubMirror.ranges[-1] == f"bytes={partial[0]['size']}-"
    files = {f["path"]: f for f in _model(second["stored"], "resume")["files"]}
    assert files["onnx/model_q4.onnx"]["size"] == len(MODEL)


def test_tampered_file_is_refused_and_deleted(page, hub):
    wait_ready(page, hub.url)
    HubMirror.mode["tamper"] = True
    result = _download(page, "tampered", _manifest())
    assert not result["ok"] and result["kind"] == "integrity", result
    assert "expected " + hashlib.sha256(MODEL).hexdigest() in result["message"]
    files = [f["path"] for m in result["stored"] if m["id"] == "tampered" for f in m["files"]]
    assert "onnx/model_q4.onnx" not in files and "onnx/model_q4.onnx.part" not in files


def test_server_etag_catches_tampering_even_without_a_pin(page, hub):
    wait_ready(page, hub.url)
    HubMirror.mode["tamper"] = True
    result = _download(page, "etag", _manifest(pin=False))
    assert not result["ok"] and result["kind"] == "integrity", result
    assert "server says " + hashlib.sha256(MODEL).hexdigest() in result["message"]


def test_model_larger_than_the_quota_is_explained_before_downloading(page, hub):
    """The browser grants this site a real quota (~10 GB here); a model that cannot fit is refused
    up front with what to do, and nothing is downloaded."""
    wait_ready(page, hub.url)
    manifest = _manifest()
    manifest[1]["size"] = 80 * 10**9
    result = _download(page, "big", manifest)
    assert not result["ok"] and result["kind"] == "quota", result
    assert "Not enough storage" in result["message"] and "side-load" in result["message"]
    assert result["events"] == 0
    assert not [m for m in result["stored"] if m["id"] == "big" and m["files"]]
