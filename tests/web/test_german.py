"""The page in German, in real Chromium: chosen in the header, remembered, and a short flow that works.

Choosing Deutsch reloads the page (Python builds the interface once, in one language); the page
shell (index.html, web/boot.js) and the app (hearth.i18n in the worker) then speak German, training
a network included, and a reload keeps it. Choosing English brings the English page back. The words
checked are the catalog's (pysrc/hearth/i18n/de.json), so a changed translation is changed here too.
Screenshots go to test-results/screenshots/ (tests/conftest.py adds one when a test fails).
"""

from __future__ import annotations

import re

import pytest

from hearth.i18n import catalog
from tests.web.ui_steps import WAIT_MS, open_app, python, see, shot

pytestmark = pytest.mark.browser

DE = catalog("de")


@pytest.fixture(scope="module")
def ui(browser, site, browser_context_args):
    made = open_app(browser, site, browser_context_args, locale="en-US")
    yield made
    made.context.close()


@pytest.fixture
def page(ui):
    """The module's page, under the name tests/conftest.py screenshots when a test fails."""
    return ui.page


def choose_language(page, code: str) -> None:
    """Pick a language in the header's menu, as a visitor would; the page reloads into it."""
    menu = page.get_by_role("combobox", name=re.compile("^(Language|Sprache)$"))
    with page.expect_navigation(timeout=WAIT_MS):
        menu.select_option(code)
    ready(page)


def ready(page) -> None:
    page.locator("html[data-ready='true'], #boot-error:visible").first.wait_for(state="attached", timeout=WAIT_MS)
    assert not page.locator("#boot-error").is_visible(), page.locator("#boot-error").inner_text()


def tab_names(page) -> list[str]:
    return [name.strip() for name in page.locator(".bk-tab").all_inner_texts()]


def open_tab(page, name: str, heading: str) -> None:
    page.locator(".bk-tab").filter(has_text=re.compile(f"^{name}$")).click()
    page.locator(".bk-tab.bk-active").filter(has_text=re.compile(f"^{name}$")).wait_for()
    page.get_by_role("heading", name=heading, exact=True).wait_for()


def test_english_is_the_default(page):
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("#language").input_value() == "en"
    assert tab_names(page)[:4] == ["Home", "Data", "Build", "Train"]
    assert page.locator("#device-badge").inner_text() == "Runs on this device"


def test_choosing_deutsch_shows_the_page_in_german(page):
    choose_language(page, "de")
    assert page.evaluate("document.documentElement.lang") == "de"
    assert page.locator("#language").input_value() == "de"
    assert python(page, "from hearth.i18n import language\nlanguage()") == "de"
    # the tabs, the Home page and the header's badge, from the catalog
    assert tab_names(page) == [DE[name] for name in ("Home", "Data", "Build", "Train", "Evaluate", "Predict", "Export",
                                                     "Python", "Notes", "Chat", "Models")]
    assert tab_names(page)[:4] == ["Start", "Daten", "Bauen", "Trainieren"]
    page.get_by_role("heading", name="Willkommen bei Hearth", exact=True).wait_for()
    assert page.get_by_role("button", name=DE["Check the compute engine"]).is_visible()
    badge = page.locator("#device-badge")
    assert badge.inner_text() == DE["Runs on this device"] == "Läuft auf diesem Gerät"
    assert badge.get_attribute("title") == DE["Everything runs in this browser tab. Nothing you load or type is sent anywhere."]
    assert page.get_by_role("combobox", name="Sprache").is_visible()
    assert page.title() == DE["Hearth — machine learning that stays on your device"]
    # the worker's own JS messages (web/offline.js) are German too: it loaded the catalog
    error = python(page, "import js\nfrom pyodide.ffi import create_proxy\ntry:\n"
                         "    await js.hearthOffline.keep('app', create_proxy(lambda p: None), 'another-version')\n"
                         "except Exception as error:\n    said = str(error)\nsaid")
    assert DE["A newer version of Hearth was deployed: reload the page, then try again."] in error
    shot(page, "german-01-home")


def test_a_short_flow_works_in_german(page):
    open_tab(page, DE["Data"], DE["1. Data"])
    page.get_by_role("button", name=DE["Built-in"], exact=True).click()
    select = page.get_by_label(DE["Built-in dataset"])
    option = select.locator("option").filter(has_text=re.compile("^iris:"))
    option.wait_for(state="attached")
    assert option.inner_text() == "iris: " + DE["4 measurements of 150 iris flowers, 3 species"]
    select.select_option(label=option.inner_text())
    page.get_by_role("button", name=DE["Use this dataset"]).click()
    see(page, "iris geladen: 150 Beispiele.")

    open_tab(page, DE["Build"], DE["2. Build"])
    page.get_by_role("button", name=DE["MLP"], exact=True).click()
    see(page, "Das Netz funktioniert: 2 Schichten")
    shot(page, "german-02-build")

    open_tab(page, DE["Train"], DE["3. Train"])
    epochs = page.get_by_label(DE["Epochs"], exact=True)
    epochs.fill("1")
    epochs.press("Enter")
    progress = page.locator(".hearth-progress").first
    assert progress.inner_text() == DE["Not started."]
    page.get_by_role("button", name=DE["Start training"]).click()
    see(page, "Fertig: 1 Epoche in")
    assert python(page, "from hearth.app.shell import APP\nAPP.state.trainer.epochs_done") == 1
    shot(page, "german-03-trained")

    open_tab(page, DE["Evaluate"], DE["4. Evaluate"])
    see(page, DE["Confusion matrix"], exact=True)
    see(page, "Validierung: ")


def test_the_badge_speaks_german_offline(page, ui):
    ui.context.set_offline(True)
    try:
        page.evaluate("window.hearth.checkConnection()")
        badge = page.locator("#device-badge")
        assert badge.inner_text() in (DE["Offline"], DE["Offline: training works"], DE["Offline: everything stored works"])
        assert badge.get_attribute("title").startswith("Kein Netz: Hearth läuft aus der auf diesem Gerät gespeicherten Kopie.")
    finally:
        ui.context.set_offline(False)
    page.evaluate("window.hearth.checkConnection()")
    assert page.locator("#device-badge").inner_text() == "Läuft auf diesem Gerät"


def test_a_reload_keeps_german(page):
    page.reload()
    ready(page)
    assert page.evaluate("document.documentElement.lang") == "de"
    assert tab_names(page)[:4] == ["Start", "Daten", "Bauen", "Trainieren"]
    assert page.locator("#device-badge").inner_text() == "Läuft auf diesem Gerät"


def test_switching_back_to_english(page):
    choose_language(page, "en")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert python(page, "from hearth.i18n import language\nlanguage()") == "en"
    assert tab_names(page)[:4] == ["Home", "Data", "Build", "Train"]
    page.get_by_role("heading", name="Welcome to Hearth", exact=True).wait_for()
    assert page.locator("#device-badge").inner_text() == "Runs on this device"
    assert page.get_by_role("combobox", name="Language").is_visible()
    shot(page, "german-04-english-again")


def test_a_german_browser_starts_in_german(browser, site, browser_context_args):
    """No choice stored: a browser whose language is German gets the German page."""
    made = open_app(browser, site, browser_context_args, locale="de-DE")
    try:
        assert made.page.evaluate("document.documentElement.lang") == "de"
        assert tab_names(made.page)[:2] == ["Start", "Daten"]
        assert not made.problems, made.problems
    finally:
        made.context.close()
