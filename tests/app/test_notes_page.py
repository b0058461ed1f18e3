"""The Notes page's logic on CPython: transcripts in (pasted, .txt, .csv rows), bad input explained
with nothing lost, a note streamed, stopped, edited, regenerated, downloaded, copied and cleared.

UI logic runs on the scripted model of tests/notes (it answers with the "fact words" it finds, so a
test can tell what reached it); one test drafts with the real built-in SmolLM2 through onnxruntime.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sys
from datetime import datetime
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import pytest

from hearth import __version__
from hearth.app import deferred_packages
from hearth.app.language_models import LanguageModels
from hearth.app.notes_display import (
    NOTES_CSS,
    draft_header,
    finished_line,
    long_transcript_notice,
    progress_line,
    reading_part,
    reading_progress_line,
)
from hearth.app.notes_page import NotesPage
from hearth.app.tasks import settle
from hearth.notes import facts
from hearth.notes.drafting import DraftPlan, SectionStarted
from hearth.notes.formats import SOAP
from hearth.notes.note import SectionState
from hearth.notes.speed import DraftSpeed, TimeLeft
from tests.notes.notes_scripted_model import ScriptedModel, transcript_with_facts

VISITS = Path(__file__).resolve().parents[1] / "fixtures" / "notes" / "aci_bench_two_visits.csv"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91h6"


def visits() -> list[dict[str, str]]:
    with VISITS.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def models() -> LanguageModels:
    """One holder for the module, so the built-in model is loaded once."""
    return LanguageModels()


def scripted_page(models: LanguageModels, **model_args) -> tuple[NotesPage, ScriptedModel]:
    scripted = ScriptedModel(SOAP, **model_args)
    return NotesPage(models, engine=lambda _loaded: scripted), scripted


def text_of(pane) -> str:
    """What a pane says, as read on the page (tags dropped)."""
    return unescape(re.sub(r"<[^>]+>", "", pane.object))


async def until(condition, task: asyncio.Future) -> None:
    """Let the draft run until `condition()` holds (the draft ending first is a failure)."""
    while not condition():
        assert not task.done(), f"the draft ended first: {task.exception() or 'no error'}"
        await asyncio.sleep(0)


def upload(page: NotesPage, name: str, data: bytes) -> None:
    page.upload.param.update(value=data, filename=name)


def test_a_pasted_transcript_drafts_every_section_in_order(models):
    page, scripted = scripted_page(models)
    dialogue, facts = transcript_with_facts(visits()[0]["dialogue"], SOAP)
    page.transcript.value = dialogue
    asyncio.run(page.draft())
    assert [c.section for c in scripted.calls] == list(SOAP.keys)
    for key, words in facts.items():
        section = page.note[key]
        assert section.state is SectionState.DONE
        assert all(w in section.text for w in words), key
        assert page.sections[key].text.value == section.text  # what the clinician sees
        assert f"{section.heading}: drafted" in text_of(page.sections[key].title)
    assert text_of(page.progress).startswith("Done in")
    assert page.note.transcript.source == "the pasted text"
    assert "Running on this device · onnxruntime · CPU" in text_of(page.device)
    assert not page.running and not page.draft_button.disabled and page.stop_button.disabled


def test_edit_regenerate_download_and_copy(models):
    page, scripted = scripted_page(models)
    dialogue, facts = transcript_with_facts(visits()[0]["dialogue"], SOAP)
    page.transcript.value = dialogue
    asyncio.run(page.draft())
    page.sections["objective"].text.value = "BP 120/80. Lungs clear."  # the clinician types
    assert page.note["objective"].state is SectionState.EDITED
    assert "OBJECTIVE: edited by you" in text_of(page.sections["objective"].title)
    before = page.note.texts()
    calls = len(scripted.calls)
    asyncio.run(page.regenerate("plan"))
    assert [c.section for c in scripted.calls[calls:]] == ["plan"]
    assert scripted.calls[-1].request.temperature > 0  # sampled: a new wording
    after = page.note.texts()
    assert {k: v for k, v in after.items() if k != "plan"} == {k: v for k, v in before.items() if k != "plan"}
    assert all(w in after["plan"] for w in facts["plan"])

    txt = page.download_txt.callback().read().decode()
    md = page.download_md.callback().read().decode()
    drafted = page._written[1]
    header = (f"Drafted by SmolLM2-135M-Instruct (built in) (Hearth {__version__}) on {drafted:%Y-%m-%d} at "
              f"{drafted:%H:%M}: a draft to be checked and completed by the clinician.\n\n")
    assert txt == header + page.note.to_text() and md == header + page.note.to_markdown()
    assert datetime.now().timestamp() - drafted.timestamp() < 3600  # local time, this draft's
    txt = page.note.to_text()  # Copy carries the note alone
    assert "OBJECTIVE\n\nBP 120/80. Lungs clear.\n" in txt
    assert "## Objective\n\nBP 120/80. Lungs clear." in md
    assert [line for line in txt.split("\n") if line in {s.heading for s in SOAP.sections}] == list(
        s.heading for s in SOAP.sections)
    copy = page.copy.object
    assert "disabled" not in copy and unescape(copy.split('data-hearth-copy="')[1].split('"')[0]) == txt


def test_stop_keeps_what_was_written(models):
    page, scripted = scripted_page(models, piece_chars=1)
    dialogue, _ = transcript_with_facts(visits()[0]["dialogue"], SOAP, per_section=6)
    page.transcript.value = dialogue

    async def draft_then_stop() -> None:
        task = asyncio.ensure_future(page.draft())
        await until(lambda: page.note is not None and page.note["subjective"].text, task)
        assert page.running and not page.stop_button.disabled and page.draft_button.disabled
        page.stop_button.clicks += 1
        await task

    asyncio.run(draft_then_stop())
    subjective = page.note["subjective"]
    assert subjective.state is SectionState.STOPPED and subjective.text
    assert page.sections["subjective"].text.value == subjective.text
    assert all(page.note[k].state is SectionState.EMPTY for k in ("objective", "assessment", "plan"))
    assert text_of(page.progress).startswith("Stopped after")
    assert "What was written is kept" in text_of(page.progress)
    assert not page.running and page.stop_button.disabled
    assert [c.section for c in scripted.calls] == ["subjective"]


def test_a_transcript_longer_than_the_context_is_read_in_parts_with_a_notice(models):
    page, scripted = scripted_page(models, context_length=1400)
    dialogue, facts = transcript_with_facts(visits()[0]["dialogue"], SOAP)
    page.transcript.value = dialogue

    async def draft_then_stop() -> None:
        task = asyncio.ensure_future(page.draft())
        await until(lambda: any(c.kind == "extract" for c in scripted.calls), task)
        assert "Reading part" in text_of(page.progress)
        page.stop()
        await task

    asyncio.run(draft_then_stop())
    shown = text_of(page.long_notice)
    assert "is longer than the model can read at once (1,400 tokens), so it is read in" in shown
    assert f"parts: for each of the {len(SOAP.sections)} sections" in shown and "You can stop at any time" in shown
    assert page.plan is not None and page.plan.in_parts
    assert text_of(page.progress).startswith("Stopped after")


def test_bad_input_is_explained_and_loses_nothing(models):
    page, _ = scripted_page(models)
    page.transcript.value = "   \n"
    asyncio.run(page.draft())
    assert "The pasted text is empty. Paste the visit transcript" in text_of(page.message)
    assert page.note is None

    dialogue, _ = transcript_with_facts(visits()[0]["dialogue"], SOAP)
    page.transcript.value = dialogue
    asyncio.run(page.draft())
    note = page.note.texts()

    def unchanged() -> None:
        assert page.transcript.value == dialogue
        assert page.note.texts() == note
        assert [v.text.value for v in page.sections.values()] == list(note.values())

    upload(page, "visit.txt", PNG + bytes(range(256)))
    assert "visit.txt does not look like a text file" in text_of(page.message)
    assert "Nothing you had here was changed" in text_of(page.message)
    unchanged()

    upload(page, "visits.csv", b"id,transcript\n1,hello doctor\n")
    shown = text_of(page.message)
    assert "visits.csv has no 'dialogue' column (its columns are 'id', 'transcript')" in shown
    unchanged()

    upload(page, "empty.txt", b"")  # an empty file never reaches the page's handler as data
    upload(page, "blank.txt", b"\n\n  \n")
    assert "blank.txt is empty" in text_of(page.message)
    unchanged()

    long_text = ("\n".join(v["dialogue"] for v in visits()) * 40)[:200_000]
    upload(page, "day.txt", long_text.encode())
    shown = text_of(page.message)
    assert "day.txt is 200,000 characters long" in shown and "up to 60,000 characters" in shown, shown
    unchanged()

    page.transcript.value = long_text  # pasted: refused when drafting, and left in the box to fix
    asyncio.run(page.draft())
    shown = text_of(page.message)
    assert "The pasted text is 200,000 characters long" in shown and "The note below is unchanged" in shown
    assert page.transcript.value == long_text and page.note.texts() == note

    page.transcript.value = ""
    asyncio.run(page.draft())
    assert "The pasted text is empty" in text_of(page.message) and page.note.texts() == note


def test_a_csv_with_several_visits_asks_which_one(models):
    page, scripted = scripted_page(models)
    rows = visits()
    upload(page, "visits.csv", VISITS.read_bytes())
    assert page.row.visible and "holds 2 visits, one per row" in text_of(page.message)
    assert list(page.row.options)[1:] == [f"row 1 (D2N085): {len(rows[0]['dialogue']):,} characters",
                                          f"row 2 (D2N072): {len(rows[1]['dialogue']):,} characters"]
    assert page.transcript.value == ""  # nothing chosen yet
    page.row.value = 1
    assert page.transcript.value == rows[1]["dialogue"]
    assert "Loaded visits.csv, row 2 (D2N072)" in text_of(page.message)
    asyncio.run(page.draft())
    assert page.note.transcript.source == "visits.csv, row 2 (D2N072)"
    assert "Doctor:" in scripted.calls[0].messages[-1]["content"]

    one = io.StringIO()
    writer = csv.writer(one)
    writer.writerow(["Dialogue"])
    writer.writerow([rows[0]["dialogue"]])
    upload(page, "one.csv", one.getvalue().encode())
    assert not page.row.visible and page.transcript.value == rows[0]["dialogue"]

    upload(page, "visit.txt", rows[0]["dialogue"].encode("utf-16"))  # Windows "Unicode" text
    assert page.transcript.value == rows[0]["dialogue"] and "Loaded visit.txt" in text_of(page.message)


def test_a_files_name_is_waited_for_when_its_bytes_come_first(models):
    """The order the browser sends a chosen file in (see NotesPage's "the transcript"): bytes, then
    the name when it changed; a file named like the last one brings its bytes only."""
    page, _ = scripted_page(models)
    rows = visits()

    async def as_the_browser_sends_them() -> None:
        upload(page, "visit.txt", rows[0]["dialogue"].encode())
        assert page.transcript.value == rows[0]["dialogue"]
        loaded = text_of(page.message)

        page.upload.value = VISITS.read_bytes()  # a CSV's bytes, still under the last file's name
        for _ in range(5):
            await asyncio.sleep(0)
        assert page.transcript.value == rows[0]["dialogue"] and text_of(page.message) == loaded
        page.upload.filename = "visits.csv"  # its name: read now
        assert "visits.csv holds 2 visits" in text_of(page.message) and page.row.visible
        await settle()
        assert "visits.csv holds 2 visits" in text_of(page.message)  # read once

        upload(page, "visit.txt", rows[0]["dialogue"].encode())
        page.upload.value = rows[1]["dialogue"].encode()  # named like the last file: no name comes
        await settle()
        assert page.transcript.value == rows[1]["dialogue"] and "Loaded visit.txt" in text_of(page.message)

        page.upload.filename = "other.txt"  # the same bytes under a new name: only the name comes
        assert "Loaded other.txt" in text_of(page.message)

    asyncio.run(as_the_browser_sends_them())


def test_the_pages_html_carries_classes_and_its_stylesheet_names_each_colour_once(models):
    page, _ = scripted_page(models)
    dialogue, _ = transcript_with_facts(visits()[0]["dialogue"], SOAP)
    page.transcript.value = dialogue
    asyncio.run(page.draft())
    styled = [page.device, page.copy, *(v.title for v in page.sections.values())]
    for pane in [*styled, page.progress]:
        assert "style=" not in pane.object and not re.search(r"#[0-9a-fA-F]{3,6}\b", pane.object), pane.object
    assert all(NOTES_CSS in pane.stylesheets for pane in styled)
    colours = re.findall(r"#[0-9a-fA-F]{3,6}\b", NOTES_CSS)
    assert colours and len(colours) == len(set(colours))


def test_the_page_words_the_plan_and_the_progress():
    whole = DraftPlan(4096, 900, (), 4, 4, 4000, 1664)
    assert long_transcript_notice(whole) is None
    parts = DraftPlan(1400, 3210, ("part one", "part two", "part three"), 4, 16, 9200, 730)  # 100 s + 100 s
    assert long_transcript_notice(parts) == (
        "This transcript (3,210 tokens) is longer than the model can read at once (1,400 tokens), so it is read "
        "in 3 parts: for each of the 4 sections the model lists the facts from every part, then writes the "
        "section from them. That is up to 16 model runs, up to about 3 minutes on this device. Nothing is left "
        "out. You can stop at any time; what is written so far is kept.")

    speed = DraftSpeed()
    plan = DraftPlan(4096, 900, (), 4, 4, 2000, 100)
    first = SectionStarted("subjective", "SUBJECTIVE", 0, 4)
    assert plan.seconds_left(speed, 3.2) is None  # nothing measured: the assumed speeds are another device's
    assert progress_line(first, "", speed, None, 3.2) == "Section 1 of 4: SUBJECTIVE · 3 s so far"
    speed.prompt_read(1000, 5.0)
    assert plan.seconds_left(speed, 5.0) is None  # reading timed, writing not yet
    for _ in range(4):
        speed.piece_written(0.1)
    last = SectionStarted("plan", "PLAN", 3, 4)
    assert plan.seconds_left(speed, 5.0) == 15.0  # 2000 / 200 + 100 / 10 - 5
    assert progress_line(last, reading_part(2, 5), speed, plan.seconds_left(speed, 5.0), 5.0) == (
        "Section 4 of 4: PLAN · Reading part 2 of 5 · 10.0 tokens/s · at most about 15 s left · 5 s so far")
    assert plan.seconds_left(speed, 125.0) == 0.0
    assert progress_line(last, "", speed, plan.seconds_left(speed, 125.0), 125.0) == (
        "Section 4 of 4: PLAN · 10.0 tokens/s · almost done · 2 min so far")
    one = SectionStarted("plan", "PLAN", 0, 1)  # a regeneration: no estimate
    assert progress_line(one, "", speed, None, 5.0) == "Section 1 of 1: PLAN · 10.0 tokens/s · 5 s so far"

    assert finished_line(False, 42.4, speed) == "Done in 42 s, 10.0 tokens/s. Read every section and correct it before use."
    assert finished_line(True, 200, DraftSpeed()) == (
        "Stopped after 3 min. What was written is kept; regenerate any section or draft again.")


def test_clear_removes_transcript_note_and_file(models):
    page, _ = scripted_page(models)
    upload(page, "visits.csv", VISITS.read_bytes())
    page.row.value = 0
    asyncio.run(page.draft())
    assert page.note is not None and page.sections
    page.download_txt.callback()
    page.clear_button.clicks += 1
    assert page.note is None and page.transcript.value == "" and page.sections == {}
    assert page.sections_box.objects == [] and not page.row.visible and page.csv_rows == []
    assert page.upload.value is None and page.download_txt.data is None
    assert "disabled" in page.copy.object and 'data-hearth-copy=""' in page.copy.object
    assert page.download_txt.disabled and page.download_md.disabled
    assert "Cleared" in text_of(page.message)
    asyncio.run(page.regenerate("plan"))
    assert "no note to regenerate" in text_of(page.message)


def test_clear_while_drafting_drops_the_note_and_stops(models):
    page, scripted = scripted_page(models, piece_chars=1)
    dialogue, _ = transcript_with_facts(visits()[0]["dialogue"], SOAP, per_section=6)
    page.transcript.value = dialogue

    async def draft_then_clear() -> None:
        task = asyncio.ensure_future(page.draft())
        await until(lambda: page.note is not None and page.note["subjective"].text, task)
        drafting = page.note
        page.clear()
        await task
        assert drafting.is_empty  # what the model wrote after Clear went too

    asyncio.run(draft_then_clear())
    assert page.note is None and page.sections_box.objects == [] and not page.running
    assert [c.section for c in scripted.calls] == ["subjective"]


def test_the_built_in_model_drafts_a_real_visit(models):
    """SmolLM2 through onnxruntime: every SOAP heading, a measured speed, and Clear makes the model
    forget its last generation."""
    page = NotesPage(models)
    page.transcript.value = visits()[0]["dialogue"]
    page.section_cap.value = 8  # a short draft: the point here is the page, not the prose
    asyncio.run(page.draft())
    assert text_of(page.progress).startswith("Done in"), text_of(page.progress)
    for section in page.note.sections:
        assert section.state is SectionState.DONE and section.text.strip(), section.key
    txt = page.note.to_text()
    assert [line for line in txt.split("\n") if line in {s.heading for s in SOAP.sections}] == list(
        s.heading for s in SOAP.sections)
    assert page.stats["tokens_per_second"] > 0 and page.stats["prefill_tokens_per_second"] > 0
    assert "Running on this device · onnxruntime · CPU" in text_of(page.device)
    loaded = models._model
    assert loaded is not None and loaded.last is not None
    # every section after the first started from the transcript the first one read
    assert loaded.decoder.stored_prompt_tokens > 0
    page.clear()
    assert loaded.last is None and loaded.decoder.stored_prompt_tokens == 0


def test_an_invented_fact_is_marked_and_removed_in_one_click(models):
    """The grounding check: a dose the transcript never states is listed under its section with the
    exact words, counted at the top of the note, and Remove takes it out of the section's text."""
    page, _ = scripted_page(models, run_on="Start metoprolol 175 mg daily.")
    dialogue, _ = transcript_with_facts(visits()[0]["dialogue"], SOAP)
    page.transcript.value = dialogue
    asyncio.run(page.draft())
    subjective = page.sections["subjective"]
    assert "Start metoprolol 175 mg daily." in subjective.text.value
    marks = [text_of(row.objects[0]) for row in subjective.facts.objects]
    assert marks == ["«metoprolol» not found in the transcript", "«175 mg» not found in the transcript"]
    assert text_of(page.facts_summary) == "8 facts not found in the transcript: check them before copying"
    for pane in (page.facts_summary, subjective.facts.objects[0].objects[0]):  # coloured by the stylesheet
        assert NOTES_CSS in pane.stylesheets and "style=" not in pane.object

    dose = subjective.facts.objects[1].objects[1]
    assert dose.label == "Remove"
    dose.clicks += 1
    assert "Start metoprolol daily." in subjective.text.value and "175 mg" not in subjective.text.value
    assert page.note["subjective"].text == subjective.text.value  # what is copied and downloaded
    assert page.note["subjective"].state is SectionState.EDITED
    assert [text_of(row.objects[0]) for row in subjective.facts.objects] == ["«metoprolol» not found in the transcript"]
    assert text_of(page.facts_summary) == "7 facts not found in the transcript: check them before copying"

    for key in ("objective", "assessment", "plan"):  # two clicks a section, the list made again after each
        for _ in range(2):
            page.sections[key].facts.objects[0].objects[1].clicks += 1
        assert page.sections[key].facts.objects == [] and "metoprolol" not in page.note[key].text
    subjective.facts.objects[0].objects[1].clicks += 1
    assert page.facts_summary.object == ""  # none left: the count goes
    assert "not found" not in page.note.to_text()

    subjective.text.value += " Right knee pain for 3 weeks."  # the clinician types two invented facts
    assert [text_of(row.objects[0]) for row in subjective.facts.objects] == [
        "«Right knee» not found in the transcript", "«3 weeks» not found in the transcript"]
    assert text_of(page.facts_summary) == "2 facts not found in the transcript: check them before copying"
    subjective.facts.objects[1].objects[1].clicks += 1
    assert subjective.text.value.endswith("Right knee pain for.")  # the words around the fact stay
    assert text_of(page.facts_summary) == "1 fact not found in the transcript: check it before copying"

    page.clear()
    assert page.facts_summary.object == ""


def test_the_lexicon_is_found_while_its_package_is_still_installing(monkeypatch):
    """In the browser the lexicon's package arrives in the background after the app is drawn; until
    then find_spec answers with a stand-in that has no folder. Finding the data file waits for the
    install, as an import would, and so does the page's background load (without blocking)."""
    installs: list[str] = []
    page_js = SimpleNamespace(hearthLaterDone=False)

    def install():  # what web/worker.js's loadLater does: install the deferred packages, then say so
        installs.append("install")
        page_js.hearthLaterDone = True

    async def load_later():
        install()

    page_js.hearthLoadLater = load_later
    ffi = SimpleNamespace(can_run_sync=lambda: True, run_sync=lambda awaitable: asyncio.run(awaitable))
    monkeypatch.setitem(sys.modules, "js", page_js)
    monkeypatch.setitem(sys.modules, "pyodide.ffi", ffi)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    deferred_packages.wait_on_import({facts.LEXICON_PACKAGE: "drug-named-entity-recognition"})
    assert facts._lexicon_path().name == "drug_ner_dictionary.pkl.bz2" and facts._lexicon_path().exists()
    assert installs == ["install"]

    page_js.hearthLaterDone = False
    deferred_packages.wait_on_import({facts.LEXICON_PACKAGE: "drug-named-entity-recognition"})
    asyncio.run(deferred_packages.wait_for_install())
    assert installs == ["install", "install"] and not any(
        isinstance(finder, deferred_packages.DeferredPackages) for finder in sys.meta_path)
def test_the_reading_lines_the_time_left_rule_and_the_download_header():
    assert reading_progress_line(256, 1912) == "Reading the transcript: 256 of 1,912 tokens"
    assert reading_part(2, 5) == "Reading part 2 of 5"
    assert reading_part(2, 5, 1024, 3800) == "Reading part 2 of 5: 1,024 of 3,800 tokens"

    left = TimeLeft()  # withheld until measured; shown when not above the last shown, else withheld
    assert [left(e) for e in (None, 300.0, 480.0, 290.0, 290.0, 295.0, None, 120.0)] == [
        None, 300.0, None, 290.0, 290.0, None, None, 120.0]

    when = datetime(2026, 3, 4, 9, 5)
    assert draft_header(["SmolLM2-135M-Instruct (built in)"], "0.1.0", when) == (
        "Drafted by SmolLM2-135M-Instruct (built in) (Hearth 0.1.0) on 2026-03-04 at 09:05: "
        "a draft to be checked and completed by the clinician.")
    both = ["SmolLM2-135M-Instruct (built in)", "my_model (side-loaded)", "SmolLM2-135M-Instruct (built in)"]
    assert draft_header(both, "0.1.0", when, markdown=True) == (
        "Drafted by SmolLM2-135M-Instruct (built in) and my\\_model (side-loaded) (Hearth 0.1.0) on 2026-03-04 "
        "at 09:05: a draft to be checked and completed by the clinician.")


def progress_lines(page: NotesPage) -> list[str]:
    """Every line the progress pane shows from now on, in order (as read on the page)."""
    lines: list[str] = []
    page.progress.param.watch(lambda _e: lines.append(text_of(page.progress)), "object")
    return lines


def test_the_transcript_is_read_with_its_own_progress_before_the_first_section(models):
    page, scripted = scripted_page(models, prefill_chunk=128)
    dialogue, _ = transcript_with_facts(visits()[0]["dialogue"], SOAP)
    page.transcript.value = dialogue
    lines = progress_lines(page)
    texts: list[str] = []  # the first section's text at each line
    page.progress.param.watch(lambda _e: texts.append(page.note["subjective"].text if page.note else ""), "object")
    asyncio.run(page.draft())
    total = scripted.calls[0].prompt_tokens
    reading = [f"Reading the transcript: {n:,} of {total:,} tokens" for n in range(128, total, 128)]
    reading.append(f"Reading the transcript: {total:,} of {total:,} tokens")
    first = next(i for i, line in enumerate(lines) if line.startswith("Section 1 of 4: SUBJECTIVE"))
    assert lines[1:first] == [f"Reading the transcript ({page.plan.transcript_tokens:,} tokens)…", *reading]
    assert not any(texts[:first]) and texts[first]  # the section's line comes with its first words
    assert not any(line.startswith("Reading the transcript") for line in lines[first:])  # read once


class PacedModel:
    """The scripted model on a clock of its own: reading takes `prompt_tokens / 100` s, each piece
    `piece_seconds[section]` s (0.1 unless told), so the page sees a pace it can measure."""

    def __init__(self, scripted: ScriptedModel, piece_seconds: dict[str, float]) -> None:
        self.scripted, self.piece_seconds, self.now = scripted, piece_seconds, 0.0
        self.context_length, self.tokenizer = scripted.context_length, scripted.tokenizer

    def clock(self) -> float:
        return self.now

    async def stream(self, messages, request, cancel, on_prompt=None):
        tokens = self.scripted.prompt_tokens(messages)
        self.now += tokens / 100
        async for piece in self.scripted.stream(messages, request, cancel, on_prompt):
            self.now += self.piece_seconds.get(self.scripted.calls[-1].section, 0.1)
            yield piece


def test_no_time_left_until_the_pace_is_measured_and_never_a_higher_one(models, monkeypatch):
    paced = PacedModel(ScriptedModel(SOAP, piece_chars=1), {"assessment": 0.5})  # slower from the third section
    page = NotesPage(models, engine=lambda _loaded: paced)
    dialogue, _ = transcript_with_facts(visits()[0]["dialogue"], SOAP, per_section=6)
    page.transcript.value = dialogue
    lines = progress_lines(page)
    monkeypatch.setattr("time.perf_counter", paced.clock)
    asyncio.run(page.draft())
    monkeypatch.undo()
    drafting = [line for line in lines if line.startswith("Section")]
    # no estimate before the model has written a few pieces (MIN_PIECES after its first): its pace shows with it
    assert all("tokens/s" in line for line in drafting if " left · " in line)
    assert not any("left" in line for line in lines if not line.startswith("Section"))

    def seconds_left(line: str) -> int | None:
        found = re.search(r"at most about (\d+) (s|min) left", line)
        return None if found is None else int(found[1]) * (60 if found[2] == "min" else 1)

    shown = [seconds_left(line) for line in drafting if seconds_left(line) is not None]
    assert shown and shown == sorted(shown, reverse=True), drafting  # never a higher one
    slower = [line for line in drafting if line.startswith("Section 3 of 4")]
    assert any(seconds_left(line) is None for line in slower), slower  # the slower pace withholds it


def test_the_note_model_becomes_the_default_once_listed_and_a_clinicians_pick_is_kept():
    """The page starts before the site's models are read (only the built-in model listed); once the note model
    is listed it is chosen and its card shown, unless the clinician had picked a model."""
    from hearth.app.language_models import BUILTIN_ID, BUILTIN_LABEL, NOTE_ID, NOTE_LABEL, ModelChoice

    card = "Trained on ACI-Bench train and MTS-Dialog (CC BY 4.0); it drafts and a clinician decides."
    listed = [ModelChoice(BUILTIN_ID, BUILTIN_LABEL, 1, "built-in"),
              ModelChoice(NOTE_ID, NOTE_LABEL, 1, "built-in", card=card, purpose="notes")]
    models = LanguageModels()
    page = NotesPage(models)
    assert page.model.value == BUILTIN_ID and not page.card.visible
    models.choices = listed
    assert page.model.value == NOTE_ID and page.card.visible and card in text_of(page.card)
    page.model.value = BUILTIN_ID  # the clinician's pick
    assert not page.card.visible
    models.choices = list(listed)  # listed again (a model downloaded meanwhile)
    assert page.model.value == BUILTIN_ID
