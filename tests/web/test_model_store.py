"""Model downloads in Chromium against a local server laid out like Hugging Face (`/REPO/resolve/main/PATH`,
ETag = sha256, HTTP Range): progress, resume after an interrupted transfer, a tampered file, a full quota."""

import hashlib
import json

import numpy as np
import pytest

from tests.conftest import python, wait_ready
from tests.web.hub_mirror import HubMirror, hub_mirror

pytestmark = pytest.mark.browser

REPO_PATH = "/hf/onnx-community/Tiny-Test/resolve/main/"
MODEL = np.random.default_rng(0).integers(0, 256, 3_000_000, dtype=np.uint8).tobytes()
CONFIG = json.dumps({"model_type": "llama", "hidden_size": 64}).encode()
FILES = {"config.json": CONFIG, "onnx/model_q4.onnx": MODEL}
FILES_EXTRA: dict[str, bytes] = {}  # served under another repository path by tests that need a real model
EXTRA_PATH = "/hf/onnx-community/Tiny-External/resolve/main/"


def _manifest(pin: bool = True) -> list[dict]:
    return [{"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest() if pin else None}
            for p, d in FILES.items()]


def _download(page, model_id: str, manifest: list[dict], repo_path: str = REPO_PATH) -> dict:
    code = f"""
from hearth.runtime.browser import Download, StoreError, store_list
events = []
d = Download({model_id!r}, {repo_path!r}, {manifest!r}, on_progress=events.append)
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
    with hub_mirror(dist, {"onnx-community/Tiny-Test": FILES, "onnx-community/Tiny-External": FILES_EXTRA}) as server:
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


PROMPTS = [[1, *range(10, 40)], [1, *range(10, 30), 600, 601, 602]]  # the second shares 21 tokens with the first


def _tiny_decoder_with_external_data() -> tuple[dict[str, bytes], list[list[int]]]:
    """A small random Llama (4-bit layers, 8-bit tied embedding, lm_head in 3 vocabulary chunks) with its
    weights in model_q4.onnx_data, and its greedy tokens on CPython onnxruntime."""
    import asyncio
    import concurrent.futures

    from hearth.graph.external import split_external
    from hearth.llm.model.config import LlamaConfig
    from hearth.llm.model.decoder import build_decoder
    from hearth.llm.model.generate import Decoder, GenerationSettings
    from hearth.runtime import get_runtime
    from tests.llm.model_fixtures import random_quantized_weights, small_quantized_hf_config

    hf = small_quantized_hf_config(640)
    c = LlamaConfig.from_hf(hf)
    model = build_decoder(random_quantized_weights(hf, 3), weights_mode="nbits", head_chunk_rows=256)
    graph, data = split_external(model, "model_q4.onnx_data")

    async def greedy() -> list[list[int]]:
        rt = get_runtime()
        decoder = Decoder(await rt.session(model, "cpu"), c, rt, reuse_prompt=False)
        return [[tok async for tok in decoder.generate(prompt, GenerationSettings(max_new_tokens=12), stop_ids=[])]
                for prompt in PROMPTS]

    files = {"config.json": json.dumps(hf).encode(), "onnx/model_q4.onnx": graph, "onnx/model_q4.onnx_data": data}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's event loop runs in this thread
        return files, pool.submit(asyncio.run, greedy()).result()


def test_stored_model_with_external_data_is_read_range_by_range_and_runs(page, hub):
    """A downloaded model's weights file goes from storage to onnxruntime-web one weight at a time (no
    whole copy in memory: web/range-file.js) and the model writes the same tokens as on CPython; a
    second prompt that starts like the first reads only what differs, and writes the same tokens too."""
    files, expected = _tiny_decoder_with_external_data()
    FILES_EXTRA.update(files)
    try:
        wait_ready(page, hub.url)
        manifest = [{"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for p, d in files.items()]
        assert _download(page, "ext", manifest, EXTRA_PATH)["ok"]
        result = python(page, """
import json
from hearth.runtime import get_runtime
from hearth.runtime.browser import store_read
from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.generate import Decoder, GenerationSettings, GenerationStats
rt = get_runtime()
session = await rt.session("store:ext/onnx/model_q4.onnx", "wasm")
config = LlamaConfig.from_hf(json.loads((await store_read("ext", "config.json")).decode()))
decoder = Decoder(session, config, rt)
tokens, reused = [], []
for prompt in PROMPTS:
    stats = GenerationStats()
    tokens.append([t async for t in decoder.generate(prompt, GenerationSettings(max_new_tokens=12), stop_ids=[],
                                                     stats=stats)])
    reused.append(stats.reused_prompt_tokens)
again = await rt.session("store:ext/onnx/model_q4.onnx", "wasm")  # the file's handle was let go
{"tokens": tokens, "reused": reused, "read": session.external_data, "again": again.external_data}
""".replace("PROMPTS", repr(PROMPTS)))
    finally:
        for name in files:
            FILES_EXTRA.pop(name, None)
    assert result["read"] == result["again"] == "by range"
    assert result["tokens"] == expected
    assert result["reused"] == [0, 21]
