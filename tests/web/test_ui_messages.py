"""What the Data, Build and Train pages say, in real Chromium: messages by their exact text.

A CSV that is malformed, a picture renamed .csv and a table with a text column are each named and
explained, with the data already loaded kept; Build and Train say the same thing about a stack that
cannot train; a preset's title never shows over other layers; the time left is not guessed at the
start of a run. One page is booted for the module and the tests run on it in order.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.web.ui_steps import (
    choose_csv,
    frame_log,
    open_app,
    open_tab,
    python,
    see_exactly,
    start_frame_log,
    train,
    use_builtin,
    use_preset,
)

pytestmark = pytest.mark.browser

KEPT = " The data you had (digits) is still loaded."
NOT_TEXT = "is a PNG image, not a table of text; choose a CSV file (a spreadsheet program saves one with Save as, CSV)."


@pytest.fixture(scope="module")
def ui(browser, site, browser_context_args):
    made = open_app(browser, site, browser_context_args)
    yield made
    made.context.close()


@pytest.fixture
def page(ui):
    """The module's page, under the name tests/conftest.py screenshots when a test fails."""
    return ui.page


def dataset_name(page) -> str:
    return python(page, "from hearth.app.shell import APP\nAPP.state.dataset.name")


def test_a_malformed_csv_is_named_and_keeps_the_data(page, ui, tmp_path):
    use_builtin(page, "digits")
    table = tmp_path / "malformed.csv"
    table.write_bytes(b"a,b,label\n1,2,x\n3,4,5,y\n5,6,x\n")
    choose_csv(page, table)
    see_exactly(page, "malformed.csv has the columns a, b, label. Choose the label column, then press Use this table.")
    page.get_by_role("button", name="Use this table").click()
    see_exactly(page, "Line 3 of malformed.csv has 4 values but the header has 3 columns; fix that line (look for a "
                      "missing or an extra comma)." + KEPT)
    assert dataset_name(page) == "digits"
    assert ui.problems == []


def test_a_picture_named_csv_is_not_text_and_keeps_the_data(page, ui, tmp_path):
    picture = io.BytesIO()
    Image.new("RGB", (16, 16), (40, 90, 200)).save(picture, format="PNG")
    renamed = tmp_path / "picture.csv"
    renamed.write_bytes(picture.getvalue())
    choose_csv(page, renamed)  # right after malformed.csv (the test before)
    see_exactly(page, f"picture.csv {NOT_TEXT}")
    page.get_by_role("button", name="Use this table").click()
    see_exactly(page, f"picture.csv {NOT_TEXT}{KEPT}")
    assert page.get_by_text("malformed.csv").filter(visible=True).count() == 0
    assert dataset_name(page) == "digits"
    assert ui.problems == []


def test_a_text_column_is_left_out_with_the_feature_picker(page, ui, tmp_path):
    table = tmp_path / "fruit.csv"
    table.write_text("size,colour,weight,kind\n" + "".join(
        f"{i},{'red' if i % 2 else 'blue'},{i * 1.5},{'a' if i % 3 else 'b'}\n" for i in range(12)))
    choose_csv(page, table)
    see_exactly(page, "fruit.csv has the columns size, colour, weight, kind. Choose the label column, then press Use "
                      "this table.")
    page.get_by_role("button", name="Use this table").click()
    see_exactly(page, "Column 'colour' is not numeric (line 2 has 'blue'); use it as the label, or leave it out of "
                      "the feature columns." + KEPT)
    assert dataset_name(page) == "digits"
    colour = page.get_by_label("colour", exact=True)
    assert colour.is_checked()
    colour.uncheck()
    page.get_by_role("button", name="Use this table").click()
    see_exactly(page, "Loaded fruit: 12 rows, 2 features (colour left out).")
    assert dataset_name(page) == "fruit"
    use_builtin(page, "digits")  # back to the data the tests after this one use
    assert ui.problems == []


def test_build_and_train_say_the_same_about_a_stack_that_cannot_train(page, ui):
    use_preset(page, "MLP")
    page.get_by_label("New layer").select_option(label="Convolution (conv2d)")
    page.get_by_role("button", name="Add layer").click()
    problem = ("Not ready: conv2d at position 4 needs a 3-D input, got (10,) from dense at position 3; give the input "
               "as [height, width, channels] or add a reshape layer before it. Start training is off until the "
               "network on the Build page works.")
    see_exactly(page, problem)
    assert page.get_by_text("last network that worked").filter(visible=True).count() == 0
    open_tab(page, "Train")
    see_exactly(page, problem)
    assert page.get_by_role("button", name="Start training").is_disabled()
    open_tab(page, "Build")
    page.locator(".hearth-layer").nth(3).get_by_role("button", name="Remove").click()
    see_exactly(page, "The network works: 3 layers, 4,810 parameters to learn.")
    open_tab(page, "Train")
    assert page.get_by_text("Not ready:").filter(visible=True).count() == 0
    assert page.get_by_role("button", name="Start training").is_enabled()
    assert ui.problems == []


def test_a_preset_title_never_shows_over_another_presets_layers(page, ui):
    open_tab(page, "Build")
    start_frame_log(page, {"title": ".hearth-preset-title", "layers": ".hearth-layer"})
    page.get_by_role("button", name="Small CNN", exact=True).click()
    see_exactly(page, "Small CNN for digits (8 × 8 × 1, 10 classes)")
    see_exactly(page, "The network works: 4 layers, 1,370 parameters to learn.")
    page.get_by_role("button", name="MLP", exact=True).click()
    see_exactly(page, "MLP for digits (8 × 8 × 1, 10 classes)")
    see_exactly(page, "The network works: 3 layers, 4,810 parameters to learn.")
    page.wait_for_timeout(300)  # a few more frames drawn after the last change
    frames = frame_log(page)
    titles = {"Small CNN for digits (8 × 8 × 1, 10 classes)": 4, "MLP for digits (8 × 8 × 1, 10 classes)": 3}
    # (a frame may draw the title's box a moment before its words: an empty title says nothing)
    shown = [(f["title"]["text"], f["layers"]["count"]) for f in frames if f["title"]["text"]]
    assert {title for title, _ in shown} == set(titles), frames
    assert all(count == titles[title] for title, count in shown), frames
    assert ui.problems == []


def test_no_time_left_is_shown_before_it_means_something(page, ui):
    use_preset(page, "MLP")
    open_tab(page, "Train")
    start_frame_log(page, {"progress": ".hearth-progress"})
    seen = train(page, 2)
    assert seen[-1].startswith("Done: 2 epochs"), seen
    lines = [f["progress"]["text"] for f in frame_log(page) if f["progress"]["count"]]
    progress = [line for line in lines if line.startswith("Epoch")]
    # the first line a frame showed (batch 1, unless the page drew two updates in one frame) has no estimate
    assert re.fullmatch(r"Epoch 1 of 2 · batch \d+ of 45 · loss \d+\.\d{3}", progress[0]), lines
    estimated = [line for line in progress if "left" in line]
    # an estimate comes, if at all, from a whole chunk (8 batches, one runtime call) after the first one
    assert all(not re.match(r"Epoch 1 of 2 · batch [1-8] of", line) for line in estimated), lines
    assert ui.problems == []
