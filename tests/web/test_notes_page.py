"""A clinician on the Notes page in real Chromium, with the built-in SmolLM2 running in the page
(onnxruntime-web, WebAssembly): a real ACI-Bench visit drafted as a SOAP note, edited, one section
regenerated, copied and downloaded; nothing leaves the page or is stored; bad input explained.

One page is booted for the module and the tests run on it in order; the privacy test boots its own,
so its "before" holds nothing an earlier test did. Screenshots of each step go to
test-results/screenshots/notes-*.png.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tests.web.ui_steps import open_app, open_tab, python, see, set_number, shot, wait_python

pytestmark = pytest.mark.browser

VISITS = Path(__file__).resolve().parents[1] / "fixtures" / "notes" / "aci_bench_two_visits.csv"
SOAP_HEADINGS = ["SUBJECTIVE", "OBJECTIVE", "ASSESSMENT", "PLAN"]
CAP_LABEL = "Longest section, in tokens (0: the format's own limits)"
FILE_LABEL = "Transcript file (.txt, or .csv with a 'dialogue' column)"
NOTES = "from hearth.app.shell import APP\nnotes = APP.notes\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91h6"


def visits() -> list[dict[str, str]]:
    with VISITS.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def new_page(browser, site, browser_context_args):
    return open_app(browser, site, browser_context_args, accept_downloads=True,
                    permissions=["clipboard-read", "clipboard-write"])


@pytest.fixture(scope="module")
def ui(browser, site, browser_context_args):
    made = new_page(browser, site, browser_context_args)
    yield made
    made.context.close()


@pytest.fixture
def page(ui):
    """The module's page, under the name tests/conftest.py screenshots when a test fails."""
    return ui.page


def notes(page, expression: str):
    return python(page, NOTES + expression)


def progress(page) -> str:
    return page.locator(".hearth-progress").first.inner_text()


def style(locator, name: str) -> str:
    """A computed style: the page's stylesheet (notes_display.NOTES_CSS) must reach into the panes'
    shadow roots."""
    return locator.evaluate(f"e => getComputedStyle(e).{name}")


def wait_finished(page) -> str:
    """Wait until the page says the draft ended (done or stopped); returns what it says."""
    wait_python(page, NOTES + "not notes.running and notes.progress.object != ''", "the draft to end")
    return progress(page)


def test_full_soap_draft_of_a_real_visit_edit_regenerate_copy_download(page, ui, tmp_path):
    open_tab(page, "Notes")
    see(page, "Runs on this device · onnxruntime-web · WebAssembly")
    assert style(page.locator(".hearth-device"), "backgroundColor") == "rgb(231, 244, 234)"
    assert style(page.get_by_role("button", name="Copy note"), "opacity") == "0.5"  # no note yet
    page.get_by_label(FILE_LABEL).set_input_files(str(VISITS))
    see(page, "aci_bench_two_visits.csv holds 2 visits, one per row")
    rows = page.get_by_label("Visit (CSV row)")
    rows.select_option(label=f"row 1 (D2N085): {len(visits()[0]['dialogue']):,} characters")
    see(page, "Loaded aci_bench_two_visits.csv, row 1 (D2N085)")
    assert page.get_by_label("Visit transcript").input_value() == visits()[0]["dialogue"]
    set_number(page, CAP_LABEL, 32)  # a short draft: every section, not every word
    wait_python(page, NOTES + "notes.section_cap.value == 32", "the cap to reach Python")
    shot(page, "notes-01-transcript-loaded")

    page.get_by_role("button", name="Draft note").click()
    see(page, "Section 1 of 4: SUBJECTIVE")
    shot(page, "notes-02-drafting")
    said = wait_finished(page)
    assert said.startswith("Done in"), said
    shot(page, "notes-03-drafted")
    threads = python(page, "from hearth.runtime import get_runtime\nawait get_runtime().threads()")
    see(page, f"Running on this device · onnxruntime-web · WebAssembly ({threads} thread{'s' if threads != 1 else ''})")
    note = notes(page, "{s.heading: [s.text, str(s.state)] for s in notes.note.sections}")
    assert list(note) == SOAP_HEADINGS
    for heading_text, (text, state) in note.items():
        assert state == "done" and text.strip(), heading_text
        assert page.get_by_label(heading_text, exact=True).input_value() == text
        see(page, f"{heading_text}: drafted")
    assert style(page.locator(".hearth-section-state").first, "color") == "rgb(107, 90, 76)"
    copy = page.get_by_role("button", name="Copy note")
    assert style(copy, "opacity") == "1" and style(copy, "borderTopColor") == "rgb(204, 204, 204)"
    stats = notes(page, "notes.stats")
    print(f"\nSOAP draft of D2N085 in Chromium (32 tokens a section at most): {stats}")
    assert stats["tokens_per_second"] > 0

    objective = page.get_by_label("OBJECTIVE", exact=True)
    objective.fill("BP 128/82, pulse 76. Tender right flank, no rebound.")
    objective.press("Tab")  # the change is committed when the box loses focus
    wait_python(page, NOTES + "str(notes.note['objective'].state) == 'edited'", "the edit to reach the note")
    see(page, "OBJECTIVE: edited by you")
    shot(page, "notes-04-edited")

    plan_before = note["PLAN"][0]
    page.get_by_role("button", name="Regenerate plan").click()
    see(page, "Section 1 of 1: PLAN")
    assert wait_finished(page).startswith("Done in")
    after = notes(page, "{s.heading: [s.text, str(s.state)] for s in notes.note.sections}")
    assert after["PLAN"][1] == "done" and after["PLAN"][0].strip() and after["PLAN"][0] != plan_before
    assert {k: v for k, v in after.items() if k != "PLAN"} == {
        **{k: v for k, v in note.items() if k != "PLAN"},
        "OBJECTIVE": ["BP 128/82, pulse 76. Tender right flank, no rebound.", "edited"]}
    assert page.get_by_label("PLAN", exact=True).input_value() == after["PLAN"][0]
    shot(page, "notes-05-regenerated")

    text = notes(page, "notes.note.to_text()")
    page.get_by_role("button", name="Copy note").click()
    see(page, "Copied")
    assert page.evaluate("navigator.clipboard.readText()") == text

    with page.expect_download() as download:
        page.get_by_role("button", name="Download .md").click()
    md_path = tmp_path / "note.md"
    download.value.save_as(md_path)
    assert download.value.suggested_filename == "clinical-note.md"
    md = md_path.read_text()
    assert re.findall(r"^## (.+)$", md, re.M) == ["Subjective", "Objective", "Assessment", "Plan"]
    assert "## Objective\n\nBP 128/82, pulse 76. Tender right flank, no rebound.\n" in md
    assert md.split("\n\n", 1)[1] == notes(page, "notes.note.to_markdown()")  # after the header line

    with page.expect_download() as download:
        page.get_by_role("button", name="Download .txt").click()
    txt_path = tmp_path / "note.txt"
    download.value.save_as(txt_path)
    assert download.value.suggested_filename == "clinical-note.txt"
    assert txt_path.read_text().split("\n\n", 1)[1] == text  # after the header line
    assert [line for line in text.split("\n") if line in SOAP_HEADINGS] == SOAP_HEADINGS
    assert after["PLAN"][0].strip() in text
    shot(page, "notes-06-downloaded")
    assert not ui.problems, ui.problems
    assert not ui.log.foreign, ui.log.foreign


STORAGE = """async () => {
    const caches_ = {};
    for (const name of await caches.keys()) caches_[name] = (await (await caches.open(name)).keys()).map(r => r.url).sort();
    const opfs = [];  // every file in the origin private file system, with its size
    const walk = async (dir, prefix) => {
        for await (const [name, handle] of dir.entries()) {
            if (handle.kind === "directory") await walk(handle, prefix + name + "/");
            else opfs.push(prefix + name + ":" + (await handle.getFile()).size);
        }
    };
    await walk(await navigator.storage.getDirectory(), "");
    opfs.sort();
    const databases = {};  // every database's stores and how many records each holds
    for (const { name } of await indexedDB.databases()) {
        const db = await new Promise((ok, fail) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result);
                                                     r.onerror = () => fail(r.error); });
        databases[name] = {};
        for (const store of db.objectStoreNames) {
            const count = db.transaction(store).objectStore(store).count();
            databases[name][store] = await new Promise((ok) => { count.onsuccess = () => ok(count.result); });
        }
        db.close();
    }
    const local = Object.keys(localStorage).sort(), session = Object.keys(sessionStorage).sort();
    return {caches: caches_, opfs, databases, local, session};
}"""


def test_nothing_leaves_the_page_or_is_stored_and_clear_forgets(browser, site, dist, browser_context_args):
    made = new_page(browser, site, browser_context_args)
    page = made.page
    try:
        # The site's own part is stored once the page says "Ready offline"; the model is kept on first use.
        page.locator("#offline-mark[data-state='ready']").wait_for(timeout=240_000)
        before = page.evaluate(STORAGE)
        requests: list[tuple[str, str, bytes | None]] = []
        page.on("request", lambda r: requests.append((r.method, r.url, r.post_data_buffer)))
        made.log.all.clear()

        open_tab(page, "Notes")
        visit = visits()[1]["dialogue"]
        page.get_by_label("Visit transcript").fill(visit)
        set_number(page, CAP_LABEL, 8)
        wait_python(page, NOTES + "notes.section_cap.value == 8", "the cap to reach Python")
        page.get_by_role("button", name="Draft note").click()
        assert wait_finished(page).startswith("Done in")
        shot(page, "notes-07-privacy-drafted")
        assert notes(page, "notes.note.transcript.raw_chars") == len(visit)

        after = page.evaluate(STORAGE)
        origin = site.url.rstrip("/")
        assert made.log.foreign == []
        assert all(url.startswith(origin + "/") for url in made.log.all), made.log.all
        assert all(url.startswith(origin + "/") for _, url, _ in requests), requests
        assert all(method == "GET" and body is None for method, _, body in requests), requests
        assert not any(visit[:40] in url for url in made.log.all)
        # What drafting may add: the site's own files (the language model, kept for offline use on first use),
        # nothing else, and nothing but the caches changes.
        site_files = set(json.loads((dist / "build.json").read_text())["files"])
        added = {url for name, urls in after["caches"].items() for url in urls} - \
            {url for urls in before["caches"].values() for url in urls}
        assert all(url.startswith(origin + "/") and url[len(origin) + 1 :] in site_files for url in added), added
        assert {k: v for k, v in after.items() if k != "caches"} == {k: v for k, v in before.items() if k != "caches"}
        # No file anywhere (the model store's empty folder may exist from listing downloaded models).
        assert after["local"] == after["session"] == after["opfs"] == [] and after["databases"] == {}
        assert all(name.startswith("hearth-app-") for name in after["caches"])  # only the site's own cache

        page.get_by_role("button", name="Clear transcript and note").click()
        see(page, "Cleared: the transcript and the note are gone from this tab.")
        assert page.get_by_label("Visit transcript").input_value() == ""
        for heading_text in SOAP_HEADINGS:
            assert page.get_by_label(heading_text, exact=True).count() == 0
        state = notes(page, "[notes.note is None, notes.transcript.value, APP.models._model.last is None]")
        assert state == [True, "", True]
        assert page.get_by_role("button", name="Copy note").is_disabled()
        shot(page, "notes-08-cleared")
        assert page.evaluate(STORAGE) == after
        assert not made.problems, made.problems
    finally:
        made.context.close()


def test_bad_input_is_explained_and_nothing_is_lost(page, ui, tmp_path):
    open_tab(page, "Notes")
    box = page.get_by_label("Visit transcript")
    box.fill("")
    box.press("Tab")
    wait_python(page, NOTES + "notes.transcript.value == ''", "the empty box to reach Python")
    page.get_by_role("button", name="Draft note").click()
    see(page, "The pasted text is empty. Paste the visit transcript")
    shot(page, "notes-09-empty")

    kept = visits()[0]["dialogue"]
    box.fill(kept)
    box.press("Tab")
    wait_python(page, NOTES + f"notes.transcript.value == {kept!r}", "the transcript to reach Python")
    note = notes(page, "notes.note.texts() if notes.note else None")

    picture = tmp_path / "scan.txt"
    picture.write_bytes(PNG + bytes(range(256)) * 4)
    page.get_by_label(FILE_LABEL).set_input_files(str(picture))
    see(page, "scan.txt does not look like a text file (it contains binary data)")
    assert box.input_value() == kept
    shot(page, "notes-10-binary")

    table = tmp_path / "visits.csv"
    table.write_text("id,transcript\n1,hello doctor\n")
    page.get_by_label(FILE_LABEL).set_input_files(str(table))
    see(page, "visits.csv has no 'dialogue' column (its columns are 'id', 'transcript')")
    assert box.input_value() == kept
    shot(page, "notes-11-no-dialogue")

    long_text = ("\n".join(v["dialogue"] for v in visits()) * 40)[:200_000]
    box.fill(long_text)
    box.press("Tab")
    wait_python(page, NOTES + "len(notes.transcript.value) == 200_000", "the long text to reach Python")
    page.get_by_role("button", name="Draft note").click()
    see(page, "The pasted text is 200,000 characters long")
    see(page, "Hearth drafts a note for one visit of up to 60,000 characters")
    assert box.input_value() == long_text  # left there to fix
    assert notes(page, "notes.note.texts() if notes.note else None") == note
    assert not notes(page, "notes.running")
    shot(page, "notes-12-too-long")

    long_file = tmp_path / "day.txt"
    long_file.write_text(long_text)
    box.fill(kept)
    box.press("Tab")
    wait_python(page, NOTES + f"notes.transcript.value == {kept!r}", "the transcript to reach Python")
    page.get_by_label(FILE_LABEL).set_input_files(str(long_file))
    see(page, "day.txt is 200,000 characters long")
    assert box.input_value() == kept
    assert not ui.problems, ui.problems


@pytest.mark.slow
def test_a_transcript_longer_than_the_context_is_read_in_parts_and_can_be_stopped(page, ui):
    """~45,000 characters (over the 4,096 tokens the page lets a model read at once in the browser): the
    page says it reads the visit in parts and how long that may take; Stop ends it (after the model
    finishes reading the part it is on)."""
    open_tab(page, "Notes")
    long_visit = "\n".join(v["dialogue"] for v in visits()) * 7
    long_visit = long_visit[:45_000]
    box = page.get_by_label("Visit transcript")
    box.fill(long_visit)
    box.press("Tab")
    wait_python(page, NOTES + "len(notes.transcript.value) == 45_000", "the transcript to reach Python")
    page.get_by_role("button", name="Draft note").click()
    see(page, "is longer than the model can read at once (4,096 tokens), so it is read in")
    see(page, "Reading part 1 of")
    shot(page, "notes-13-parts")
    page.get_by_role("button", name="Stop").click()
    said = wait_finished(page)
    assert said.startswith("Stopped after"), said
    shot(page, "notes-14-parts-stopped")
    assert not ui.problems, ui.problems


ACI_VALID = Path(__file__).resolve().parents[1] / "fixtures" / "aci-bench" / "valid.csv"


def test_an_invented_fact_typed_into_a_section_is_marked_and_removed(page, ui):
    """The grounding check in the page: a real ACI-Bench visit drafted by the built-in model, then a
    dose, a drug and a side the visit never mentions typed into a section: each is listed under it,
    and Remove takes the dose out of the text; no request leaves the origin meanwhile."""
    with ACI_VALID.open(newline="", encoding="utf-8") as f:
        visit = next(row for row in csv.DictReader(f) if row["encounter_id"] == "D2N072")["dialogue"]
    requests: list[tuple[str, str]] = []
    page.on("request", lambda r: requests.append((r.method, r.url)))
    open_tab(page, "Notes")
    box = page.get_by_label("Visit transcript")
    box.fill(visit)
    box.press("Tab")
    wait_python(page, NOTES + f"notes.transcript.value == {visit!r}", "the transcript to reach Python")
    set_number(page, CAP_LABEL, 8)  # short sections: the check is under test, not the prose
    wait_python(page, NOTES + "notes.section_cap.value == 8", "the cap to reach Python")
    page.get_by_role("button", name="Draft note").click()
    assert wait_finished(page).startswith("Done in")

    objective = page.get_by_label("OBJECTIVE", exact=True)
    objective.fill("Started warfarin 7.5 mg daily. Left ankle swelling.")
    objective.press("Tab")  # the change is committed when the box loses focus
    for fact in ("warfarin", "7.5 mg", "Left ankle"):
        see(page, f"«{fact}» not found in the transcript")
    count = notes(page, "sum(len(v.unsupported) for v in notes.sections.values())")
    see(page, f"{count} facts not found in the transcript: check them before copying")
    shot(page, "notes-15-unsupported-marked")
    times = notes(page, "notes.check_seconds")
    print(f"\nGrounding check in Chromium: {times}")

    marked = notes(page, "[f.text for v in notes.sections.values() for f in v.unsupported]")
    page.get_by_role("button", name="Remove", exact=True).nth(marked.index("7.5 mg")).click()
    wait_python(page, NOTES + "'7.5 mg' not in notes.note['objective'].text", "the dose to be removed")
    assert objective.input_value() == "Started warfarin daily. Left ankle swelling."
    page.get_by_text("«7.5 mg» not found in the transcript").wait_for(state="detached")
    see(page, "«warfarin» not found in the transcript")
    see(page, f"{count - 1} fact{'s' if count - 1 != 1 else ''} not found in the transcript")
    see(page, "OBJECTIVE: edited by you")
    shot(page, "notes-16-unsupported-removed")

    origin = ui.log.origin
    assert all(url.startswith(origin + "/") for _, url in requests), requests
    assert all(method == "GET" for method, _ in requests), requests
    assert not ui.log.foreign, ui.log.foreign
    assert not ui.problems, ui.problems


WATCH_PROGRESS = NOTES + """import builtins
builtins.notes_progress_seen = seen = []
builtins.notes_progress_watcher = notes.progress.param.watch(lambda e: seen.append(e.new), "object")
len(seen)"""
UNWATCH_PROGRESS = NOTES + """import builtins
notes.progress.param.unwatch(builtins.notes_progress_watcher)
builtins.notes_progress_seen"""


def draft_visit(page, row: int, cap: int) -> None:
    """Start drafting a visit as a SOAP note, `cap` tokens a section at most."""
    open_tab(page, "Notes")
    visit = visits()[row]["dialogue"]
    box = page.get_by_label("Visit transcript")
    box.fill(visit)
    box.press("Tab")
    wait_python(page, NOTES + f"notes.transcript.value == {visit!r}", "the transcript to reach Python")
    set_number(page, CAP_LABEL, cap)
    wait_python(page, NOTES + f"notes.section_cap.value == {cap}", "the cap to reach Python")
    page.get_by_role("button", name="Draft note").click()


def seen_lines(page) -> list[str]:
    """Every line the progress pane was given since WATCH_PROGRESS, in order, as the page shows it."""
    return [re.sub(r"<[^>]+>", "", html).replace("&amp;", "&") for html in python(page, UNWATCH_PROGRESS)]


def test_the_transcript_is_read_with_its_own_progress_before_the_first_section(page, ui):
    """The model reads the whole transcript before the first words (many seconds with SmolLM2 in a
    browser): the line counts the tokens read, and names no section until one is being written."""
    python(page, WATCH_PROGRESS)
    draft_visit(page, 1, 8)  # not the visit the model read last: it would still hold that transcript
    line = page.get_by_text(re.compile(r"^Reading the transcript: [\d,]+ of [\d,]+ tokens$")).first
    line.wait_for(state="visible")
    read, total = (int(n.replace(",", "")) for n in re.findall(r"[\d,]+", line.inner_text()))
    if read < total:  # still reading: nothing of the first section can be there yet
        assert page.get_by_label("SUBJECTIVE", exact=True).input_value() == ""
    shot(page, "notes-15-reading")
    assert wait_finished(page).startswith("Done in")
    lines = seen_lines(page)
    first = next(i for i, said in enumerate(lines) if said.startswith("Section 1 of 4: SUBJECTIVE"))
    reading = [said for said in lines[:first] if said.startswith("Reading the transcript: ")]
    assert reading and all(re.fullmatch(r"Reading the transcript: [\d,]+ of [\d,]+ tokens", s) for s in reading)
    counts = [int(re.findall(r"[\d,]+", said)[0].replace(",", "")) for said in reading]
    assert counts == sorted(counts), reading
    assert not any(said.startswith("Reading the transcript") for said in lines[first:]), lines  # read once
    assert not ui.problems, ui.problems


def test_no_time_left_until_the_pace_is_measured_and_never_a_higher_one(page, ui):
    python(page, WATCH_PROGRESS)
    draft_visit(page, 0, 24)
    assert wait_finished(page).startswith("Done in")
    lines = seen_lines(page)
    estimated = [said for said in lines if " left · " in said or "almost done" in said]
    # an estimate comes with the measured pace (tokens/s), never while the transcript is read
    assert all("tokens/s" in said for said in estimated), lines
    assert not any("left" in said for said in lines if said.startswith(("Reading", "Loading", "Starting"))), lines

    def seconds_left(said: str) -> int:
        found = re.search(r"at most about (\d+) (s|min) left", said)
        return 0 if found is None else int(found[1]) * (60 if found[2] == "min" else 1)

    shown = [seconds_left(said) for said in estimated]
    assert shown == sorted(shown, reverse=True), estimated  # it only comes down
    assert not ui.problems, ui.problems


LOCAL_MINUTE = """() => { const d = new Date(), p = n => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} at ${p(d.getHours())}:${p(d.getMinutes())}`; }"""


def test_downloads_start_with_who_drafted_the_note_when_and_what_it_is(browser, site, browser_context_args,
                                                                        tmp_path):
    """In a time zone far from UTC, so the time shown is the device's local one."""
    made = open_app(browser, site, browser_context_args, timezone_id="Asia/Kathmandu", accept_downloads=True,
                    permissions=["clipboard-read", "clipboard-write"])
    page = made.page
    try:
        version = python(page, "import hearth\nhearth.__version__")
        before = page.evaluate(LOCAL_MINUTE)
        draft_visit(page, 0, 8)
        assert wait_finished(page).startswith("Done in")
        after = page.evaluate(LOCAL_MINUTE)
        lines = {}
        for kind in ("txt", "md"):
            with page.expect_download() as download:
                page.get_by_role("button", name=f"Download .{kind}").click()
            saved = tmp_path / f"note.{kind}"
            download.value.save_as(saved)
            lines[kind] = saved.read_text()
        header, blank, _rest = lines["txt"].split("\n", 2)
        # the Notes page's default model: the note model where the site has it, else the built-in one
        drafter = python(page, "from hearth.app.shell import APP\nAPP.models.choice(APP.notes.model.value).label")
        found = re.fullmatch(re.escape(f"Drafted by {drafter} (Hearth {version}) on ")
                             + r"(\d{4}-\d\d-\d\d at \d\d:\d\d)"
                             + re.escape(": a draft to be checked and completed by the clinician."), header)
        assert found and before <= found[1] <= after and blank == "", (header, before, after)
        assert lines["txt"] == f"{header}\n\n" + notes(page, "notes.note.to_text()")
        assert lines["md"] == f"{header}\n\n" + notes(page, "notes.note.to_markdown()")
        page.get_by_role("button", name="Copy note").click()
        see(page, "Copied")
        assert page.evaluate("navigator.clipboard.readText()") == notes(page, "notes.note.to_text()")  # the note alone
        assert not made.problems, made.problems
    finally:
        made.context.close()
