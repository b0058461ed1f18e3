"""The offline spine in real Chromium: boot, the ONNX bridge on wasm and WebGPU, no foreign requests."""

import pytest

from tests.conftest import python, wait_ready

pytestmark = pytest.mark.browser


def test_app_becomes_ready_without_foreign_requests(page, site, requests_log, console):
    page.goto(site.url)
    # The shell shows before any Python runs.
    assert page.locator("#boot h1").inner_text() == "Starting Hearth"
    wait_ready(page, site.url)
    assert page.get_by_text("Welcome to Hearth").is_visible()
    assert page.evaluate("crossOriginIsolated") is True
    assert requests_log.foreign == [], f"requests left the origin: {requests_log.foreign}"
    assert not [m for m in console if m.startswith("pageerror")], console


def test_python_runs_onnx_on_wasm_with_right_numbers(page, site, requests_log):
    wait_ready(page, site.url)
    result = python(page, "from hearth.app.engine_check import check\nawait check('wasm')")
    assert result["provider"] == "wasm"
    assert result["max_abs_error"] < 1e-4
    assert result["ok"] is True
    assert requests_log.foreign == []
