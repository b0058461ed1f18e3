"""ACI-Bench's four scoring divisions of a clinical note, found the way the benchmark finds them.

ACI-Bench scores a note as a whole and in four divisions (subjective, objective exam, objective
results, assessment and plan). Its evaluation finds them with a line-based header tagger
(`baselines/sectiontagger.py` in github.com/wyim/aci-bench). Scores are only comparable with the
published ones if we split exactly as it does, quirks included, so this module re-implements its
rules (not its code):

- A line is a header when it starts (after optional spaces, case-insensitively) with one of the
  phrases below; a phrase written with a trailing colon ("plan :") also counts without the colon,
  but then only when the phrase is alone on its line. A space inside a phrase matches any run of
  whitespace, including none. The first matching header kind (in table order) names the line.
- A line starting with upper-case "IMPRESSION" (case-sensitive) opens assessment and plan.
- Text before the first header belongs to the subjective division.
- Each division keeps only its FIRST block; it runs from that header's line to the start of the
  next kept division (so later blocks of another division fold into the one before them).

The consequences are deliberate and visible in the scores: "Physical exam revealed ..." at the
start of a body line opens objective_exam; "VITALS" alone is not a header (only "VITALS
REVIEWED" is) and "OBJECTIVE" is not one either, so their text stays in the block above them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIVISIONS = ("subjective", "objective_exam", "objective_results", "assessment_and_plan")

# (header kind, division, phrases). Order matters: the first kind that matches a line names it.
HEADER_TABLE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("cc", "subjective", ("cc :", "chief complaint :", "reason for visit :", "CHIEF COMPLAINT")),
    (
        "hpi",
        "subjective",
        (
            "history :",
            "history of present illness :",
            "history of present illness",
            "hpi :",
            "hpi",
            "hpi notes :",
            "interval history :",
            "interval hx :",
            "subjective :",
            "HISTORY OF PRESENT ILLNESS",
        ),
    ),
    ("ros", "subjective", ("ros :", "review of system :", "review of systems :")),
    ("other_histories", "subjective", ("SOCIAL HISTORY", "PAST HISTORY")),
    (
        "pe",
        "objective_exam",
        (
            "physical exam :",
            "physical examination :",
            "pe :",
            "physical findings :",
            "examination :",
            "exam :",
            "PHYSICAL EXAMINATION",
            "PHYSICAL EXAM",
        ),
    ),
    ("vitals", "objective_exam", ("VITALS REVIEWED",)),
    ("findings", "objective_results", ("results :", "findings :", "RESULTS")),
    ("assessment", "assessment_and_plan", ("assessment :", "a:")),
    (
        "plan",
        "assessment_and_plan",
        ("plan :", "plan of care :", "p:", "medical decision-making plan :", "summary plan"),
    ),
    (
        "ap",
        "assessment_and_plan",
        (
            "ap :",
            "a / p :",
            "assessment and plan :",
            "assessment & plan :",
            "disposition / plan :",
            "ASSESSMENT AND PLAN",
        ),
    ),
)
IMPRESSION_KIND = ("impression", "assessment_and_plan")


def _phrase_regex(phrase: str) -> str:
    return r"\s*".join(re.escape(word) for word in phrase.split(" "))


def _kind_regex(phrases: tuple[str, ...]) -> re.Pattern[str]:
    starts = [_phrase_regex(p) for p in phrases]
    alone = [_phrase_regex(p[:-1]) for p in phrases if p.endswith(":")]
    pattern = r"\s*(?:" + "|".join(starts) + ")"
    if alone:
        pattern = "(?:" + pattern + r"|\s*(?:" + "|".join(alone) + r")\s*$)"
    return re.compile(pattern, re.IGNORECASE)


_KIND_PATTERNS = [(kind, division, _kind_regex(phrases)) for kind, division, phrases in HEADER_TABLE]
_IMPRESSION = re.compile(r"\s*IMPRESSION")


@dataclass(frozen=True)
class HeaderBlock:
    """A run of lines from one header line (or the note's start) to the next header line."""

    kind: str  # header kind from HEADER_TABLE, "impression", or "none" for text before any header
    division: str | None  # None only for text before the first header
    start: int
    end: int


@dataclass(frozen=True)
class DivisionSpan:
    division: str
    start: int
    end: int


def header_kind(line: str) -> tuple[str, str] | None:
    """The (kind, division) a line opens, or None when it is not a header line."""
    for kind, division, pattern in _KIND_PATTERNS:
        if pattern.match(line):
            return kind, division
    if _IMPRESSION.match(line):
        return IMPRESSION_KIND
    return None


def header_blocks(text: str) -> list[HeaderBlock]:
    """Cut `text` at every header line; the first block may be headerless text."""
    blocks: list[HeaderBlock] = []
    kind, division, start = "none", None, 0
    offset = 0
    for number, line in enumerate(text.split("\n")):
        found = header_kind(line)
        if found is not None:
            if number == 0:
                kind, division = found
            else:
                blocks.append(HeaderBlock(kind, division, start, offset))
                (kind, division), start = found, offset
        offset += len(line) + 1
    blocks.append(HeaderBlock(kind, division, start, len(text)))
    return blocks


def division_spans(text: str) -> list[DivisionSpan]:
    """The benchmark's division split: first block of each division, each running to the next one."""
    firsts: dict[str, int] = {}
    for i, block in enumerate(header_blocks(text)):
        division = block.division or ("subjective" if i == 0 else None)
        if division is not None and division not in firsts:
            firsts[division] = block.start
    ordered = sorted(firsts.items(), key=lambda item: item[1])
    ends = [start for _, start in ordered[1:]] + [len(text)]
    return [DivisionSpan(division, start, end) for (division, start), end in zip(ordered, ends, strict=True)]


def split_divisions(text: str) -> dict[str, str]:
    """Division name -> its text, for the divisions the note has."""
    return {span.division: text[span.start : span.end] for span in division_spans(text)}
