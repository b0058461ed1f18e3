"""The note being drafted and edited: its sections, their state, and the transcript it came from.

It lives in memory only. Nothing here writes to storage; `to_text()` / `to_markdown()` hand the UI
the text to copy or download when the clinician asks, and `clear()` drops the transcript and every
section so nothing of the visit stays reachable from the note.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hearth.notes.formats import NoteFormat, SectionSpec, parse_note, render_markdown, render_text
from hearth.notes.transcript import Transcript


class SectionState(StrEnum):
    EMPTY = "empty"  # not drafted yet
    DRAFTING = "drafting"
    DONE = "done"  # drafted to the end
    STOPPED = "stopped"  # the clinician stopped drafting part-way; the text so far is kept
    EDITED = "edited"  # the clinician changed it; regenerate replaces it only when asked to
    FAILED = "failed"  # the model raised an error while drafting it


@dataclass
class NoteSection:
    spec: SectionSpec
    text: str = ""
    state: SectionState = SectionState.EMPTY

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def heading(self) -> str:
        return self.spec.heading


class Note:
    def __init__(self, fmt: NoteFormat, transcript: Transcript | None = None) -> None:
        self.format = fmt
        self.transcript = transcript
        self._sections = {spec.key: NoteSection(spec) for spec in fmt.sections}

    @classmethod
    def from_text(cls, text: str, fmt: NoteFormat, transcript: Transcript | None = None) -> Note:
        """A saved or pasted note, back into sections for editing (text before the first heading is
        kept at the top of the first section rather than dropped)."""
        note = cls(fmt, transcript)
        parsed = parse_note(text, fmt)
        for key, body in parsed.sections.items():
            if parsed.preamble and key == fmt.sections[0].key:
                body = f"{parsed.preamble}\n\n{body}".strip()
            if body:
                note.edit(key, body)
        return note

    def __getitem__(self, key: str) -> NoteSection:
        self.format.section(key)  # raises a clear UnknownSectionError
        return self._sections[key]

    @property
    def sections(self) -> list[NoteSection]:
        return list(self._sections.values())

    def texts(self) -> dict[str, str]:
        return {key: section.text for key, section in self._sections.items()}

    def edit(self, key: str, text: str) -> None:
        section = self[key]
        section.text = text
        section.state = SectionState.EDITED

    def to_text(self) -> str:
        return render_text(self.texts(), self.format)

    def to_markdown(self) -> str:
        return render_markdown(self.texts(), self.format)

    def clear(self) -> None:
        self.transcript = None
        for section in self._sections.values():
            section.text = ""
            section.state = SectionState.EMPTY

    @property
    def is_empty(self) -> bool:
        return self.transcript is None and not any(s.text for s in self._sections.values())
