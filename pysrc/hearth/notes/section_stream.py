"""The stream filter: the pieces a model writes for one section in, that section's text out.

Small models write more than the section asked for. `SectionStream` drops what they add around it:

- an echoed heading ("HPI:"), a preamble line ("Here is the PLAN section of the note:", "The
  patient's story:" echoing the instruction) or a rule ("---") before the text begins;
- a run-on into another section: the section ends at that section's heading;
- a loop: a line that repeats the line just before it is dropped; the section ends when a line
  comes round a third time, or a sentence a fourth (a short one a fifth), which also saves the
  tokens a looping model would burn. Real notes do repeat a line once (a problem's name in a
  summary and again over its plan) and a sentence more ("We discussed treatment options today."
  under each of three problems), but never the same line twice in a row, and no ACI-Bench
  reference note trips these limits;
- copied dialogue: the section ends at a line that starts like a transcript turn ("Patient: ...",
  "[doctor] ..."): the Notes page's transcript is made of such lines and no note is.

It shows text as soon as it is decided. A line that might still turn into a heading, and the start
of a first line that might still be a preamble (up to 80 characters, or its first sentence end),
are held back until then, so the clinician never sees a heading appear and vanish.

Read top-down: the patterns a line is judged by, then the filter (`feed` and `finish` first, the
judging after).
"""

from __future__ import annotations

import re

from hearth.notes.formats import NoteFormat, SectionSpec, heading_name
from hearth.notes.prompts import own_heading_prefix

# ==================================================================================================
# What a line may be.
# ==================================================================================================

_LEADING_MARKUP = re.compile(r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*")
_RULE = re.compile(r"^[\s\-*_=#~`]*$")  # an empty or decorative line
_UNIT_END = re.compile(r"[.!?](?=\s)|\n")  # where a sentence (or a line) ends
_PREAMBLE = re.compile(r"\bsection\b|\bhere is\b|\bclinical note\b", re.IGNORECASE)
_INLINE_LABEL = re.compile(r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*([A-Za-z][A-Za-z /&-]*?)\s*(?:\*\*|__)?\s*:")
_SPEAKERS = ("doctor:", "patient:", "[doctor]", "[patient]")


def _normal(name: str) -> str:
    return " ".join(name.upper().split())


def _line_key(line: str) -> str:
    """A line as loop detection compares it: case, spacing and bullets aside."""
    return " ".join(line.lower().split()).strip("-*•#> ")


def _turn_start(partial: str) -> str:
    return partial.lstrip(" -*•>").lower()


# ==================================================================================================
# The filter.
# ==================================================================================================


class SectionStream:
    """One section's text as the model writes it. `feed()` each piece and show what it returns;
    `finish()` when the model stops. `ended` turns true when the model began another section or
    looped: stop the model then.

    `text` is the section so far; when a loop is cut after part of it was shown, `text` drops that
    part, so callers take `text` as the truth."""

    def __init__(self, fmt: NoteFormat, spec: SectionSpec) -> None:
        self.fmt, self.spec = fmt, spec
        others = [s for s in fmt.sections if s.key != spec.key]
        # "Plan: ..." written inline starts another section; "Impression: ..." inside results does not.
        self._foreign_labels = {
            _normal(n) for s in others for n in (s.heading, *s.aliases) if " " in n or n == s.heading
        }
        self._names = [_normal(n) for s in fmt.sections for n in (s.heading, *s.aliases, *s.absorbs)]
        self.text = ""  # the section so far
        self.ended = False  # the model began another section, or looped
        self._pending = ""  # the start of a line not shown yet
        self._line_open = False  # part of the current line is shown, so it is not a heading
        self._unit_start = 0  # where the sentence being written starts in `text`
        self._seen: dict[str, int] = {}  # sentences so far, for loop detection
        self._lines: dict[str, int] = {}  # finished lines so far, for loop detection
        self._line_start = 0  # where the line being written starts in `text`
        self._last_line = ""  # the previous non-empty line's key

    # --- the stream -------------------------------------------------------------------------------

    def feed(self, piece: str) -> str:
        """Text to show now, from the next piece the model wrote."""
        if self.ended:
            return ""
        before = len(self.text)
        self._pending += piece
        while not self.ended:
            if "\n" in self._pending:
                line, self._pending = self._pending.split("\n", 1)
                if self._line_open:
                    self._line_open = False
                    self._show(line + "\n")
                    continue
                judged = self._judge(line, complete=True)
                if judged is None:
                    self.ended, self._pending = True, ""
                    break
                if judged or self.text:
                    self._show(judged + "\n")
                continue
            undecided = (self._could_become_heading(self._pending) or self._might_be_preamble(self._pending)
                         or self._might_be_a_turn(self._pending))
            if self._pending and (self._line_open or not undecided):
                judged = self._pending if self._line_open else self._judge(self._pending, complete=False)
                if judged is None:
                    self.ended, self._pending = True, ""
                    break
                self._pending, self._line_open = "", True
                self._show(judged)
            break
        return self.text[before:]

    def finish(self) -> str:
        """Text still held back when the model stopped."""
        before = len(self.text)
        if not self.ended and self._pending:
            line, self._pending = self._pending, ""
            judged = line if self._line_open else self._judge(line, complete=True)
            if judged is None:
                self.ended = True
            else:
                self._show(judged)
        self._check_loops(final=True)
        if not self.ended and self.text[self._line_start :].strip():
            self._check_line()
        return self.text[before:]

    def _show(self, text: str) -> None:
        if not self.text:
            text = text.lstrip()
        self.text += text
        self._check_loops()
        if not self.ended and self.text.endswith("\n"):
            self._check_line()

    # --- loops ------------------------------------------------------------------------------------

    def _check_loops(self, final: bool = False) -> None:
        """Count the sentences finished since last time; on a loop, take it back and end."""
        while not self.ended:
            rest = self.text[self._unit_start :]
            found = _UNIT_END.search(rest)
            end = self._unit_start + found.end() if found else (len(self.text) if final and rest.strip() else None)
            if end is None:
                return
            if self._loops(self.text[self._unit_start : end]):
                self.text, self.ended, self._pending = self.text[: self._unit_start].rstrip(" "), True, ""
                return
            self._unit_start = end

    def _check_line(self) -> None:
        """Judge the line just finished: drop it when it repeats the one before, end on its third time."""
        key = _line_key(self.text[self._line_start :])
        if key and key == self._last_line:
            self.text = self.text[: self._line_start]
            self._unit_start = min(self._unit_start, len(self.text))
            return
        if len(key) >= 4:
            self._lines[key] = self._lines.get(key, 0) + 1
            if self._lines[key] >= 3:
                self.text, self.ended, self._pending = self.text[: self._line_start].rstrip(" "), True, ""
                self._unit_start = min(self._unit_start, len(self.text))
                return
        if key:
            self._last_line = key
        self._line_start = len(self.text)

    def _loops(self, unit: str) -> bool:
        """Count a finished sentence or line; True when it comes round once too often."""
        key = " ".join(unit.lower().split()).strip("-*•#> ")
        if len(key) < 4:
            return False
        self._seen[key] = self._seen.get(key, 0) + 1
        return self._seen[key] > (3 if len(key) >= 20 else 4)

    # --- deciding lines ---------------------------------------------------------------------------

    def _judge(self, line: str, complete: bool) -> str | None:
        """Text to show for a (complete or decided) line, or None when the section ends at it."""
        if complete and heading_name(line) is not None:
            owner = self.fmt.heading_owner(line)
            if owner is not None:
                spec, _ = owner
                if spec.key != self.spec.key:
                    return None
                return "" if own_heading_prefix(line, self.spec) else line  # an echoed own heading goes
        label = _INLINE_LABEL.match(line)
        if label and _normal(label.group(1)) in self._foreign_labels:
            return None
        if _turn_start(line).startswith(_SPEAKERS):
            return None
        if complete and not self.text.strip() and self._is_preamble(line):
            return ""
        cut = own_heading_prefix(line, self.spec)
        return line[cut:] if cut else line

    def _could_become_heading(self, partial: str) -> bool:
        rest = _normal(_LEADING_MARKUP.sub("", partial, count=1).rstrip("*_: "))
        return not rest or any(name.startswith(rest) for name in self._names)

    def _might_be_a_turn(self, partial: str) -> bool:
        """The line so far could still become "Patient:" or "[doctor]"."""
        start = _turn_start(partial)
        return any(speaker.startswith(start) for speaker in _SPEAKERS) if start else False

    def _might_be_preamble(self, partial: str) -> bool:
        """The first line, still short of a sentence, could be "Here is the ... section:"."""
        if self.text.strip() or re.search(r"[.!?](\s|$)", partial):
            return False
        return len(partial) < (200 if _PREAMBLE.search(partial) else 80)

    def _is_preamble(self, line: str) -> bool:
        if _RULE.match(line):
            return True
        if not line.rstrip(" *_").endswith(":"):
            return False
        words = line.strip(" *_#:").lower()
        return bool(_PREAMBLE.search(line)) or (len(words.split()) >= 3 and words in self.spec.guidance.lower())
