"""Shared fixtures: the built site, a local server for it, and real Chromium through pytest-playwright.

Browser tests use Debian's chromium (/usr/bin/chromium); Playwright's own browser downloads are
never used. Every request a page makes is logged (`requests` on the page fixture), and requests
to any host other than the site's origin are blocked and recorded, so tests can assert on them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sitebuild.server import SiteServer  # noqa: E402

DIST = REPO / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run", "--disable-default-apps", "--disable-extensions",
    # WebGPU runs on SwiftShader here (slow but correct), so the WebGPU path is tested for real.
    "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=swiftshader", "--use-webgpu-adapter=swiftshader",
    # A fake camera and auto-accepted permission prompt for webcam capture.
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]
# Boot can take long on a busy 2-core machine; waiting is not a time limit on behaviour.
BOOT_WAIT_MS = 240_000


@pytest.fixture(scope="session")
def dist() -> Path:
    if not (DIST / "index.html").exists():
        from sitebuild.site import build

        build()
    return DIST


@pytest.fixture(scope="session")
def site(dist: Path):
    with SiteServer(dist) as server:
        yield server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "service_workers": "allow"}


class RequestLog:
    """Every request the page and its workers made, and the ones that left the origin (blocked)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.all: list[str] = []
        self.foreign: list[str] = []

    def route(self, route) -> None:
        url = route.request.url
        self.all.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()


@pytest.fixture
def requests_log(context, site) -> RequestLog:
    log = RequestLog(site.url.rstrip("/"))
    context.route("**/*", log.route)
    return log


@pytest.fixture
def console(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    return messages


def wait_ready(page, url: str) -> None:
    page.goto(url)
    # A locator, not wait_for_function: the page's CSP (rightly) forbids the eval the latter uses.
    page.locator("html[data-ready='true'], #boot-error:visible").first.wait_for(state="attached", timeout=BOOT_WAIT_MS)
    error = page.locator("#boot-error")
    assert not error.is_visible(), f"Hearth failed to start: {error.inner_text()}"


def python(page, code: str):
    """Run Python in the app's worker and return its (JSON-able) result."""
    return page.evaluate("code => window.hearth.python(code)", code)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A full-page screenshot of a failing browser test, in test-results/screenshots/."""
    rep = yield
    page = getattr(item, "funcargs", {}).get("page")
    if rep.when == "call" and rep.failed and page is not None:
        out = REPO / "test-results" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(out / f"{item.name}.png"), full_page=True)
        except Exception:  # the page may have crashed; the failure itself is what matters
            pass
    return rep


os.environ.setdefault("PYTHONHASHSEED", "0")
