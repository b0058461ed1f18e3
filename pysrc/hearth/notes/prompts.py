"""What the model is asked: chat messages for drafting a section, for reading one part of a long
transcript, and for merging the parts; and the clean-up of what it writes back.

One section per request: a small model keeps to one job at a time far better than it writes a whole
note, and it lets the note stream in section by section, stop between sections, and regenerate one.

The system message and the transcript come first and are the same, byte for byte, in every section's
request; the section's instruction comes last. Hearth's decoder keeps the KV state of the last prompt
(`hearth.llm.model.generate.Decoder`), so it reads the transcript once per note instead of once per section
(README.md, "Language model speed"), and the instruction sits where small models attend best, right
before they answer.
"""

from __future__ import annotations

import re

from hearth.notes.formats import NOT_STATED, NoteFormat, SectionSpec, heading_name

Message = dict[str, str]

SYSTEM_PROMPT = (
    "You are a clinical documentation assistant. You draft one section of a clinical note from the transcript "
    "of a visit between a doctor and a patient.\n"
    "Rules:\n"
    "- Use only what the transcript says. Never add symptoms, findings, test results, medications, doses, "
    "diagnoses or plans that it does not mention.\n"
    f'- If the transcript says nothing that belongs in the section, write exactly: "{NOT_STATED}"\n'
    "- The transcript comes from speech recognition: some words are misheard, and the Doctor and Patient "
    "labels are sometimes swapped. Tell who is speaking from what is said.\n"
    "- Write like a clinical note: concise, third person, standard medical terms.\n"
    "- Write only the content of the section asked for: no heading, no introduction, no other sections."
)


def transcript_block(transcript_text: str) -> str:
    return f"Visit transcript:\n\n{transcript_text}\n\n"


def section_request(fmt: NoteFormat, spec: SectionSpec) -> str:
    return f"---\n\nWrite the {spec.heading} section of a {fmt.name} clinical note. {spec.guidance}"


def section_messages(transcript_text: str, fmt: NoteFormat, spec: SectionSpec) -> list[Message]:
    """Draft one section from a whole transcript."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": transcript_block(transcript_text) + section_request(fmt, spec)},
    ]


def part_block(part: int, parts: int, chunk_text: str) -> str:
    return f"Part {part} of {parts} of a visit transcript:\n\n{chunk_text}\n\n"


def extract_request(fmt: NoteFormat, spec: SectionSpec) -> str:
    return (
        f"---\n\nFrom this part only, list as short bullet points every fact that belongs in the {spec.heading} "
        f"section of a {fmt.name} clinical note ({spec.guidance}) If this part has none, write exactly: "
        f'"{NOT_STATED}"'
    )


def extract_messages(chunk_text: str, part: int, parts: int, fmt: NoteFormat, spec: SectionSpec) -> list[Message]:
    """Collect one section's facts from one part of a transcript too long to read at once."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": part_block(part, parts, chunk_text) + extract_request(fmt, spec)},
    ]


def merge_request(fmt: NoteFormat, spec: SectionSpec) -> str:
    return (
        f"---\n\nWrite the {spec.heading} section of a {fmt.name} clinical note from these notes only. "
        f"{spec.guidance} Say each fact once, in a sensible order."
    )


def merge_messages(extracts: list[str], fmt: NoteFormat, spec: SectionSpec) -> list[Message]:
    """Write one section from the facts collected from consecutive parts of the transcript."""
    notes = "\n\n".join(f"From part {i + 1}:\n{text}" for i, text in enumerate(extracts))
    content = f"Notes for the {spec.heading} section, taken from consecutive parts of one visit transcript:\n\n"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": content + notes + "\n\n" + merge_request(fmt, spec)},
    ]


# --- reading the answer ---------------------------------------------------------------------------

_NOT_STATED = re.compile(r"^[\s\"'*_-]*not\s+(?:stated|mentioned|discussed|documented)[\s.\"'*_]*$", re.IGNORECASE)


def is_not_stated(text: str) -> bool:
    return bool(_NOT_STATED.match(text)) or not text.strip()


def own_heading_prefix(line: str, spec: SectionSpec) -> int:
    """Length of a leading "HEADING:" naming this section on `line` (the model echoing it), else 0."""
    names = {" ".join(n.upper().split()) for n in (spec.heading, *spec.aliases)}
    if heading_name(line) in names:
        return len(line)
    match = re.match(r"^\s*(?:#{1,6}\s*)?(?:\*\*)?\s*([A-Za-z][A-Za-z /&-]*?)\s*(?:\*\*)?\s*:(?:\*\*)?\s*", line)
    if match and " ".join(match.group(1).upper().split()) in names:
        return match.end()
    return 0


def clean_section_text(text: str) -> str:
    """The final text of a section: trimmed, and exactly "Not stated." when it says nothing."""
    text = text.strip()
    return NOT_STATED if is_not_stated(text) else text
