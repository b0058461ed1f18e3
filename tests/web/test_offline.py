"""After one visit Hearth works with the server gone; a new deployment replaces the old one cleanly."""

import shutil
import socket

import pytest

from sitebuild.server import SiteServer
from sitebuild.site import load_sources, stamp
from tests.conftest import python, wait_ready

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_offline_ready(page) -> str:
    """Wait until the page says "Ready offline": this deployment is stored and its service worker controls the page."""
    page.locator("#offline-mark[data-state='ready']").wait_for(timeout=240_000)
    return page.evaluate("""async () => {
        while (!navigator.serviceWorker.controller) await new Promise(r => setTimeout(r, 50));
        return (await caches.keys()).join(",");
    }""")


def _cache_names(page) -> list[str]:
    return sorted(page.evaluate("async () => await caches.keys()"))


def test_reload_with_server_stopped(page, dist):
    port = _free_port()
    server = SiteServer(dist, port=port).start()
    wait_ready(page, server.url)
    version = page.evaluate("document.documentElement.dataset.version")
    assert f"hearth-app-{version}" in _wait_offline_ready(page)
    server.stop()
    page.reload()
    page.locator("html[data-ready='true']").wait_for(state="attached", timeout=240_000)
    assert page.evaluate("document.documentElement.dataset.version") == version
    # Python and ONNX Runtime still work offline.
    assert python(page, "from hearth.app.engine_check import check\nawait check('wasm')")["ok"] is True


def test_new_deployment_replaces_old_caches(page, dist, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(dist, site)
    port = _free_port()
    with SiteServer(site, port=port) as server:
        wait_ready(page, server.url)
        old = page.evaluate("document.documentElement.dataset.version")
        _wait_offline_ready(page)
        assert f"hearth-app-{old}" in _cache_names(page)
        # Deploy a new version: one changed file gives a new version for the whole site.
        with open(site / "hearth.css", "a") as f:
            f.write("\n/* deployment 2 */\n")
        new = stamp(site, load_sources())
        assert new != old
        page.reload()
        wait_ready(page, server.url)
        assert page.evaluate("document.documentElement.dataset.version") == new
        css = page.evaluate("async () => (await (await fetch('hearth.css')).text())")
        assert "deployment 2" in css
        names = _cache_names(page)
        assert f"hearth-app-{new}" in names
        assert f"hearth-app-{old}" not in names


def test_static_host_without_headers_still_gets_isolation(page, dist):
    """Hosts that cannot set COOP/COEP: the service worker adds them, so wasm threads still work."""
    with SiteServer(dist, port=_free_port(), headers=False) as server:
        wait_ready(page, server.url)
        assert page.evaluate("crossOriginIsolated") is True
        threads = python(page, "from js import hearthOrt\nawait hearthOrt.threads()")
        assert threads >= 2
