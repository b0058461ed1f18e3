"""In real Chromium: a student turns on image augmentation and sees its preview, trains a small CNN
with it, and sees where the trained network looks (a Grad-CAM heat map) on the Evaluate page."""

from __future__ import annotations

import pytest

from tests.web.ui_steps import open_app, open_tab, python, see, shot, train, use_builtin, use_preset

pytestmark = pytest.mark.browser


@pytest.fixture
def ui(browser, site, browser_context_args):
    made = open_app(browser, site, browser_context_args)
    yield made
    made.context.close()


@pytest.fixture
def page(ui):
    """Under the name tests/conftest.py screenshots when a test fails."""
    return ui.page


def test_augmentation_preview_then_a_heat_map_of_the_trained_cnn(page, ui):
    use_builtin(page, "digits")
    use_preset(page, "Small CNN")
    open_tab(page, "Train")
    see(page, "Off: the network trains on the images as they are.")
    page.get_by_label("Rotate up to").select_option(label="±15°")
    page.get_by_label("Flip left to right").select_option(label="half the images")
    preview = page.locator(".hearth-augment-preview img")
    for title in ("As they are", "Rotated", "Flipped (about half)", "All together"):
        see(page, title, exact=True)
    preview.nth(23).wait_for()
    assert preview.count() == 24  # six training images in each of the four rows
    assert python(page, "from hearth.app.shell import APP\nAPP.state.config.augmentation") == \
        {"rotation": 15.0, "flip": True}
    shot(page, "explain-01-augmentation-preview")

    seen = train(page, 2)
    assert seen[-1].startswith("Done: 2 epochs"), seen

    open_tab(page, "Evaluate")
    page.get_by_label("Heat map for the class").select_option(label="the one it predicts")
    page.get_by_label("Map", exact=True).select_option(label="Per place (gradient × activation)")
    page.get_by_role("button", name="Show where it looks").click()
    see(page, "the map is for")
    heat = page.get_by_role("img", name="the heat map for", exact=False)
    heat.first.wait_for()
    assert page.locator(".hearth-gradcam img").count() == 3  # the input, the map, the two together
    shot(page, "explain-02-grad-cam")
    assert ui.log.foreign == [] and ui.problems == []
