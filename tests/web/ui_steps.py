"""What a student does in the UI, as steps the browser tests share (not tests themselves).

Panel draws each component in a shadow root; Playwright's CSS and role locators pierce them, so the
steps find things by what a person sees: tab names, button names, labels and texts.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-results" / "screenshots"
WAIT_MS = 240_000  # how long to wait for the app on this busy 2-core machine; never a limit on behaviour


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-picture
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def python(page, code: str):
    return page.evaluate("code => window.hearth.python(code)", code)


HEADINGS = {"Home": "Welcome to Hearth", "Data": "1. Data", "Build": "2. Build", "Train": "3. Train",
            "Evaluate": "4. Evaluate", "Predict": "5. Predict", "Export": "6. Export", "Python": "7. Python",
            "Notes": "Draft a clinical note", "Chat": "Chat", "Models": "Models"}


def open_tab(page, name: str) -> None:
    """Open a tab and wait until its page is drawn (tabs are drawn when first opened)."""
    page.locator(".bk-tab").filter(has_text=re.compile(f"^{name}$")).click()
    page.locator(".bk-tab.bk-active").filter(has_text=re.compile(f"^{name}$")).wait_for()
    page.get_by_role("heading", name=HEADINGS[name], exact=True).wait_for()


def see(page, text: str, exact: bool = False):
    """Wait until `text` is visible somewhere on the page; returns its locator."""
    locator = page.get_by_text(text, exact=exact).first
    locator.wait_for(state="visible")
    return locator


def use_builtin(page, name: str = "digits") -> None:
    open_tab(page, "Data")
    page.get_by_role("button", name="Built-in").click()
    select = page.get_by_label("Built-in dataset")
    option = select.locator("option").filter(has_text=re.compile(f"^{name}:"))
    option.wait_for(state="attached")
    select.select_option(label=option.inner_text())
    page.get_by_role("button", name="Use this dataset").click()
    see(page, f"Loaded {name}:")


def use_preset(page, title: str) -> None:
    open_tab(page, "Build")
    page.get_by_role("button", name=title, exact=True).click()
    see(page, "The network works")


def set_number(page, label: str, value) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def train(page, epochs: int, on_progress=None) -> list[str]:
    """Start training and wait until it is done; returns the progress lines seen on the way."""
    open_tab(page, "Train")
    set_number(page, "Epochs", epochs)
    progress = page.locator(".hearth-progress").first
    before = progress.inner_text()  # what an earlier run left there
    page.get_by_role("button", name="Start training").click()
    seen: list[str] = []
    for _ in range(WAIT_MS // 100):
        text = progress.inner_text()
        if not seen or seen[-1] != text:
            seen.append(text)
            if on_progress is not None:
                on_progress(text)
        started = any(line.startswith("Epoch") for line in seen) or text != before
        if started and text.startswith(("Done", "Stopped", "Training failed")):
            break
        page.wait_for_timeout(100)
    return seen


def draw(page, points: list[tuple[float, float]]) -> None:
    """One stroke on the drawing pad, through the given points (0..1 of the pad, y down). Drawn again,
    as a user would, when the app did not receive it (a pad drawn a moment ago may not listen yet)."""
    canvas = page.locator(".bk-Canvas canvas").last  # the pad is the only plot on the Predict tab
    count = "from hearth.app.shell import APP\nlen(APP.predict.pad.strokes)"
    before = python(page, count)
    for _ in range(5):
        box = canvas.bounding_box()

        def at(p, box=box):
            return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]

        page.mouse.move(*at(points[0]))
        page.mouse.down()
        for a, b in zip(points, points[1:], strict=False):
            for i in range(1, 9):
                t = i / 8
                page.mouse.move(*at((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)))
        page.mouse.up()
        for _ in range(50):
            if python(page, count) > before:
                return
            page.wait_for_timeout(100)
    raise AssertionError("the drawing pad never received the stroke")


def wait_python(page, code: str, what: str):
    """Poll a Python expression in the app until it is true (the app's own view of what happened)."""
    for _ in range(WAIT_MS // 100):
        value = python(page, code)
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"waited in vain for {what}")


SEVEN = [(0.25, 0.15), (0.75, 0.15), (0.45, 0.9)]


def choose_csv(page, path: Path) -> None:
    """Choose a file as the Data page's CSV table (the file picker, as a student would)."""
    open_tab(page, "Data")
    page.get_by_role("button", name="CSV table").click()
    page.get_by_label("CSV file (a header row, then one row per sample)").set_input_files(str(path))


# What the page shows at every frame it draws, so a test can say what a student could ever have seen
# (a state that lasts one frame included), not only where things end up. Panel draws each component
# in a shadow root, so the search goes into every one.
_FRAME_LOG = """(watched) => {
    const all = (root, selector, out) => {
        root.querySelectorAll(selector).forEach((e) => out.push(e));
        root.querySelectorAll("*").forEach((e) => { if (e.shadowRoot) all(e.shadowRoot, selector, out); });
        return out;
    };
    const log = (window.hearthFrames = []);
    let last = "";
    const tick = () => {
        const frame = {};
        for (const [name, selector] of Object.entries(watched)) {
            const shown = all(document, selector, []).filter((e) => e.getClientRects().length > 0);
            frame[name] = {count: shown.length, text: shown.length ? shown[0].innerText.trim() : null};
        }
        const key = JSON.stringify(frame);
        if (key !== last) log.push(frame);
        last = key;
        if (window.hearthFrames === log) requestAnimationFrame(tick);
    };
    tick();
}"""


def start_frame_log(page, watched: dict[str, str]) -> None:
    """Record, frame by frame, how many elements match each CSS selector and the first one's text
    (visible ones only); a frame is kept when it differs from the one before."""
    page.evaluate(_FRAME_LOG, watched)


def frame_log(page) -> list[dict]:
    """The frames recorded since start_frame_log; recording stops."""
    return page.evaluate("() => { const log = window.hearthFrames; window.hearthFrames = null; return log; }")


def see_exactly(page, text: str):
    """Wait until an element whose whole text is `text` is visible (pages of other tabs, hidden, may
    say the same); returns its locator."""
    locator = page.get_by_text(text, exact=True).filter(visible=True).first
    locator.wait_for(state="visible")
    return locator


def open_app(browser, site, browser_context_args, **context_args):
    """A new page with the app booted, requests outside the site blocked, and the Python tracebacks
    and page errors it shows collected (`problems`); close it with `.context.close()`."""
    from types import SimpleNamespace

    from tests.conftest import RequestLog, wait_ready

    context = browser.new_context(**browser_context_args, **context_args)
    log = RequestLog(site.url.rstrip("/"))
    context.route("**/*", log.route)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("console", lambda m: "Traceback" in m.text and problems.append(m.text))
    wait_ready(page, site.url)
    return SimpleNamespace(context=context, page=page, log=log, problems=problems)
