"""The first visit: what it costs on the wire, when Hearth says it is ready offline, what works offline
after it, and what the page does when a newer version is deployed while it is open.

Bytes are counted at the server (`SiteServer.bytes_sent`: status lines, headers and bodies), which
sends the build's gzip copies as a static host would; each test runs in a fresh browser context
(no HTTP cache, no service worker, no storage), as a first visit does.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections import Counter
from pathlib import Path

import pytest

from sitebuild.server import Handler, SiteServer
from sitebuild.site import load_sources, stamp
from tests.conftest import python, wait_ready
from tests.web.ui_steps import WAIT_MS, open_tab, see, shot, train, use_builtin, use_preset, wait_python

pytestmark = pytest.mark.browser

FIRST_VISIT_LIMIT = 40e6  # bytes: what a class of 30 on one connection can afford
MEASURED = Path(__file__).parents[2] / "test-results" / "first_visit.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoggedHandler(Handler):
    """Records every response's path (query left out) and status on its server's `log`."""

    def log_request(self, code="-", size="-") -> None:
        path = self._gzip_of_url or self.path.split("?")[0]
        self.server.log.append((path.lstrip("/"), int(getattr(code, "value", code))))

    def send_head(self):
        self._gzip_of_url = None
        result = super().send_head()
        if self._gzip_of is not None:  # logged under the file's own name, not its .gz copy's
            self._gzip_of_url = self.path.split("?")[0]
        return result


def serve(root: Path, port: int | None = None) -> SiteServer:
    server = SiteServer(root, port=port or _free_port(), handler=LoggedHandler)
    server.httpd.log = []
    return server.start()


def wait_ready_offline(page) -> str:
    """Wait for the quiet "Ready offline" mark; returns its tooltip (what is stored)."""
    mark = page.locator("#offline-mark[data-state='ready']")
    mark.wait_for(timeout=WAIT_MS)
    return mark.get_attribute("title")


def full_transfers(server: SiteServer) -> Counter:
    return Counter(path for path, code in server.httpd.log if code == 200)


def record(name: str, value) -> None:
    MEASURED.parent.mkdir(parents=True, exist_ok=True)
    seen = json.loads(MEASURED.read_text()) if MEASURED.exists() else {}
    seen[name] = value
    MEASURED.write_text(json.dumps(seen, indent=1))


def test_first_visit_is_small_and_says_when_it_is_ready_offline(page, dist):
    build = json.loads((dist / "build.json").read_text())
    server = serve(dist)
    try:
        wait_ready(page, server.url)
        tooltip = wait_ready_offline(page)
        # The page's background packages are in too: nothing the first visit needs is still coming.
        page.locator("html[data-ready='true']").wait_for(state="attached")
        wait_python(page, "import js\nbool(getattr(js, 'hearthLaterDone', False))", "the background packages")
        sent = server.bytes_sent
        transfers = full_transfers(server)
    finally:
        server.stop()
    record("first_visit_bytes", sent)
    print(f"first visit: {sent / 1e6:.1f} MB on the wire")
    assert sent <= FIRST_VISIT_LIMIT, f"the first visit transferred {sent / 1e6:.1f} MB"
    # Only what training needs; the language model and the WebGPU runtime wait for their first use.
    for part in ("language-model", "webgpu"):
        fetched = [p for p in build["parts"][part]["files"] if p in transfers]
        assert fetched == [], f"the first visit fetched {fetched}"
    # Nothing large went over the wire twice (once for the page, once for the service worker's cache).
    twice = [p for p, n in transfers.items() if n > 1 and build["sizes"].get(p, 0) > 100_000]
    assert twice == [], twice
    assert "Stored on this device" in tooltip and "Hearth: Python, building, training" in tooltip
    assert "Not yet stored" in tooltip and "SmolLM2-135M-Instruct" in tooltip
    # The Offline panel: every part, its size and state, and the browser's storage estimate.
    page.locator("#offline-mark").click()
    rows = page.locator("#offline-parts tr")
    assert rows.count() == len(build["parts"])
    app = page.locator("#offline-parts tr[data-part='app'] td").all_inner_texts()
    assert app[2] == "On this device" and app[1].endswith("MB")
    model = page.locator("#offline-parts tr[data-part='language-model'] td").all_inner_texts()
    assert model[2] == "Not yet" and model[1] == f"{build['parts']['language-model']['bytes'] / 1e6:.1f} MB"
    assert "This site stores" in page.locator("#offline-storage").inner_text()
    shot(page, "offline-panel-first-visit")


def test_after_one_visit_a_student_trains_evaluates_and_exports_offline(page, dist, tmp_path):
    page.set_default_timeout(WAIT_MS)
    server = serve(dist)
    try:
        wait_ready(page, server.url)
        wait_ready_offline(page)
    finally:
        server.stop()
    page.reload()
    page.locator("html[data-ready='true']").wait_for(state="attached")
    badge = page.locator("#device-badge")
    page.locator("html[data-network='offline'][data-stored='known']").wait_for(state="attached")
    assert badge.inner_text() == "Offline: training works"
    assert "Works: building, training, evaluating, predicting and exporting" in badge.get_attribute("title")
    assert "the built-in language model (98.9 MB)" in badge.get_attribute("title")
    wait_ready_offline(page)  # still stored, still said

    use_builtin(page, "digits")
    use_preset(page, "Small CNN")
    seen = train(page, 1)
    assert seen[-1].startswith("Done: 1 epoch"), seen
    open_tab(page, "Evaluate")
    page.locator(".hearth-confusion").wait_for()
    assert page.locator(".hearth-confusion tbody tr").count() == 10
    open_tab(page, "Export")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the project file").click()
    download.value.save_as(tmp_path / "offline.hearth")
    assert (tmp_path / "offline.hearth").stat().st_size > 1000

    # Chat and Notes before their model was ever used: a clear message, with the size, nothing broken.
    open_tab(page, "Chat")
    box = page.get_by_label("Your message")
    box.fill("Hello")
    box.press("Tab")
    page.get_by_role("button", name="Send").click()
    see(page, "is not on this device yet: download the model first (98.9 MB")
    assert box.input_value() == "Hello"  # what was typed is kept
    open_tab(page, "Notes")
    notes_box = page.get_by_label("Visit transcript")
    notes_box.fill("Doctor: How are you today?\nPatient: My left knee hurts when I walk.")
    notes_box.press("Tab")
    wait_python(page, "from hearth.app.shell import APP\nbool(APP.notes.transcript.value)", "the transcript")
    page.get_by_role("button", name="Draft note").click()
    see(page, "is not on this device yet: download the model first (98.9 MB")
    shot(page, "offline-notes-needs-the-model")


@pytest.mark.slow
def test_the_language_model_is_kept_on_first_use_and_then_works_offline(page, dist):
    """Chat's first use downloads the built-in model once, with its size and progress; after that
    Chat works with the server gone."""
    page.set_default_timeout(WAIT_MS)
    build = json.loads((dist / "build.json").read_text())
    onnx = next(p for p in build["parts"]["language-model"]["files"] if p.endswith(".onnx"))
    port = _free_port()
    server = serve(dist, port)
    try:
        wait_ready(page, server.url)
        wait_ready_offline(page)
        open_tab(page, "Chat")
        box = page.get_by_label("Your message")
        box.fill("Say hello.")
        box.press("Tab")
        page.get_by_role("button", name="Send").click()
        see(page, "Downloading SmolLM2-135M-Instruct (built in)")
        wait_python(page, "from hearth.app.shell import APP\nAPP.chat.last is not None and not APP.chat.generating",
                    "the first answer")
        assert full_transfers(server)[onnx] == 1  # fetched once: kept, then loaded from what was kept
        assert "Downloading" not in page.locator(".hearth-chat, body").first.inner_text()
    finally:
        server.stop()
    page.reload()
    page.locator("html[data-network='offline'][data-stored='known']").wait_for(state="attached")
    assert page.locator("#device-badge").inner_text() == "Offline: everything stored works"
    open_tab(page, "Chat")
    box = page.get_by_label("Your message")
    box.fill("Say hello again.")
    box.press("Tab")
    page.get_by_role("button", name="Send").click()
    wait_python(page, "from hearth.app.shell import APP\nAPP.chat.last is not None and not APP.chat.generating",
                "the offline answer")
    assert python(page, "from hearth.app.shell import APP\nlen(APP.chat.last.token_ids)") > 0


def test_a_new_deployment_while_a_tab_is_open_is_offered_never_mixed(page, dist, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(dist, site)
    server = serve(site)
    try:
        wait_ready(page, server.url)
        wait_ready_offline(page)
        old = page.evaluate("document.documentElement.dataset.version")
        # Deploy a new version under the open tab: one changed file is a new version of the whole site.
        with open(site / "hearth.css", "a") as f:
            f.write("\n/* deployment 2 */\n")
        new = stamp(site, load_sources())
        assert new != old
        page.evaluate("window.hearth.checkConnection()")  # what the page does on its own every few minutes
        banner = page.locator("#update-banner")
        banner.wait_for(state="visible", timeout=WAIT_MS)
        assert "new version of Hearth" in banner.inner_text()
        # Until the visitor reloads, the open tab keeps getting its own version's files.
        css = page.evaluate("async () => (await (await fetch('hearth.css')).text())")
        assert "deployment 2" not in css
        assert page.evaluate("document.documentElement.dataset.version") == old
        page.get_by_role("button", name="Reload").click()
        page.locator(f"html[data-version='{new}'][data-ready='true']").wait_for(state="attached", timeout=WAIT_MS)
        css = page.evaluate("async () => (await (await fetch('hearth.css')).text())")
        assert "deployment 2" in css
        names = sorted(page.evaluate("async () => await caches.keys()"))
        assert f"hearth-app-{new}" in names and f"hearth-app-{old}" not in names
        assert page.locator("#update-banner").is_hidden()
    finally:
        server.stop()
