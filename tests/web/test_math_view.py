"""The Build page's math view in Chromium: every layer kind typeset by the site's own KaTeX, offline."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_ready
from tests.web.ui_steps import WAIT_MS, open_tab, python, see, shot

pytestmark = pytest.mark.browser

# Every layer kind the engine has, in one stack that fits the digits (8 x 8 x 1, 10 classes).
EVERY_KIND = [
    {"type": "conv2d", "filters": 2, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "batchnorm"}, {"type": "maxpool2d", "size": 2}, {"type": "avgpool2d", "size": 2, "stride": 1},
    {"type": "layernorm"}, {"type": "leaky_relu"}, {"type": "elu"}, {"type": "gelu"}, {"type": "sigmoid"},
    {"type": "tanh"}, {"type": "relu"}, {"type": "softmax"}, {"type": "flatten"},
    {"type": "reshape", "shape": [3, 3, 2]}, {"type": "flatten"}, {"type": "dropout", "rate": 0.2},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def test_math_view_typesets_every_layer_kind_offline(page, context, site, requests_log, console):
    page.set_default_timeout(WAIT_MS)
    wait_ready(page, site.url)
    # "Ready offline": this deployment's app part (KaTeX with it) is stored and its service worker is in
    # charge; from here on nothing needs the network.
    page.locator("#offline-mark[data-state='ready']").wait_for(timeout=WAIT_MS)
    page.evaluate("""async () => {
        while (!navigator.serviceWorker.controller) await new Promise(r => setTimeout(r, 50));
    }""")
    context.set_offline(True)

    open_tab(page, "Build")
    python(page, "from hearth.app.shell import APP\n"
                 f"APP.build.set_layers({json.dumps(EVERY_KIND)})\n"
                 "APP.state.spec_draft_ok")
    see(page, "The network works")
    page.get_by_role("button", name="Show the math").click()
    sections = page.locator(".hearth-math-layer")
    sections.nth(len(EVERY_KIND) - 1).locator(".katex-display").first.wait_for()
    assert sections.count() == len(EVERY_KIND)
    kinds = {layer["type"] for layer in EVERY_KIND}
    assert kinds == set(python(page, "from hearth.train.layers import LAYERS\nsorted(LAYERS)"))
    for i in range(len(EVERY_KIND)):  # each layer has its formula typeset, not left as LaTeX source
        assert sections.nth(i).locator(".katex-display .katex-html").count() >= 1, EVERY_KIND[i]
    assert page.locator(".hearth-math .katex-error").count() == 0
    assert page.locator(".hearth-math code.hearth-tex").count() == 0
    # beginner mode: one line per symbol, itself typeset
    assert sections.first.locator(".hearth-math-symbols li .katex").count() >= 5
    assert "the filters, learned in training" in sections.first.inner_text()
    # KaTeX's own fonts came from the site's cache: its glyphs, not a fallback font
    fonts = page.evaluate("""async () => {
        await document.fonts.ready;
        return [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family);
    }""")
    assert any("KaTeX_Main" in f for f in fonts), fonts
    assert any("KaTeX_Math" in f for f in fonts), fonts
    shot(page, "30-math-view")

    # expert mode drops the explanations; the formulas stay
    page.get_by_role("button", name="Expert", exact=True).click()
    sections.first.locator(".hearth-math-symbols").wait_for(state="detached")
    assert sections.count() == len(EVERY_KIND)

    assert requests_log.foreign == []
    assert not [m for m in console if m.startswith("pageerror")], console
