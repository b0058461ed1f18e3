"""A visit transcript: loaded from pasted text, a .txt file or a .csv row, checked, split into turns.

What a clinician gets for bad input is a `TranscriptError` (a `ValueError`) whose message says what
was wrong and what to do; nothing they already had is touched.

Length: a transcript longer than the model's context is read in parts (see `drafting.py`), but there
is still a ceiling, `MAX_TRANSCRIPT_CHARS` = 60,000 characters, about an hour of conversation
(people speak ~150 words a minute, ~6 characters a word with the space). ACI-Bench's longest visit is
14,186 characters. A 200,000-character file is 3-4 hours of talk: almost surely several visits or
the wrong file, and drafting it on a laptop CPU would take hours (every section re-reads every part).
Refusing it at once, with the reason and the way forward, is what a clinician would want rather
than a progress bar that ends after lunch.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from hearth.i18n import number, t

MAX_TRANSCRIPT_CHARS = 60_000
CHARS_PER_MINUTE_OF_TALK = 900  # ~150 words a minute x ~6 characters a word

TEXT_SUFFIXES = (".txt", ".text", ".md")
CSV_SUFFIXES = (".csv",)


class TranscriptError(ValueError):
    """Bad transcript input; the message is meant for the clinician."""


class EmptyTranscriptError(TranscriptError):
    pass


class UnreadableFileError(TranscriptError):
    pass


class UnsupportedFileError(TranscriptError):
    pass


class MissingDialogueColumnError(TranscriptError):
    pass


class CsvRowError(TranscriptError):
    pass


class TranscriptTooLongError(TranscriptError):
    pass


# --- turns ----------------------------------------------------------------------------------------

# "[doctor] ...", "[patient_guest] ..." (ACI-Bench), or "Doctor: ...", "Dr: ...", "Pt - ..." (typed notes).
_BRACKET_TAG = re.compile(r"^\s*\[(?P<tag>[A-Za-z][\w -]{0,30})\]\s*")
_ROLE_TAG = re.compile(
    r"^\s*(?P<tag>doctor|dr|physician|clinician|provider|nurse|np|pa|patient|pt|guest|family|caregiver|mother|"
    r"father|parent|spouse|interpreter)\s*(?::|-\s)\s*",
    re.IGNORECASE,
)
_ROLE_NAMES = {
    "dr": "doctor",
    "physician": "doctor",
    "clinician": "doctor",
    "provider": "doctor",
    "np": "doctor",
    "pa": "doctor",
    "pt": "patient",
    "patient_guest": "patient's companion",
    "guest": "patient's companion",
    "family": "patient's companion",
    "caregiver": "patient's companion",
    "mother": "patient's companion",
    "father": "patient's companion",
    "parent": "patient's companion",
    "spouse": "patient's companion",
}


@dataclass(frozen=True)
class Turn:
    speaker: str | None  # "doctor", "patient", "patient's companion", "nurse", ...; None when untagged
    text: str

    def render(self) -> str:
        return f"{self.speaker.capitalize()}: {self.text}" if self.speaker else self.text


def _speaker(tag: str) -> str:
    tag = " ".join(tag.lower().replace("_", " ").split())
    return _ROLE_NAMES.get(tag.replace(" ", "_"), _ROLE_NAMES.get(tag, tag))


_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:?!])(?=\s|$)")
_SPLIT_NT = re.compile(r"(\w) n't\b")


def tidy(text: str) -> str:
    """Undo speech-recognition spacing ("hi , martha ." -> "hi, martha.", "do n't" -> "don't") and
    collapse whitespace: fewer tokens for the model, same words."""
    text = " ".join(text.split())
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return _SPLIT_NT.sub(r"\1n't", text)


def split_turns(text: str) -> list[Turn]:
    """Speaker turns. A line with a speaker tag starts a turn; untagged lines continue the one above."""
    turns: list[Turn] = []
    speaker: str | None = None
    words: list[str] = []
    started = False
    for line in text.split("\n"):
        match = _BRACKET_TAG.match(line) or _ROLE_TAG.match(line)
        if match:
            if started and words:
                turns.append(Turn(speaker, tidy(" ".join(words))))
            speaker, words, started = _speaker(match.group("tag")), [line[match.end() :]], True
        elif line.strip():
            if not started:  # an untagged transcript: each non-empty line is its own turn
                turns.append(Turn(None, tidy(line)))
            else:
                words.append(line)
    if started and words and " ".join(words).strip():
        turns.append(Turn(speaker, tidy(" ".join(words))))
    return [t for t in turns if t.text]


# --- the transcript -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transcript:
    turns: tuple[Turn, ...]
    source: str  # where it came from, for the clinician: "the pasted text", "visit.csv, row 3 (D2N003)"
    raw_chars: int

    @property
    def text(self) -> str:
        """One turn per line, "Doctor: ..." / "Patient: ...": what the model reads."""
        return "\n".join(turn.render() for turn in self.turns)


def _describe_minutes(minutes: float) -> str:
    if minutes < 90:
        return t("about {minutes} minutes", minutes=max(1, round(minutes)))
    return t("about {hours} hours", hours=f"{minutes / 60:.1f}")


ARTICLES = ("the", "der", "die", "das")  # how a source that is not a file name starts, in English and German


def _cap(source: str) -> str:
    """ "the pasted text" opens a sentence as "The pasted text"; a file name keeps its own case."""
    return source[0].upper() + source[1:] if source.split(" ", 1)[0] in ARTICLES else source


def transcript_from_text(text: str, source: str = "the pasted text") -> Transcript:
    """Check and split a transcript; raises a `TranscriptError` saying what to fix."""
    if "\x00" in text:
        raise UnreadableFileError(t(
            "{source} contains binary data, not text. Paste the transcript itself, or load a .txt file or a .csv file "
            "with a 'dialogue' column.", source=_cap(source)))
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise EmptyTranscriptError(t(
            "{source} is empty. Paste the visit transcript, or load a .txt file or a .csv file with a 'dialogue' "
            "column.", source=_cap(source)))
    if len(text) > MAX_TRANSCRIPT_CHARS:
        minutes = len(text) / CHARS_PER_MINUTE_OF_TALK
        raise TranscriptTooLongError(t(
            "{source} is {count} characters long, {duration} of conversation. Hearth drafts a note for one visit of "
            "up to {limit} characters (about an hour); drafting longer ones on this device would take hours. Check "
            "that it holds a single visit, or split it into visits and draft each one.", source=_cap(source),
            count=number(len(text)), duration=_describe_minutes(minutes), limit=number(MAX_TRANSCRIPT_CHARS)))
    turns = split_turns(text)
    if not turns:
        raise EmptyTranscriptError(t("{source} has speaker tags but no words. Check that it is the right file.",
                                     source=_cap(source)))
    return Transcript(tuple(turns), source, len(text))


# --- files ----------------------------------------------------------------------------------------


def decode_text_file(data: bytes, name: str) -> str:
    """Bytes of a text file as str: UTF-8 (with or without BOM), or UTF-16 with a BOM (Windows
    "Unicode" text). Anything else is refused rather than guessed, since a wrong guess garbles
    drug names silently."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data[:8192]:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise UnreadableFileError(t(
                "{file} is not UTF-8 text (byte {byte} at position {position} is not valid UTF-8). Re-save it as UTF-8 "
                "text (in most editors: Save As, Encoding: UTF-8), or open it and paste the text.", file=name,
                byte=f"0x{data[error.start]:02x}", position=number(error.start))) from None
    raise UnreadableFileError(t(
        "{file} does not look like a text file (it contains binary data). Hearth reads .txt transcripts and .csv "
        "files with a 'dialogue' column; for a Word or PDF document, copy the text and paste it.", file=name))


@dataclass(frozen=True)
class CsvTranscript:
    """One row of a transcript CSV, for a row chooser: `label` names it, `dialogue` is the raw text."""

    index: int  # 0-based data row
    label: str
    dialogue: str
    fields: dict[str, str]  # the whole row, for columns such as dataset and encounter_id


_ID_COLUMNS = ("encounter_id", "id", "visit_id", "name")


def read_transcript_csv(data: bytes, name: str = "the CSV file") -> list[CsvTranscript]:
    """Every row of a CSV with a `dialogue` column (any case), in file order."""
    text = decode_text_file(data, name)
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, 64 * 1024 * 1024))  # a long transcript is one big field; judge it later
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = [c for c in (reader.fieldnames or []) if c is not None]
        if not columns:
            raise EmptyTranscriptError(t("{file} is empty. Load a .csv file with a 'dialogue' column, one visit per row.",
                                         file=name))
        lower = {c.strip().lower(): c for c in columns}
        if "dialogue" not in lower:
            shown = ", ".join(repr(c) for c in columns[:8]) + (", ..." if len(columns) > 8 else "")
            raise MissingDialogueColumnError(t(
                "{file} has no 'dialogue' column (its columns are {columns}). Hearth reads the transcript from a column "
                "named 'dialogue'; rename the transcript column, or paste the transcript instead.", file=name,
                columns=shown))
        column = lower["dialogue"]
        id_column = next((lower[c] for c in _ID_COLUMNS if c in lower), None)
        rows = []
        for i, row in enumerate(reader):
            label = t("row {number}", number=i + 1) + (f" ({row[id_column]})" if id_column and row.get(id_column) else "")
            fields = {k: v or "" for k, v in row.items() if k is not None}
            rows.append(CsvTranscript(i, label, row.get(column) or "", fields))
    except csv.Error as error:
        raise UnreadableFileError(t("{file} is not a readable CSV file ({error}). Check that it is the right file.",
                                    file=name, error=error)) from None
    finally:
        csv.field_size_limit(old_limit)
    if not rows:
        raise EmptyTranscriptError(t("{file} has a 'dialogue' column but no rows. Add one visit per row.", file=name))
    return rows


def load_transcript_file(name: str, data: bytes, row: int | None = None) -> Transcript:
    """A transcript from an uploaded file's name and bytes; `row` (0-based) picks a CSV row."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in CSV_SUFFIXES:
        rows = read_transcript_csv(data, name)
        if row is None:
            if len(rows) > 1:
                raise CsvRowError(t("{file} holds {count} visits, one per row. Choose the row to draft a note for.",
                                    file=name, count=len(rows)))
            row = 0
        if not 0 <= row < len(rows):
            raise CsvRowError(t("{file} has rows 1 to {count}; there is no row {row}.", file=name, count=len(rows),
                                row=row + 1))
        chosen = rows[row]
        return transcript_from_text(chosen.dialogue, f"{name}, {chosen.label}")
    if suffix in TEXT_SUFFIXES:
        return transcript_from_text(decode_text_file(data, name), name)
    raise UnsupportedFileError(t(
        "Hearth cannot read {file}: it reads .txt transcripts and .csv files with a 'dialogue' column. For another "
        "kind of document, copy the transcript and paste it.", file=name))
