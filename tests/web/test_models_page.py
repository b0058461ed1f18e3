"""The Models tab in Chromium against a local server laid out like the Hugging Face Hub
(`/hf/<repo>/resolve/<revision>/<path>`, ETag = sha256, HTTP Range), serving a real model (a copy of
the built-in SmolLM2 files): download with progress, a refused over-quota download, an interrupted
transfer resumed, a tampered file refused, chat with the downloaded model, side-load a folder, delete."""

import hashlib
import re

import pytest

from tests.conftest import wait_ready
from tests.web.hub_mirror import HubMirror, hub_mirror
from tests.web.test_chat_page import CAPITAL, answered, send, settings
from tests.web.ui_steps import WAIT_MS, open_tab, python, see, shot

pytestmark = pytest.mark.browser

REPO = "test/SmolLM2-135M-Instruct"
PATHS = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
         "onnx/model_q4_unpacked.onnx"]


MODEL_DIR_NAME = "smollm2-135m-instruct"  # the built-in model's files in dist/models/


@pytest.fixture
def hub(dist):
    model_dir = dist / "models" / MODEL_DIR_NAME
    with hub_mirror(dist, {REPO: {p: model_dir / p for p in PATHS}}, chunk_pause=0.004) as server:
        server.model_dir = model_dir
        yield server


def add_mirror_entry(page, hub, model_id: str, label: str) -> None:
    """A catalog entry for the mirrored model, pinned like a real one (sizes and sha256 of its files)."""
    files = [(p, (hub.model_dir / p).stat().st_size,
              hashlib.sha256((hub.model_dir / p).read_bytes()).hexdigest()) for p in PATHS]
    python(page, f"""
from hearth.llm.files import catalog
from hearth.app.shell import APP
catalog.add(catalog.CatalogModel(
    id={model_id!r}, label={label!r}, repo={REPO!r}, revision="0" * 40, onnx="onnx/model_q4_unpacked.onnx",
    backends=("wasm", "webgpu"), approx_bytes=99_000_000, license="Apache-2.0",
    files=tuple(catalog.CatalogFile(*f) for f in {files!r}), hub={hub.url.rstrip("/") + "/hf"!r},
    note="SmolLM2 from a local mirror with the Hub's layout."))
await APP.models_page.refresh()
""")


def pick_entry(page, label: str) -> None:
    page.get_by_label("Model to download").select_option(label=label)
    see(page, "every file checked against its pinned size and sha256")


def download_until_done(page) -> list[str]:
    """Click Download (or Resume) and note every progress line until the page says how it ended."""
    progress = page.locator(".hearth-download").first
    state = "from hearth.app.shell import APP\n[APP.models_page._download is None, APP.models_page.download_message.object]"
    # how it ended shows in the progress line or the message below it (a refusal empties the line again,
    # possibly before the first read here), so either differing from before the click tells it has run
    before = (progress.inner_text(), python(page, state)[1])
    page.locator("button", has_text=re.compile("^(Download|Resume download)$")).click()
    seen: list[str] = []
    steady = 0  # reads of the same text since the download ended: the page's last update reaches the DOM later
    for _ in range(WAIT_MS // 50):
        idle, message = python(page, state)
        text = progress.inner_text()
        done = idle and (text, message) != before
        steady = steady + 1 if done and seen and seen[-1] == text else 0
        if not seen or seen[-1] != text:
            seen.append(text)
        if done and steady >= 4:
            break
        page.wait_for_timeout(50)
    return seen


def stored(page) -> dict:
    return {m["id"]: m for m in python(page, "from hearth.runtime.browser import store_list\nawait store_list()")}


def test_download_quota_resume_then_chat(page, hub):
    wait_ready(page, hub.url)
    add_mirror_entry(page, hub, "smollm2-mirror", "SmolLM2-135M-Instruct (mirror)")
    open_tab(page, "Models")
    see(page, "Free space for this site:")
    pick_entry(page, "SmolLM2-135M-Instruct (mirror)")
    shot(page, "models-1-catalog")

    # Over quota: a model larger than what the browser really grants this site (~10 GB here) is refused
    # before a byte is stored. (Chromium ignores DevTools' quota override in Playwright's contexts, so the
    # model is made big rather than the quota small: its weights file is pinned at 80 GB.)
    python(page, """
from dataclasses import replace
from hearth.llm.files import catalog
from hearth.app.shell import APP
mirror = catalog.find("smollm2-mirror")
catalog.add(replace(mirror, id="huge", label="A model too big for this browser",
                    files=mirror.files[:-1] + (replace(mirror.files[-1], size=80 * 10**9),)))
await APP.models_page.refresh()
""")
    page.get_by_label("Model to download").select_option(label="A model too big for this browser")
    see(page, "Download: 80.00 GB")
    download_until_done(page)
    refused = see(page, "Not enough storage for this model").inner_text()
    assert "side-load" in refused and "huge" not in stored(page)
    shot(page, "models-2-over-quota")
    pick_entry(page, "SmolLM2-135M-Instruct (mirror)")

    # The network drops halfway through the weights: a clear message, the part kept, resumed with a Range request.
    HubMirror.mode["interrupt_once"] = True
    download_until_done(page)
    see(page, "was interrupted")
    see(page, "incomplete: download again to resume")
    part = next(f for f in stored(page)["smollm2-mirror"]["files"] if f["partial"])
    assert 0 < part["size"] < (hub.model_dir / PATHS[-1]).stat().st_size
    shot(page, "models-3-interrupted")
    seen = download_until_done(page)
    see(page, "SmolLM2-135M-Instruct (mirror) is on this device")
    assert HubMirror.ranges == [f"bytes={part['size']}-"]
    moving = [s for s in seen if re.search(r"MB of 98\.9 MB \(\d+%\) · [\d.]+ MB/s · .+ left", s)]
    assert moving, seen
    assert seen[-1] == "Downloaded SmolLM2-135M-Instruct (mirror)."
    assert "ready" in page.locator(".hearth-table").first.inner_text()
    shot(page, "models-4-downloaded")

    # The downloaded model chats like the built-in one: the same weights give the same greedy tokens.
    open_tab(page, "Chat")
    page.get_by_label("Model", exact=True).select_option(label="SmolLM2-135M-Instruct (mirror)")
    see(page, "SmolLM2-135M-Instruct (mirror): 98.9 MB, downloaded")
    settings(page, 0, CAPITAL["max_new_tokens"])
    send(page, CAPITAL["messages"][0]["content"])
    result = answered(page)
    assert python(page, "from hearth.app.shell import APP\nAPP.models.loaded_id") == "smollm2-mirror"
    assert result["ids"] == CAPITAL["greedy_ids"][: len(result["ids"])]
    see(page, "The capital of France is Paris.")
    shot(page, "models-5-chat-with-download")


def test_tampered_download_sideload_and_delete(page, hub, dist):
    wait_ready(page, hub.url)
    add_mirror_entry(page, hub, "smollm2-tampered", "SmolLM2 (tampered mirror)")
    open_tab(page, "Models")
    pick_entry(page, "SmolLM2 (tampered mirror)")
    HubMirror.mode["tamper"] = True
    download_until_done(page)
    message = see(page, "failed its check").inner_text()
    assert "tampered with" in message and "Download it again" in message
    files = [f["path"] for f in stored(page).get("smollm2-tampered", {"files": []})["files"]]
    assert not [f for f in files if f.startswith("onnx/")]  # the bad file is gone, not kept
    shot(page, "models-6-tampered")

    # Side-load: pick the model's folder on "this computer"; only the files it needs are copied.
    page.locator("input[data-hearth-pick='folder']").set_input_files(hub.model_dir)
    see(page, "Found a model folder with 1 ONNX file")
    page.get_by_label("Name", exact=True).fill("SmolLM2 copy")
    page.get_by_label("Name", exact=True).press("Tab")
    shot(page, "models-7-picked")
    page.get_by_role("button", name="Add to my models").click()
    see(page, "SmolLM2 copy is on this device")
    see(page, "SmolLM2 copy (side-loaded)")
    copy = stored(page)["smollm2-copy"]
    assert sorted(f["path"] for f in copy["files"]) == sorted(PATHS)  # manifest.json was not needed
    assert copy["info"]["source"] == "side-loaded"
    shot(page, "models-8-sideloaded")

    open_tab(page, "Chat")
    page.get_by_label("Model", exact=True).select_option(label="SmolLM2 copy (side-loaded)")
    settings(page, 0, 8)
    send(page, CAPITAL["messages"][0]["content"])
    ids = answered(page)["ids"]
    assert ids and ids == CAPITAL["greedy_ids"][: len(ids)]

    open_tab(page, "Models")
    page.get_by_label("Model to delete").select_option(label="SmolLM2 copy (side-loaded)")
    page.get_by_role("button", name="Delete", exact=True).click()
    see(page, "Deleted smollm2-copy")
    assert "smollm2-copy" not in stored(page)
    assert "SmolLM2 copy" not in page.locator(".hearth-table").first.inner_text()
    # What is left is what the site itself ships: the built-in model, and the note model where the build made it.
    built_in = ["smollm2"] + (["note"] if (dist / "models" / "smollm2-135m-notes").is_dir() else [])
    assert sorted(python(page, "from hearth.app.shell import APP\n[c.id for c in APP.models.choices]")) == sorted(built_in)
    shot(page, "models-9-deleted")
