"""What the Notes page says and how its small panes look: the wording it makes from the drafter's
data (the plan, the progress, the measured speed), and the HTML of the panes that show it.

Panel draws every pane inside its own shadow root, where the page's web/hearth.css does not reach, so
the panes that show this HTML carry `NOTES_CSS` as their stylesheet (`stylesheets=[NOTES_CSS]`).
Its colours are named once, at its top.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape

from hearth.i18n import N_, number, t
from hearth.notes.drafting import DraftPlan, SectionStarted
from hearth.notes.note import SectionState
from hearth.notes.speed import DraftSpeed

NOTES_CSS = """
:host {
  --notes-ok-ink: #1d5e2c;
  --notes-ok-background: #e7f4ea;
  --notes-quiet-ink: #6b5a4c;
  --notes-button-border: #ccc;
  --notes-button-background: #fff;
  --notes-check-ink: #7a4100;
  --notes-check-background: #fdf1e1;
}
.hearth-device { margin: .2rem 0; padding: .35rem .6rem; background: var(--notes-ok-background);
  color: var(--notes-ok-ink); border-radius: .4rem; display: inline-block; }
.hearth-section-state { color: var(--notes-quiet-ink); }
.hearth-copy { width: 140px; padding: 6px 10px; border: 1px solid var(--notes-button-border); border-radius: 4px;
  background: var(--notes-button-background); cursor: pointer; font: inherit; }
.hearth-copy:disabled { opacity: .5; cursor: default; }
.hearth-facts-summary { margin: .2rem 0; padding: .35rem .6rem; background: var(--notes-check-background);
  color: var(--notes-check-ink); border-radius: .4rem; display: inline-block; }
.hearth-unsupported { color: var(--notes-check-ink); margin: 0; }
"""

STATE_WORDS = {SectionState.EMPTY: N_("not drafted"), SectionState.DRAFTING: N_("drafting…"),
               SectionState.DONE: N_("drafted"), SectionState.STOPPED: N_("stopped part-way"),
               SectionState.EDITED: N_("edited by you"), SectionState.FAILED: N_("failed")}  # shown with t()
PROVIDERS = {"wasm": "WebAssembly", "webgpu": "WebGPU", "cpu": "CPU"}


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    return f"{seconds / 60:.0f} min"


# ---------------------------------------------------------------- words


def device_line(runtime: str, provider: str, threads: int | None, loaded: bool) -> str:
    """Where the model runs (or will, once it loads): the runtime and the provider of its session."""
    where = PROVIDERS.get(provider, provider)
    if threads:
        where += " (" + (t("1 thread") if threads == 1 else t("{count} threads", count=threads)) + ")"
    if loaded:
        return t("Running on this device · {runtime} · {where}", runtime=runtime, where=where)
    return t("Runs on this device · {runtime} · {where} (the model loads into this tab when you draft)",
             runtime=runtime, where=where)


def long_transcript_notice(plan: DraftPlan) -> str | None:
    """What the clinician should know before a long draft starts; None when the transcript is read whole."""
    if not plan.in_parts:
        return None
    minutes = plan.estimate_seconds() / 60
    return t(
        "This transcript ({tokens} tokens) is longer than the model can read at once ({context} tokens), so it is "
        "read in {parts} parts: for each of the {sections} sections the model lists the facts from every part, then "
        "writes the section from them. That is up to {requests} model runs, up to about {minutes} minutes on this "
        "device. Nothing is left out. You can stop at any time; what is written so far is kept.",
        tokens=number(plan.transcript_tokens), context=number(plan.context), parts=len(plan.chunks),
        sections=plan.sections, requests=plan.requests, minutes=max(1, round(minutes)))


def reading_line(plan: DraftPlan) -> str:
    return t("Reading the transcript ({tokens} tokens)…", tokens=number(plan.transcript_tokens))


def reading_progress_line(read: int, total: int) -> str:
    """The reading phase, as the model reports it: before the first section's first words the model
    reads the whole transcript, which with a small model in a browser takes many seconds."""
    return t("Reading the transcript: {read} of {total} tokens", read=number(read), total=number(total))


def reading_part(step: int, steps: int, read: int | None = None, total: int | None = None) -> str:
    """A long transcript's part being read; with the model's count once it reports one."""
    if read is not None and total:
        return t("Reading part {step} of {steps}: {read} of {total} tokens", step=step, steps=steps, read=number(read),
                 total=number(total))
    return t("Reading part {step} of {steps}", step=step, steps=steps)


def progress_line(section: SectionStarted, step: str, speed: DraftSpeed, left: float | None,
                  elapsed: float) -> str:
    """The section being drafted, its step, the speed, and at most how long is left: `left` is None
    when no estimate is to be shown (see `speed.TimeLeft` and `DraftPlan.seconds_left`)."""
    parts = [t("Section {number} of {count}: {heading}", number=section.index + 1, count=section.total,
               heading=section.heading)]
    if step:
        parts.append(step)
    if speed.decode_rate:
        parts.append(t("{rate} tokens/s", rate=f"{speed.decode_rate:.1f}"))
    if left is not None:
        parts.append(t("at most about {duration} left", duration=duration(left)) if left > 0 else t("almost done"))
    parts.append(t("{duration} so far", duration=duration(elapsed)))
    return " · ".join(parts)


def finished_line(stopped: bool, seconds: float, speed: DraftSpeed) -> str:
    took = duration(seconds) + (", " + t("{rate} tokens/s", rate=f"{speed.decode_rate:.1f}") if speed.decode_rate else "")
    if stopped:
        return t("Stopped after {took}. What was written is kept; regenerate any section or draft again.", took=took)
    return t("Done in {took}. Read every section and correct it before use.", took=took)


def draft_header(models: list[str], version: str, drafted: datetime, markdown: bool = False) -> str:
    """The line a downloaded note starts with: which model wrote it, in which Hearth, when (the
    device's local time), and what it is. A file outlives the page, so it says it is a machine draft
    wherever it is opened; `models` lists every model that wrote a section, in order."""
    names = " and ".join(dict.fromkeys(models)) or "a language model"
    line = (f"Drafted by {names} (Hearth {version}) on {drafted:%Y-%m-%d} at {drafted:%H:%M}: "
            "a draft to be checked and completed by the clinician.")
    # A side-loaded model's name is its folder's: markdown must not read its _ or * as emphasis.
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", line) if markdown else line


# ---------------------------------------------------------------- HTML


def device_html(text: str) -> str:
    return f'<p class="hearth-device" role="status">{escape(text)}</p>'


def section_state_html(heading: str, state: SectionState) -> str:
    return f"<span class='hearth-section-state'>{escape(heading)}: {escape(t(STATE_WORDS[state]))}</span>"


def progress_html(text: str) -> str:
    return f'<p aria-live="polite" class="hearth-progress">{escape(text)}</p>' if text else ""


def copy_button_html(text: str | None) -> str:
    """The "Copy note" button, carrying the note's text (None: no note yet, disabled). The page's
    web/boot.js writes the clipboard inside the click, as browsers require."""
    carried = escape(text, quote=True) if text is not None else ""
    disabled = " disabled" if text is None else ""
    return (f'<button type="button" class="hearth-copy" data-hearth-copy="{carried}"{disabled}>'
            f"{escape(t('Copy note'))}</button>")


# ---------------------------------------------------------------- the grounding check


def unsupported_count_line(count: int) -> str:
    """The note's count of unsupported facts, over its sections; "" when none remain."""
    if not count:
        return ""
    if count == 1:
        return t("1 fact not found in the transcript: check it before copying")
    return t("{count} facts not found in the transcript: check them before copying", count=count)


CHECKING_LINE = N_("Checking the note's facts against the transcript…")  # shown with t()


def check_failed_line(error: str) -> str:
    return t("The note's facts could not be checked against the transcript ({error}). Check them yourself before "
             "copying.", error=error)


def unsupported_html(fact_text: str) -> str:
    fact = " ".join(fact_text.split())
    return '<p class="hearth-unsupported">' + t("«<strong>{fact}</strong>» not found in the transcript",
                                                fact=escape(fact)) + "</p>"


def facts_summary_html(text: str) -> str:
    return f'<p class="hearth-facts-summary" role="status">{escape(text)}</p>' if text else ""
