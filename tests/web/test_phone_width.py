"""Hearth on a phone, in real Chromium: on a 375 px and a 320 px wide screen no tab scrolls sideways.

Every tab is visited with its full content on show: a model trained for one epoch (so Evaluate has
its confusion matrix and Predict its probability bars for a drawn seven), the Models table and the
Notes format menu (both there from the start). Wide content may scroll inside its own box (a
table does); the page itself must not. A failing tab's screenshot goes to test-results/screenshots/.
"""

from __future__ import annotations

import pytest

from tests.conftest import wait_ready
from tests.web.ui_steps import HEADINGS, SEVEN, WAIT_MS, draw, open_tab, see, shot, train

pytestmark = pytest.mark.browser

WIDTHS = (375, 320)  # a common phone, and the narrowest one still sold

MEASURE = """() => ({
  page: document.documentElement.scrollWidth,
  body: document.body.scrollWidth,
  screen: window.innerWidth,
})"""


@pytest.fixture
def browser_context_args(browser_context_args):
    """A phone from the first paint: the app is laid out at this width, not squeezed into it later."""
    return {**browser_context_args, "viewport": {"width": WIDTHS[0], "height": 800}}


def too_wide(page) -> str:
    """What scrolls sideways on this tab ('' when nothing does). Re-read a few times: Panel may still
    be laying out a tab just drawn, and only what stays too wide is a fault."""
    for _ in range(20):
        width = page.evaluate(MEASURE)
        faults = [f"{what} is {width[what]} px wide" for what in ("page", "body") if width[what] > width["screen"]]
        if not faults:
            return ""
        page.wait_for_timeout(100)
    return ", ".join(faults) + f" on a {width['screen']} px screen"


def right_edge(locator) -> float:
    box = locator.bounding_box()
    assert box is not None, "not on the page"
    return box["x"] + box["width"]


def test_no_tab_scrolls_sideways_on_a_phone(page, site):
    page.set_default_timeout(WAIT_MS)
    wait_ready(page, site.url)
    assert train(page, 1)[-1].startswith("Done"), "training one epoch did not finish"
    open_tab(page, "Predict")
    draw(page, SEVEN)
    see(page, "It looks like")

    faults = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        for name in HEADINGS:
            open_tab(page, name)
            fault = too_wide(page)
            if fault:
                faults.append(f"{name} at {width} px: {fault} ({shot(page, f'phone-{width}-{name.lower()}').name})")

        # What was cut off before: the Notes format menu is whole on screen, and the Models table
        # stays inside the screen (scrolling in its own box when its columns do not fit).
        open_tab(page, "Notes")
        if right_edge(page.get_by_label("Note format", exact=True)) > width:
            faults.append(f"the Note format menu runs off a {width} px screen")
        open_tab(page, "Models")
        table = page.locator(".hearth-table").first
        table.wait_for(state="visible")
        if table.evaluate("t => t.parentElement.getBoundingClientRect().right") > width:  # the box it scrolls in
            faults.append(f"the Models table's box runs off a {width} px screen")
    assert not faults, "wider than the screen:\n" + "\n".join(faults)
