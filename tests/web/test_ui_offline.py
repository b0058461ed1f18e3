"""After one visit the whole no-code flow works with the server stopped: data, build, train, predict, export."""

from __future__ import annotations

import socket

import pytest

from sitebuild.server import SiteServer
from tests.conftest import wait_ready
from tests.web.ui_steps import (
    SEVEN,
    WAIT_MS,
    draw,
    open_tab,
    python,
    see,
    shot,
    train,
    use_builtin,
    use_preset,
)

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_flow_works_with_the_server_stopped(page, dist, tmp_path):
    page.set_default_timeout(WAIT_MS)
    server = SiteServer(dist, port=_free_port()).start()
    try:
        wait_ready(page, server.url)
        page.locator("#offline-mark[data-state='ready']").wait_for()  # this deployment is stored and in charge
    finally:
        server.stop()
    failed: list[str] = []
    # The page's own "is the network there?" probe fails offline by design; nothing else may.
    page.on("requestfailed", lambda r: "hearth-probe=" not in r.url and failed.append(r.url))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.reload()
    page.locator("html[data-ready='true']").wait_for(state="attached")

    use_builtin(page, "digits")  # the data file comes from the service worker's cache
    use_preset(page, "Small CNN")
    seen = train(page, 1)
    assert seen[-1].startswith("Done: 1 epoch"), seen
    shot(page, "20-offline-trained")
    open_tab(page, "Predict")
    draw(page, SEVEN)
    see(page, "It looks like")
    shot(page, "21-offline-predict")
    open_tab(page, "Export")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the project file").click()
    download.value.save_as(tmp_path / "offline.hearth")
    assert (tmp_path / "offline.hearth").stat().st_size > 1000
    assert python(page, "from hearth.app.shell import APP\nAPP.state.trainer.epochs_done") == 1
    assert failed == [], failed
