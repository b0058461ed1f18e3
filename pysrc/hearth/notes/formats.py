"""Note formats: which sections a note has, how it reads as .txt and .md, and how text parses back.

Two formats: SOAP, and the six sections ACI-Bench's reference notes mostly use. Each section
names the ACI-Bench scoring division it falls in (see `divisions.py`) and how many tokens a draft
of it may take (set from the lengths of the reference notes in ACI-Bench train+valid, SmolLM2
tokens: e.g. HISTORY OF PRESENT ILLNESS with its folded-in histories has p90 ~390, max ~540).

Parsing is for notes written by people and by models, so it is forgiving and loses nothing:
a heading line may be upper or mixed case, may end in a colon, may be a Markdown heading or bold.
Lines naming the section itself ("HPI:", "PHYSICAL EXAM") are dropped; headings of finer
sub-sections ("SOCIAL HISTORY", "VITALS", "INSTRUCTIONS") fold into the section that covers them
and keep their heading line; every other line stays as text of the section above it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hearth.notes.divisions import DIVISIONS

NOT_STATED = "Not stated."


class UnknownFormatError(ValueError):
    pass


class UnknownSectionError(ValueError):
    pass


# --- headings -------------------------------------------------------------------------------------

_HEADING_DECORATION = re.compile(r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*(?P<name>.*?)\s*:?\s*(?:\*\*|__)?\s*:?\s*$")
_NAME_CHARS = re.compile(r"^[A-Za-z][A-Za-z /&-]*$")


def _normal(name: str) -> str:
    return " ".join(name.upper().split())


def heading_name(line: str) -> str | None:
    """The heading a line spells ("## History of present illness:" -> "HISTORY OF PRESENT ILLNESS"), if it
    could be one: short, letters only, alone on its line."""
    if len(line) > 80 or "\n" in line:
        return None
    match = _HEADING_DECORATION.match(line)
    name = match.group("name") if match else ""
    if not name or not _NAME_CHARS.match(name):
        return None
    return _normal(name)


@dataclass(frozen=True)
class SectionSpec:
    key: str
    heading: str
    division: str  # the ACI-Bench scoring division this section's text is scored in
    guidance: str  # what belongs in the section, in words a model (and a clinician) can follow
    max_tokens: int
    aliases: tuple[str, ...] = ()  # other names of this very section: dropped when parsing
    absorbs: tuple[str, ...] = ()  # headings of finer sub-sections that fold into this one


@dataclass(frozen=True)
class NoteFormat:
    key: str
    name: str
    sections: tuple[SectionSpec, ...]
    _owners: dict[str, tuple[SectionSpec, bool]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        owners: dict[str, tuple[SectionSpec, bool]] = {}
        for spec in self.sections:
            if spec.division not in DIVISIONS:
                raise ValueError(f"format {self.key!r}: section {spec.key!r} has unknown division {spec.division!r}")
            named = [(name, True) for name in (spec.heading, *spec.aliases)] + [(name, False) for name in spec.absorbs]
            for name, own in named:
                if _normal(name) in owners:
                    raise ValueError(f"format {self.key!r}: heading {name!r} is claimed by two sections")
                owners[_normal(name)] = (spec, own)
        object.__setattr__(self, "_owners", owners)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.sections)

    def section(self, key: str) -> SectionSpec:
        for spec in self.sections:
            if spec.key == key:
                return spec
        raise UnknownSectionError(
            f"The {self.name} format has no section {key!r}; its sections are {', '.join(self.keys)}."
        )

    def heading_owner(self, line: str) -> tuple[SectionSpec, bool] | None:
        """(section, is_own_name) when `line` is a heading line this format knows, else None."""
        name = heading_name(line)
        return None if name is None else self._owners.get(name)


_HISTORIES = (
    "MEDICAL HISTORY",
    "PAST MEDICAL HISTORY",
    "PAST HISTORY",
    "SURGICAL HISTORY",
    "PAST SURGICAL HISTORY",
    "SOCIAL HISTORY",
    "FAMILY HISTORY",
    "BIRTH HISTORY",
    "MEDICATIONS",
    "CURRENT MEDICATIONS",
    "ALLERGIES",
)
_VITALS = ("VITALS", "VITALS REVIEWED", "VITAL SIGNS")
_PLAN_PARTS = ("INSTRUCTIONS", "PROCEDURE", "FOLLOW-UP", "FOLLOW UP")

ACI = NoteFormat(
    "aci",
    "ACI-Bench",
    (
        SectionSpec(
            "chief_complaint",
            "CHIEF COMPLAINT",
            "subjective",
            "The main reason for the visit, in a few words.",
            32,
            aliases=("CC", "REASON FOR VISIT"),
        ),
        SectionSpec(
            "history_of_present_illness",
            "HISTORY OF PRESENT ILLNESS",
            "subjective",
            "The patient's story: age and sex, the problem, onset, duration, severity, what makes it better or "
            "worse, treatments tried, and relevant medical, surgical, social and family history, medications "
            "and allergies mentioned.",
            512,
            aliases=("HPI", "INTERVAL HISTORY"),
            absorbs=(*_HISTORIES, "SUBJECTIVE"),
        ),
        SectionSpec(
            "review_of_systems",
            "REVIEW OF SYSTEMS",
            "subjective",
            "Symptoms the patient reports or denies, one line per body system (for example 'Cardiovascular: "
            "Denies chest pain.').",
            160,
            aliases=("ROS",),
        ),
        SectionSpec(
            "physical_examination",
            "PHYSICAL EXAMINATION",
            "objective_exam",
            "Vital signs and what the clinician found on examination today, by body system.",
            256,
            aliases=("PHYSICAL EXAM", "EXAM", "EXAMINATION", "PE"),
            absorbs=(*_VITALS, "OBJECTIVE"),
        ),
        SectionSpec(
            "results",
            "RESULTS",
            "objective_results",
            "Results of tests discussed at the visit: laboratory values, imaging, ECG and other studies.",
            192,
            aliases=("FINDINGS",),
            absorbs=("LABS", "IMAGING"),
        ),
        SectionSpec(
            "assessment_and_plan",
            "ASSESSMENT AND PLAN",
            "assessment_and_plan",
            "Each problem addressed, with the clinician's assessment and the plan for it: medications, tests, "
            "referrals, patient education and follow-up.",
            512,
            aliases=("ASSESSMENT & PLAN", "A/P"),
            absorbs=("ASSESSMENT", "IMPRESSION", "PLAN", *_PLAN_PARTS),
        ),
    ),
)

SOAP = NoteFormat(
    "soap",
    "SOAP",
    (
        SectionSpec(
            "subjective",
            "SUBJECTIVE",
            "subjective",
            "What the patient reports: the reason for the visit, history of the present illness, relevant medical, "
            "surgical, social and family history, medications, allergies, and symptoms reported or denied.",
            640,
            absorbs=(
                "CHIEF COMPLAINT",
                "CC",
                "REASON FOR VISIT",
                "HISTORY OF PRESENT ILLNESS",
                "HPI",
                "INTERVAL HISTORY",
                "REVIEW OF SYSTEMS",
                "ROS",
                *_HISTORIES,
            ),
        ),
        SectionSpec(
            # ACI-Bench's tagger has no "OBJECTIVE" header, so in its scoring this text counts as subjective.
            "objective",
            "OBJECTIVE",
            "objective_exam",
            "What was observed and measured: vital signs, examination findings, and results of laboratory tests, "
            "imaging and other studies discussed.",
            384,
            absorbs=(
                "PHYSICAL EXAMINATION",
                "PHYSICAL EXAM",
                "EXAM",
                "EXAMINATION",
                "PE",
                *_VITALS,
                "RESULTS",
                "FINDINGS",
                "LABS",
                "IMAGING",
            ),
        ),
        SectionSpec(
            "assessment",
            "ASSESSMENT",
            "assessment_and_plan",
            "The clinician's assessment: each problem or diagnosis and the reasoning stated for it.",
            256,
            aliases=("IMPRESSION",),
            absorbs=("ASSESSMENT AND PLAN", "ASSESSMENT & PLAN", "A/P"),
        ),
        SectionSpec(
            "plan",
            "PLAN",
            "assessment_and_plan",
            "The plan: medications, tests, referrals, procedures, patient education and follow-up.",
            384,
            absorbs=_PLAN_PARTS,
        ),
    ),
)

FORMATS: dict[str, NoteFormat] = {ACI.key: ACI, SOAP.key: SOAP}


def get_format(key: str) -> NoteFormat:
    try:
        return FORMATS[key.strip().lower()]
    except KeyError:
        raise UnknownFormatError(
            f"Unknown note format {key!r}: choose one of {', '.join(FORMATS)} "
            f"({', '.join(f.name for f in FORMATS.values())})."
        ) from None


# --- parsing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedNote:
    sections: dict[str, str]  # every section of the format, "" where the text has none
    preamble: str  # text before the first heading (a title, a greeting): kept, never guessed into a section


def parse_note(text: str, fmt: NoteFormat) -> ParsedNote:
    """Split a note into `fmt`'s sections by its heading lines."""
    parts: dict[str, list[str]] = {spec.key: [] for spec in fmt.sections}
    preamble: list[str] = []
    current: list[str] = preamble
    block: list[str] = []

    def close() -> None:
        body = "\n".join(block).strip()
        if body:
            current.append(body)

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        owner = fmt.heading_owner(line)
        if owner is None:
            block.append(line)
            continue
        close()
        spec, own_name = owner
        current = parts[spec.key]
        block = [] if own_name else [line.strip()]
    close()
    return ParsedNote({key: "\n\n".join(chunks) for key, chunks in parts.items()}, "\n\n".join(preamble))


# --- rendering ------------------------------------------------------------------------------------


def _bodies(sections: Mapping[str, str], fmt: NoteFormat) -> list[tuple[SectionSpec, str]]:
    unknown = set(sections) - set(fmt.keys)
    if unknown:
        raise UnknownSectionError(f"The {fmt.name} format has no section(s) {', '.join(sorted(unknown))}.")
    return [(spec, sections.get(spec.key, "").strip() or NOT_STATED) for spec in fmt.sections]


def render_text(sections: Mapping[str, str], fmt: NoteFormat) -> str:
    """Plain text in ACI-Bench's own layout (upper-case heading, blank line, body), so the benchmark's
    tagger reads a drafted note the way it reads the reference notes."""
    return "\n\n".join(f"{spec.heading}\n\n{body}" for spec, body in _bodies(sections, fmt)) + "\n"


def render_markdown(sections: Mapping[str, str], fmt: NoteFormat) -> str:
    return "\n\n".join(f"## {spec.heading.capitalize()}\n\n{body}" for spec, body in _bodies(sections, fmt)) + "\n"
