"""The Notes page: a visit transcript in, a clinical note out, drafted by a language model in this tab.

The clinician pastes a transcript or loads a file (.txt, or .csv with a `dialogue` column, one visit
per row), picks the note format and the model, and watches the note arrive section by section.
Every section can be edited, regenerated or kept; the note can be copied or downloaded.

Privacy: the transcript and the note live in this page's memory only (Python objects and the
widgets showing them). Nothing is written to storage unless the clinician downloads the note, and
Clear drops the transcript, the note, the uploaded file and the model's record of the last run.

The grounding check: each section's facts (numbers with units, dates, medication names, sides of
the body; `hearth.notes.facts`) that the transcript does not state are listed under the section,
each with a Remove button, and counted at the top of the note, so the clinician sees them before
copying. A section is checked when it finishes drafting and after every edit (Remove is an edit:
the spans of the facts after it shift, so the list is made again from the new text).

The work itself is `hearth.notes` (the drafting pipeline, tested on CPython); this page only turns
its events into widgets and the clinician's clicks into its calls. The lines it makes from the
pipeline's data (the plan, the progress, the speed) and the HTML of its small panes are in
`notes_display`.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from typing import Any

import panel as pn
import param

from hearth import __version__
from hearth.app.deferred_packages import wait_for_install
from hearth.app.language_models import BUILTIN_ID, NOTE_ID, LanguageModels, ModelBusyError, ModelNotOnDeviceError
from hearth.app.notes_display import (
    CHECKING_LINE,
    NOTES_CSS,
    check_failed_line,
    copy_button_html,
    device_html,
    device_line,
    draft_header,
    facts_summary_html,
    finished_line,
    long_transcript_notice,
    progress_html,
    progress_line,
    reading_line,
    reading_part,
    reading_progress_line,
    section_state_html,
    unsupported_count_line,
    unsupported_html,
)
from hearth.app.tasks import background
from hearth.app.widgets.html import heading, notice, wrap_row
from hearth.i18n import language, number, t
from hearth.notes.drafting import (
    ChatModel,
    DraftError,
    DraftFinished,
    DraftOptions,
    DraftPlan,
    DraftStarted,
    NoteDrafter,
    SectionFinished,
    SectionProgress,
    SectionStarted,
    SectionText,
)
from hearth.notes.engine import EngineModel
from hearth.notes.facts import Fact, FactIndex, extract_facts, load_lexicon_in_steps, remove_fact
from hearth.notes.formats import ACI, SOAP, NoteFormat
from hearth.notes.note import Note, SectionState
from hearth.notes.speed import TimeLeft
from hearth.notes.transcript import (
    CSV_SUFFIXES,
    CsvTranscript,
    TranscriptError,
    decode_text_file,
    load_transcript_file,
    read_transcript_csv,
    transcript_from_text,
)
from hearth.runtime import IN_BROWSER, get_runtime

FORMATS = {
    "SOAP: Subjective, Objective, Assessment, Plan": SOAP.key,
    "ACI-Bench: Chief complaint, HPI, Review of systems, Physical exam, Results, Assessment and plan": ACI.key,
}
FORMAT_BY_KEY = {SOAP.key: SOAP, ACI.key: ACI}
PROGRESS_INTERVAL = 0.5  # seconds between progress-line redraws while tokens stream
NOTE_FILE = "clinical-note"
FILE_NAME_WAIT = 0.5  # seconds a file's bytes wait for a name that may not come (see "the transcript")
# onnxruntime-web (wasm32, 4 GB at most) failed with std::bad_alloc reading a 7,800-token prompt with
# SmolLM2 in Chromium (attention over the whole prompt at once); longer transcripts are read in parts.
BROWSER_CONTEXT_TOKENS = 4096
PAGE = "Notes"  # this page's name when it borrows the shared model


class SectionView:
    """One section of the note: its text (editable, labelled with the heading), Regenerate, and its state."""

    def __init__(self, page: NotesPage, key: str, heading_text: str) -> None:
        self.key = key
        self.heading_text = heading_text
        self.text = pn.widgets.TextAreaInput(label=heading_text, value="", auto_grow=True, rows=3, max_rows=30,
                                             sizing_mode="stretch_width",
                                             placeholder=t("Not drafted yet. You can also type here."))
        self.text.param.watch(lambda e: page.edited(key, e.new), "value")
        # the heading stays as the note writes it (the model's output format), in every language; only
        # English lowers its case inside the sentence ("Regenerate subjective")
        section = heading_text.lower() if language() == "en" else heading_text
        self.regenerate = pn.widgets.Button(label=t("Regenerate {section}", section=section), width=260,
                                            variant="outline")
        self.regenerate.on_click(lambda _e: background(page.regenerate(key)))
        self.title = pn.pane.HTML("", width=320, sizing_mode="fixed", margin=(10, 5, 0, 5), stylesheets=[NOTES_CSS])
        self.unsupported: list[Fact] = []  # the last check's facts that the transcript does not state
        self.facts = pn.Column(sizing_mode="stretch_width", css_classes=["hearth-unsupported-facts"])
        self.view = pn.Column(self.text, self.facts, wrap_row(self.regenerate, self.title), sizing_mode="stretch_width")

    def show_state(self, state: SectionState) -> None:
        self.title.object = section_state_html(self.heading_text, state)

    def show_unsupported(self, facts: Sequence[Fact], remove: Callable[[Fact], None]) -> None:
        """Under the box: each unsupported fact, quoted as it stands in the text, with its Remove button."""
        self.unsupported = list(facts)
        rows = []
        for fact in facts:
            button = pn.widgets.Button(label=t("Remove"), width=90, variant="outline")
            button.on_click(lambda _e, fact=fact: remove(fact))
            line = pn.pane.HTML(unsupported_html(fact.text), width=420, sizing_mode="fixed", margin=(12, 5, 0, 5),
                                stylesheets=[NOTES_CSS])
            rows.append(wrap_row(line, button))
        self.facts.objects = rows


class NotesPage:
    def __init__(self, models: LanguageModels, engine: Callable[[Any], ChatModel] = EngineModel) -> None:
        self.models = models
        self.engine = engine  # the loaded hearth.llm model -> the drafter's ChatModel
        self.note: Note | None = None
        self.drafter: NoteDrafter | None = None
        self.plan: DraftPlan | None = None
        self.running = False  # a draft or regeneration is under way (model loading included)
        self.stats: dict[str, float] = {}  # the last run: seconds, tokens_per_second, prefill_tokens_per_second
        self.csv_rows: list[CsvTranscript] = []
        self._source: tuple[str, str] | None = None  # (text, where it came from) of the last loaded file
        self._writing = False  # the page (not the clinician) is changing a section's text
        self._stop_asked = False
        self._last_progress = 0.0
        self._started_at = 0.0
        self._section = SectionStarted("", "", 0, 1)  # the section being drafted
        self._step = ""  # e.g. "Reading part 2 of 5"
        self._part = (0, 0)  # (part, parts) of a long transcript being read
        self._reading = False  # the first request reads the transcript, not cached: the line may say so
        self._reading_shown = False  # and it does
        self._time_left = TimeLeft()  # the estimates shown in this run: never a higher one
        # For the downloads' header: the note, when its draft began (local time), the models that wrote it.
        self._written: tuple[Note, datetime, list[str]] | None = None

        self.transcript = pn.widgets.TextAreaInput(
            label=t("Visit transcript"), rows=12, max_length=10_000_000, sizing_mode="stretch_width",
            placeholder=t("Paste the conversation here, one speaker turn per line, e.g.\n"
                          "[doctor] What brings you in today?\n[patient] I've had a cough for two weeks."))
        self.upload = pn.widgets.FileInput(label=t("Transcript file (.txt, or .csv with a 'dialogue' column)"),
                                           accept=".txt,.text,.md,.csv,text/plain,text/csv")
        self.upload.param.watch(self._file_changed, ["value", "filename"])
        self._file_named = asyncio.Event()  # set when a name arrives after bytes that came alone
        self.row = pn.widgets.Select(label=t("Visit (CSV row)"), options={}, visible=False, width=360)
        self.row.param.watch(lambda e: self.row_chosen(e.new), "value")
        self.format = pn.widgets.Select(label=t("Note format"), options=FORMATS, value=SOAP.key, width=520)
        self.model = pn.widgets.Select(label=t("Model"), options={}, width=360)
        self.card = pn.pane.HTML("", sizing_mode="stretch_width", visible=False)
        self._model_picked = False  # the clinician chose a model: a later listing keeps it
        self._listing = False
        self.model.param.watch(self._model_changed, "value")
        self.section_cap = pn.widgets.IntInput(label=t("Longest section, in tokens (0: the format's own limits)"),
                                               value=0, start=0, end=4096, step=16, width=360)
        models.param.watch(lambda _e: self._list_models(), "choices")
        # The built-in model's first use downloads it: its size and progress go on the progress line.
        models.param.watch(lambda e: e.new and self.running and self._progress(e.new), "fetching")
        self._list_models()

        self.draft_button = pn.widgets.Button(label=t("Draft note"), color="primary", width=160)
        self.stop_button = pn.widgets.Button(label=t("Stop"), color="danger", variant="outline", width=100,
                                             disabled=True)
        self.clear_button = pn.widgets.Button(label=t("Clear transcript and note"), width=260, variant="outline")
        self.draft_button.on_click(lambda _e: background(self.draft()))
        self.stop_button.on_click(lambda _e: self.stop())
        self.clear_button.on_click(lambda _e: self.clear())

        self.device = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[NOTES_CSS])
        self.message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.long_notice = pn.pane.HTML("", sizing_mode="stretch_width")
        self.progress = pn.pane.HTML("", sizing_mode="stretch_width")
        self.sections: dict[str, SectionView] = {}
        self.sections_box = pn.Column(sizing_mode="stretch_width")
        # the grounding check: the count at the top of the note, and the lexicon it needs, loaded in the
        # background once there is a transcript (so that the first check does not wait for it)
        self.facts_summary = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[NOTES_CSS])
        self._lexicon_ready = False
        self._lexicon_loading = False
        self._check_error: str | None = None
        self._checks_waiting: set[str] = set()  # sections to check once the lexicon is loaded
        self._transcript_facts: tuple[object, FactIndex] | None = None  # (the transcript, its facts)
        self.check_seconds: dict[str, float] = {}  # install_wait, lexicon (loading it), first_check, last_check
        self.transcript.param.watch(lambda e: e.new and self.prepare_check(), "value")
        self.copy = pn.pane.HTML("", width=150, sizing_mode="fixed", margin=(5, 10), stylesheets=[NOTES_CSS])
        self.download_txt = pn.widgets.FileDownload(callback=lambda: io.BytesIO(self._download("txt").encode()),
                                                    filename=f"{NOTE_FILE}.txt", label=t("Download .txt"), width=170)
        self.download_md = pn.widgets.FileDownload(callback=lambda: io.BytesIO(self._download("md").encode()),
                                                   filename=f"{NOTE_FILE}.md", label=t("Download .md"), width=170)
        self.note_actions = wrap_row(self.copy, self.download_txt, self.download_md)
        self.view = pn.Column(
            pn.pane.HTML(heading(t("Draft a clinical note"), 2) + "<p>" + t("Paste or load a visit transcript and a "
                         "language model drafts the note, section by section, <strong>in this browser tab</strong>. "
                         "The transcript and the note stay in this tab's memory: nothing is sent anywhere or saved "
                         "unless you copy or download the note. Read and correct every draft before using it.")
                         + " " + t("The model may write only numbers the transcript states: no age, dose or reading "
                                   "that nobody said.") + "</p>"),
            self.device, self.transcript, wrap_row(self.upload, self.row), wrap_row(self.format, self.model),
            self.card, self.section_cap, wrap_row(self.draft_button, self.stop_button, self.clear_button),
            self.message, self.long_notice, self.progress, self.sections_box, self.note_actions,
            sizing_mode="stretch_width")
        self._show_device()
        self._show_actions()

    # ---------------------------------------------------------------- choices

    def _list_models(self) -> None:
        """Every model; the note model first and chosen by default when the site has it (the list first
        holds only the built-in model, until the site's models are read: that is no choice to keep)."""
        choices = sorted(self.models.choices, key=lambda c: c.id != NOTE_ID)
        options = {c.label: c.id for c in choices}
        current = self.model.value
        default = NOTE_ID if NOTE_ID in options.values() else BUILTIN_ID
        self._listing = True
        try:
            self.model.options = options
            self.model.value = current if self._model_picked and current in options.values() else default
        finally:
            self._listing = False
        self._show_card()

    def _model_changed(self, _event: Any) -> None:
        if not self._listing:
            self._model_picked = True
        self._show_card()

    def _show_card(self) -> None:
        """The chosen model's one-line card (what it was trained on; that it drafts and a clinician decides)."""
        choice = self.models.choice(self.model.value) if self.model.value else None
        card = choice.card if choice is not None else ""
        self.card.object = f'<p class="hearth-model-card">{escape(card)}</p>' if card else ""
        self.card.visible = bool(card)

    @property
    def note_format(self) -> NoteFormat:
        return FORMAT_BY_KEY[self.format.value]

    async def start(self) -> None:
        """List the stored models too (they appear once downloaded)."""
        try:
            await self.models.refresh()
        except Exception as error:  # the store is unreadable: the built-in model still works
            self.message.object = notice(t("Could not list downloaded models ({error}); the built-in model works.",
                                           error=error), "warning")

    # ---------------------------------------------------------------- where it runs

    def _show_device(self, threads: int | None = None, provider: str | None = None) -> None:
        """Says truthfully where the model runs: the runtime, and the provider of the loaded session."""
        provider = provider or ("wasm" if IN_BROWSER else "cpu")
        loaded = self.models.loaded_id is not None
        self.device.object = device_html(device_line(get_runtime().name, provider, threads, loaded))

    async def _update_device(self, model: Any) -> None:
        session = getattr(getattr(model, "decoder", None), "session", None)
        provider = getattr(session, "provider", None) or (self.models.provider if IN_BROWSER else "cpu")
        threads = None
        runtime = get_runtime()
        if provider == "wasm" and hasattr(runtime, "threads"):
            threads = await runtime.threads()
        self._show_device(threads, provider)

    # ---------------------------------------------------------------- the transcript

    # A chosen file reaches Python as changes of the FileInput's `value` (its bytes) and `filename`.
    # BokehJS sets both at once but sends only what changed, and web/boot.js sends the first change on
    # its own and the rest once Python has taken it. So a new file's name comes after its bytes, in a
    # change of its own; a file named like the last one brings no name at all, and one with the last
    # file's bytes brings only its name. The name's arrival reads the file; bytes that come alone wait
    # for a name, and if none comes within FILE_NAME_WAIT the file is read under the name it already has.

    def _file_changed(self, *events: param.parameterized.Event) -> None:
        if any(event.name == "filename" for event in events):
            self._file_named.set()
            self.file_loaded()
        else:
            self._file_named = asyncio.Event()
            background(self._read_when_named(self._file_named))

    async def _read_when_named(self, named: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(named.wait(), FILE_NAME_WAIT)
        except TimeoutError:  # named like the last file: read it under that name
            self.file_loaded()

    def file_loaded(self) -> None:
        """A file was chosen: check it, then show it in the transcript box (or list its visits)."""
        data, name = self.upload.value, self.upload.filename or t("the file")
        if not data:
            return
        self.message.object = ""
        try:
            if "." + name.rsplit(".", 1)[-1].lower() in CSV_SUFFIXES:
                rows = read_transcript_csv(data, name)
                if len(rows) == 1:
                    self._use_text(load_transcript_file(name, data, 0), rows[0].dialogue)
                    self._show_rows([])
                else:
                    self._show_rows(rows)
                    self.message.object = notice(t("{file} holds {count} visits, one per row: choose the visit under "
                                                   "'Visit (CSV row)'.", file=name, count=len(rows)), "info")
                return
            transcript = load_transcript_file(name, data)
            self._use_text(transcript, decode_text_file(data, name))
            self._show_rows([])
        except TranscriptError as error:
            self.message.object = notice(f"{error} " + t("Nothing you had here was changed."), "error")

    def _show_rows(self, rows: list[CsvTranscript]) -> None:
        self.csv_rows = rows
        self.row.options = {t("Choose a visit…"): None} | {
            t("{visit}: {count} characters", visit=r.label, count=number(len(r.dialogue))): r.index for r in rows}
        self.row.value = None
        self.row.visible = bool(rows)

    def row_chosen(self, index: int | None) -> None:
        if index is None or not self.csv_rows:
            return
        name = self.upload.filename or t("the CSV file")
        try:
            transcript = load_transcript_file(name, self.upload.value, index)
        except TranscriptError as error:
            self.message.object = notice(f"{error} " + t("Nothing you had here was changed."), "error")
            return
        self._use_text(transcript, self.csv_rows[index].dialogue)
        self.message.object = notice(t("Loaded {source}.", source=transcript.source), "success")

    def _use_text(self, transcript, raw: str) -> None:
        text = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
        self._source = (text, transcript.source)
        self.transcript.value = text
        self.message.object = notice(t("Loaded {source}: {count} speaker turns.", source=transcript.source,
                                       count=len(transcript.turns)), "success")

    def _read_transcript(self):
        text = self.transcript.value or ""
        source = self._source[1] if self._source and self._source[0] == text else t("the pasted text")
        return transcript_from_text(text, source)

    # ---------------------------------------------------------------- drafting

    def _options(self) -> DraftOptions:
        context = BROWSER_CONTEXT_TOKENS if IN_BROWSER else None
        cap = int(self.section_cap.value or 0)
        if cap <= 0:
            return DraftOptions(context_limit=context)
        return DraftOptions(context_limit=context, section_max_tokens=cap,
                            extract_max_tokens=min(DraftOptions.extract_max_tokens, cap))

    async def draft(self) -> None:
        """Draft a new note from the transcript box, in the chosen format, with the chosen model."""
        if self.running:
            self.message.object = notice(t("A note is already being drafted. Stop it first, or wait until it "
                                           "finishes."), "warning")
            return
        try:
            transcript = self._read_transcript()
        except TranscriptError as error:
            kept = " " + t("The note below is unchanged.") if self.note is not None and not self.note.is_empty else ""
            self.message.object = notice(f"{error}{kept}", "error")
            return
        self.message.object = self.long_notice.object = ""
        note = Note(self.note_format, transcript)
        await self._run(note, None)

    async def regenerate(self, key: str) -> None:
        """Draft one section again (sampled, so the wording changes); the other sections stay."""
        if self.note is None or self.note.transcript is None:
            self.message.object = notice(t("There is no note to regenerate a section of: draft one first."), "warning")
            return
        if self.running:
            self.message.object = notice(t("A note is being drafted. Stop it first, or wait until it finishes."),
                                         "warning")
            return
        self.message.object = ""
        await self._run(self.note, key)

    async def _run(self, note: Note, key: str | None) -> None:
        self.running, self._stop_asked = True, False
        self._started_at = time.perf_counter()
        self.stats = {}
        self._reading, self._time_left = False, TimeLeft()
        self._show_actions()
        choice = self.models.choice(self.model.value)
        size = f" ({choice.size_bytes / 1e6:,.0f} MB)" if choice and choice.size_bytes else ""
        self._progress(t("Loading {model}{size} into this tab…", model=choice.label if choice else t("the model"),
                         size=size) if self.models.loaded_id != self.model.value else t("Starting…"))
        try:
            async with self.models.use(PAGE, self.model.value) as model:
                self.stats["load_seconds"] = time.perf_counter() - self._started_at
                self._started_at = time.perf_counter()  # drafting time, without the model's loading
                await self._update_device(model)
                if self._stop_asked:
                    self._progress(t("Stopped before drafting began."))
                    return
                drafting_model = self.engine(model)
                if self.drafter is None:
                    self.drafter = NoteDrafter(drafting_model)
                self.drafter.model, self.drafter.options = drafting_model, self._options()
                self.drafter.on_prompt = self._prompt_read
                if key is None:
                    self._show_note(note)
                self._record_writer(choice.label if choice else self.model.value)
                events = self.drafter.draft(note) if key is None else self.drafter.regenerate(note, key)
                async for event in events:
                    if note is self.note:  # else Clear was pressed: the run is ending and its text goes
                        self._on_event(event)
        except ModelBusyError as error:
            self._progress("")
            self.message.object = notice(t("Cannot draft now: {error}.", error=error), "warning")
        except ModelNotOnDeviceError as error:
            self._progress("")
            self.message.object = notice(str(error), "warning")
        except DraftError as error:
            self._progress("")
            self.message.object = notice(str(error), "error")
        except Exception as error:  # the model failed: say so, keep what was written
            self._progress("")
            self.message.object = notice(t("Drafting failed: {error}. What was written so far is kept.", error=error),
                                         "error")
            for view in self.sections.values():
                if self.note is not None:
                    view.show_state(self.note[view.key].state)
        finally:
            self.running = False
            if note is not self.note:  # cleared while drafting: drop what was written after Clear too
                note.clear()
                if self.drafter is not None:
                    self.drafter.forget()
            self._show_actions()

    def _show_note(self, note: Note) -> None:
        """A fresh note: one view per section (the old note, if any, is replaced)."""
        self.note = note
        self.sections = {s.key: SectionView(self, s.key, s.heading) for s in note.sections}
        for view in self.sections.values():
            view.show_state(SectionState.EMPTY)
        self.sections_box.objects = [pn.pane.HTML(heading(t("{format} note", format=note.format.name), 3)),
                                     self.facts_summary,
                                     *(v.view for v in self.sections.values())]
        self._show_facts_summary()

    def _set_text(self, key: str, text: str) -> None:
        self._writing = True
        try:
            self.sections[key].text.value = text
        finally:
            self._writing = False

    def _on_event(self, event) -> None:
        note = self.note
        if isinstance(event, DraftStarted):
            self.plan = event.plan
            self.long_notice.object = notice(long_transcript_notice(event.plan) or "", "warning")
            self._progress(reading_line(event.plan))
        elif isinstance(event, SectionStarted):
            self._section = event
            self._step = ""
            self._set_text(event.key, "")
            self.sections[event.key].show_state(SectionState.DRAFTING)
            self._show_unsupported(event.key, [])
            self.sections[event.key].text.disabled = True
            self._start_reading()
        elif isinstance(event, SectionProgress):
            self._part = (event.step, event.steps)
            self._step = reading_part(event.step, event.steps)
            self._progress_now(force=True)
        elif isinstance(event, SectionText):
            self._set_text(event.key, note[event.key].text if note is not None else event.text)
            self._progress_now(force=self._end_reading())
        elif isinstance(event, SectionFinished):
            self._end_reading()
            view = self.sections[event.key]
            self._set_text(event.key, event.text)
            view.text.disabled = False
            view.show_state(event.state)
            self._show_actions()
            self.check(event.key)
        elif isinstance(event, DraftFinished):
            self._finished(event.stopped)

    # ---------------------------------------------------------------- the progress line

    # Before the first words the model reads the transcript (the decoder keeps it for the later
    # sections, which then start at once), so until then a draft's line says "Reading the transcript",
    # with the model's own count, rather than naming a section nothing is written for yet. A
    # regeneration names its section: the model usually still holds the transcript and starts at once;
    # only a report of a read still under way (it did not) turns its line into the reading line. A long
    # transcript's parts are read for every section: their count goes into the section's line.

    def _start_reading(self) -> None:
        """A section starts: its first request reads the whole transcript when nothing was read yet."""
        assert self.drafter is not None and self.plan is not None  # SectionStarted follows DraftStarted
        whole_note = self._section.total == self.plan.sections
        self._reading = not self.plan.in_parts and not self.drafter.speed.prompt_tokens
        self._reading_shown = self._reading and whole_note  # DraftStarted's reading line stays
        self._part = (0, 0)
        if not self._reading_shown:
            self._progress_now(force=True)

    def _end_reading(self) -> bool:
        """The first words came (or the section ended without any): back to the section's line."""
        shown, self._reading, self._reading_shown = self._reading_shown, False, False
        return shown

    def _prompt_read(self, read: int, total: int) -> None:
        """The model's report of reading a prompt (`NoteDrafter.on_prompt`), between its chunks."""
        if self._reading and (self._reading_shown or read < total):
            self._reading_shown = True
            self._progress(reading_progress_line(read, total))
        elif self.plan is not None and self.plan.in_parts and self._part[0]:
            self._step = reading_part(*self._part, read, total)
            self._progress_now(force=True)

    def _progress_now(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        assert self.drafter is not None  # progress comes from its events
        elapsed = now - self._started_at
        speed, left = self.drafter.speed, None
        if self.plan is not None and self._section.total == self.plan.sections:  # a regeneration: no estimate
            left = self._time_left(self.plan.seconds_left(speed, elapsed))
        self._progress(progress_line(self._section, self._step, speed, left, elapsed))

    def _finished(self, stopped: bool) -> None:
        seconds = time.perf_counter() - self._started_at
        assert self.drafter is not None  # DraftFinished is its event
        speed = self.drafter.speed
        self.stats = {**self.stats, "seconds": seconds, "tokens_per_second": speed.decode_rate,
                      "prefill_tokens_per_second": speed.prefill_rate}
        self._progress(finished_line(stopped, seconds, speed))

    def _progress(self, text: str) -> None:
        self.progress.object = progress_html(text)

    def stop(self) -> None:
        """Stop drafting after the token being written; what is written stays."""
        self._stop_asked = True
        if self.drafter is not None:
            self.drafter.stop()
        if self.running:
            self._progress(t("Stopping…"))

    # ---------------------------------------------------------------- the clinician's changes

    def edited(self, key: str, text: str) -> None:
        if self._writing or self.note is None:
            return
        self.note.edit(key, text)
        self.sections[key].show_state(SectionState.EDITED)
        self._show_actions()
        self.check(key)

    def _text(self, kind: str) -> str:
        if self.note is None:
            return ""
        return self.note.to_markdown() if kind == "md" else self.note.to_text()

    # ---------------------------------------------------------------- the downloads

    # A downloaded file leaves the page and may be read later by someone else, so it starts with who
    # drafted it and what it is. Copy carries the note alone: it goes straight into the record the
    # clinician is writing, where a header would be deleted by hand each time, by the one who checks it.

    def _record_writer(self, label: str) -> None:
        """A run is about to write into the note: remember its model (and, for a new note, the time)."""
        if self.note is not None and (self._written is None or self._written[0] is not self.note):
            self._written = (self.note, datetime.now(), [])
        if self._written is not None and label not in self._written[2]:
            self._written[2].append(label)

    def _download(self, kind: str) -> str:
        """A download's text: the header line, a blank line, the note."""
        if self.note is None or self._written is None or self._written[0] is not self.note:
            return self._text(kind)
        _note, drafted, models = self._written
        return f"{draft_header(models, __version__, drafted, markdown=kind == 'md')}\n\n{self._text(kind)}"

    def _show_actions(self) -> None:
        has_note = self.note is not None and any(s.text.strip() for s in self.note.sections)
        self.draft_button.disabled = self.running
        self.stop_button.disabled = not self.running
        for view in self.sections.values():
            view.regenerate.disabled = self.running
        self.download_txt.disabled = self.download_md.disabled = not has_note
        self.copy.object = copy_button_html(self._text("txt") if has_note else None)

    def clear(self) -> None:
        """Forget the visit: transcript, uploaded file, note, and the model's record of the last run."""
        self.stop()
        if self.note is not None:
            self.note.clear()
        if self.drafter is not None:
            self.drafter.forget()
        self.note, self.plan, self._source, self._written = None, None, None, None
        self.transcript.value = ""
        self.upload.clear()
        self.upload.param.update(value=None, filename=None)
        self._show_rows([])
        self.sections = {}
        self.sections_box.objects = []
        self._forget_checks()
        self.download_txt.data = self.download_md.data = None
        self.long_notice.object = ""
        self._progress("")
        self.message.object = notice(t("Cleared: the transcript and the note are gone from this tab."), "info")
        self._show_actions()

    # ---------------------------------------------------------------- the grounding check

    def prepare_check(self) -> None:
        """Load the drug lexicon in the background, once: the check needs it, and reading it takes a
        few seconds. Started by the first transcript, not at start-up, so a visitor who never drafts a
        note never pays for it; in the browser it waits for the background install of the lexicon's
        package (the app is drawn by the time there is a transcript)."""
        if self._lexicon_ready or self._lexicon_loading or self._check_error:
            return
        self._lexicon_loading = True
        background(self._load_lexicon())

    async def _load_lexicon(self) -> None:
        try:
            started = time.perf_counter()
            await wait_for_install()
            installed = time.perf_counter()
            for _ in load_lexicon_in_steps():
                await asyncio.sleep(0)  # let the page's other work run between the steps
            self._lexicon_ready = True
            self.check_seconds |= {"install_wait": installed - started, "lexicon": time.perf_counter() - installed}
        except Exception as error:  # the package is missing or failed to install: say so, draft anyway
            self._check_error = str(error)
        finally:
            self._lexicon_loading = False
        waiting, self._checks_waiting = self._checks_waiting, set()
        for key in waiting:
            self.check(key)
        self._show_facts_summary()

    def check(self, key: str) -> None:
        """List the section's facts that the transcript does not state (later, if the lexicon is still loading)."""
        note = self.note
        if note is None or note.transcript is None or key not in self.sections:
            return
        if not self._lexicon_ready:
            if not self._check_error:
                self._checks_waiting.add(key)
                self.prepare_check()
            self._show_facts_summary()
            return
        started = time.perf_counter()
        if self._transcript_facts is None or self._transcript_facts[0] is not note.transcript:
            self._transcript_facts = (note.transcript, FactIndex(extract_facts(note.transcript.text)))
        index = self._transcript_facts[1]
        text = self.sections[key].text.value or ""
        self._show_unsupported(key, index.unsupported(text))
        self.check_seconds["last_check"] = time.perf_counter() - started
        self.check_seconds.setdefault("first_check", self.check_seconds["last_check"])  # with the transcript's facts

    def _show_unsupported(self, key: str, facts: Sequence[Fact]) -> None:
        self._checks_waiting.discard(key)
        self.sections[key].show_unsupported(facts, lambda fact: self.remove(key, fact))
        self._show_facts_summary()

    def remove(self, key: str, fact: Fact) -> None:
        """Take the fact out of the section's text, as the clinician's edit (which checks the section again)."""
        view = self.sections.get(key)
        if view is None:
            return
        try:
            text = remove_fact(view.text.value or "", fact)
        except ValueError:  # the text changed since the check: check it again rather than cut the wrong words
            self.check(key)
            return
        view.text.value = text  # as if typed: `edited` records it and checks the section again

    def _show_facts_summary(self) -> None:
        if self.note is None:
            self.facts_summary.object = ""
        elif self._check_error:
            self.facts_summary.object = facts_summary_html(check_failed_line(self._check_error))
        elif self._checks_waiting:
            self.facts_summary.object = facts_summary_html(t(CHECKING_LINE))
        else:
            count = sum(len(view.unsupported) for view in self.sections.values())
            self.facts_summary.object = facts_summary_html(unsupported_count_line(count))

    def _forget_checks(self) -> None:
        """Clear: the transcript's facts and the lists go with the note."""
        self._transcript_facts = None
        self._checks_waiting.clear()
        self.facts_summary.object = ""
