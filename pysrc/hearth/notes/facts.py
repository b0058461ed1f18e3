"""Facts in a note, and whether the visit transcript supports them: the grounding check.

A fact is something a clinician would copy into a record and that a model can get wrong: a number
with its unit (ages, doses, vitals, lab values, durations, counts), a date, a medication name, a
side of the body. This module owns what counts as a fact, how each is normalised, and when a
draft's fact counts as supported, for both the Notes page (mark and remove unsupported facts) and
`evaluate` (unsupported and missed facts per note):

    facts = extract_facts(draft)                       # Fact(kind, value, unit, start, end, ...)
    checked = check_facts(draft, transcript)           # each fact with .supported
    cleaned = remove_fact(draft, checked[0].fact)      # the span cut out, spacing tidied

Extraction runs in this order, on one token stream of the text:
  1. tokenize: words, digit runs, and the symbols that join numbers (`/ % ° - . ,`), with offsets;
  2. dates written with digits (`2023-01-05`, `1/5/2023`, `12/2019`) and with month names ("January 5th,
     2023", "the fifth of January", "March of 2021");
  3. numbers, in digits or in words ("twenty", "one hundred and twenty", "fifty-six", "two point
     five", the spoken "one twenty" and "twenty twenty two"), then what follows them: a ratio
     ("120/80", "one twenty over eighty", "5 out of 10") and a unit ("mg", "milligrams",
     "year old", "weeks", "mmHg"; a range's first number takes its second's unit);
  4. medication names, from the lexicon of the `drug-named-entity-recognition` package
     (brand and generic names map to one canonical name);
  5. sides: left / right / bilateral next to a body-part word ("left knee", "on the right").

Negation does not remove a fact: "denies ibuprofen" still names a drug and "no pain in the left
knee" still names a side, and the transcript must mention both; `Fact.negated` says a cue ("no",
"denies", "not", ...) came earlier in the clause, for display. "No fever" holds no fact at all.

A draft's fact is supported when the transcript holds a fact with the same key: a number has the
same value and the same unit (or the transcript states the value with no unit, as speech often
does); a date agrees on every part the draft states; a medication has the same canonical drug; a
side has the same side and, when the draft names one, the same body part. Pure Python, so the
page runs it in Pyodide.
"""

from __future__ import annotations

import bz2
import importlib.util
import pickle
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

LEXICON_PACKAGE = "drug_named_entity_recognition"
LEXICON_PIN = "drug-named-entity-recognition==2.0.9"


class LexiconUnavailableError(RuntimeError):
    """The drug-name lexicon's package is not installed; the message says what to install."""


@dataclass(frozen=True)
class Fact:
    """One fact and where it is: `text[start:end]` is the words it was read from.

    kind: "age", "dose", "vital", "lab", "duration", "count", "number", "date", "medication", "side".
    value: the normalised value ("20", "120/80", "2023-01-05", "????-03-05", "acetaminophen", "left").
    unit: normalised unit ("mg", "mmhg", "week", "" when none); for a side, its body part.
    """

    kind: str
    value: str
    unit: str
    start: int
    end: int
    text: str
    negated: bool = False


@dataclass(frozen=True)
class CheckedFact:
    fact: Fact
    supported: bool


# ---------------------------------------------------------------------------------------------------
# 1. Tokens: words, digit runs and joining symbols, each with its character offsets
# ---------------------------------------------------------------------------------------------------

# A word may carry digits after its first letter ("a1c", "b12", "covid"), so those are never read as
# numbers; a digit run right after a letter is also skipped ("covid-19", "l4-5": see _glued).
_TOKEN = re.compile(r"[A-Za-zµ][A-Za-z0-9µ]*(?:'[A-Za-z]+)?|\d+|[/%°\-.,:;()\[\]?!\n]")


@dataclass(frozen=True)
class _Token:
    text: str  # lower-cased
    start: int
    end: int


def _tokenize(text: str) -> list[_Token]:
    return [_Token(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


_CLAUSE_END = frozenset(".;:?!\n()[]")


# ---------------------------------------------------------------------------------------------------
# 2. Dates
# ---------------------------------------------------------------------------------------------------

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}

_ISO_DATE = re.compile(r"(?<![\d/])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d/])")
_SLASH_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?![\d/])")
_MONTH_YEAR = re.compile(r"(?<![\d/-])(\d{1,2})[/-]((?:19|20)\d\d)(?![\d/-])")  # "12/2019", "12-2019"


def _date_value(year: int | None, month: int | None, day: int | None) -> str | None:
    if month is not None and not 1 <= month <= 12 or day is not None and not 1 <= day <= 31:
        return None
    y = f"{year:04d}" if year is not None else "????"
    m = f"{month:02d}" if month is not None else "??"
    d = f"{day:02d}" if day is not None else "??"
    return f"{y}-{m}-{d}" if day is not None else f"{y}-{m}"


def _digit_dates(text: str) -> list[tuple[str, int, int]]:
    found = []
    for m in _ISO_DATE.finditer(text):
        value = _date_value(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if value:
            found.append((value, m.start(), m.end()))
    for m in _SLASH_DATE.finditer(text):
        year = int(m.group(3))
        year += 2000 if year < 100 else 0  # US month/day/year, as ACI-Bench's notes write them
        value = _date_value(year, int(m.group(1)), int(m.group(2)))
        if value:
            found.append((value, m.start(), m.end()))
    for m in _MONTH_YEAR.finditer(text):
        value = _date_value(int(m.group(2)), int(m.group(1)), None)
        if value:
            found.append((value, m.start(), m.end()))
    return found


# ---------------------------------------------------------------------------------------------------
# 3. Numbers, ratios and units
# ---------------------------------------------------------------------------------------------------

_UNITS_WORDS = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_SMALL = {w: i for i, w in enumerate(_UNITS_WORDS)} | {w: 10 + i for i, w in enumerate(_TEENS)}
_TENS_VALUE = {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000}
_NUMBER_WORDS = frozenset(_SMALL) | frozenset(_TENS_VALUE) | frozenset(_SCALES) | frozenset(_ORDINALS)
_DIGIT_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})

# Units: each normalised name with the token sequences that spell it, longest first when matched.
# The list is Hearth's own: the units a visit note writes are few, and no maintained package names
# them in a form that runs in Pyodide without pulling in a whole unit system.
_UNIT_SPELLINGS: dict[str, list[str]] = {
    "mg": ["mg", "mgs", "milligram", "milligrams"],
    "mcg": ["mcg", "µg", "ug", "microgram", "micrograms"],
    "g": ["g", "gm", "gram", "grams"],
    "kg": ["kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"],
    "lb": ["lb", "lbs", "pound", "pounds"],
    "oz": ["oz", "ounce", "ounces"],
    "ml": ["ml", "cc", "ccs", "milliliter", "milliliters", "millilitre", "millilitres"],
    "l": ["liter", "liters", "litre", "litres"],
    "unit": ["unit", "units", "iu", "international units"],
    "meq": ["meq", "milliequivalent", "milliequivalents"],
    "mg/dl": ["mg / dl", "mg / deciliter", "milligrams per deciliter", "milligram per deciliter"],
    "mmol/l": ["mmol / l", "mmol", "millimoles per liter"],
    "mmhg": ["mmhg", "mm hg", "millimeters of mercury"],
    "bpm": ["bpm", "beats per minute", "beats / min", "beats / minute", "beats a minute"],
    "breaths/min": ["breaths per minute", "breaths / min", "breaths a minute"],
    "%": ["%", "percent", "per cent"],
    "°f": ["° f", "°f", "degrees fahrenheit", "degree fahrenheit", "fahrenheit", "f"],
    "°c": ["° c", "°c", "degrees celsius", "degree celsius", "celsius", "c"],
    "degree": ["degrees", "degree", "°"],
    "cm": ["cm", "centimeter", "centimeters", "centimetre", "centimetres"],
    "mm": ["mm", "millimeter", "millimeters", "millimetre", "millimetres"],
    "inch": ["inch", "inches"],
    "foot": ["foot", "feet", "ft"],
    "year-old": ["year - old", "years - old", "year old", "years old", "yo", "y / o"],
    "second": ["second", "seconds", "sec", "secs"],
    "minute": ["minute", "minutes", "min", "mins"],
    "hour": ["hour", "hours", "hr", "hrs"],
    "day": ["day", "days"],
    "week": ["week", "weeks", "wk", "wks"],
    "month": ["month", "months", "mo", "mos"],
    "year": ["year", "years", "yr", "yrs"],
    "time": ["time", "times"],
    "tablet": ["tablet", "tablets", "tab", "tabs", "pill", "pills", "capsule", "capsules"],
    "puff": ["puff", "puffs"],
    "pack": ["pack", "packs"],
    "drink": ["drink", "drinks"],
    "cigarette": ["cigarette", "cigarettes"],
}
_UNIT_PHRASES = sorted(
    ((tuple(spelling.split()), unit) for unit, spellings in _UNIT_SPELLINGS.items() for spelling in spellings),
    key=lambda pair: -len(pair[0]),
)
_UNIT_KIND = {
    **dict.fromkeys(["mg", "mcg", "g", "ml", "l", "unit", "meq", "tablet", "puff"], "dose"),
    **dict.fromkeys(["mmhg", "bpm", "breaths/min", "°f", "°c", "degree"], "vital"),
    **dict.fromkeys(["mg/dl", "mmol/l", "%"], "lab"),
    **dict.fromkeys(["second", "minute", "hour", "day", "week", "month", "year"], "duration"),
    **dict.fromkeys(["time", "pack", "drink", "cigarette", "kg", "lb", "oz", "cm", "mm", "inch", "foot"], "count"),
    "year-old": "age",
}
# Spoken temperatures often drop the scale ("a hundred and one degrees"): a bare degree matches either.
_COMPATIBLE_UNITS = {frozenset({"degree", "°f"}), frozenset({"degree", "°c"})}


def _canonical_number(digits: str) -> str | None:
    try:
        number = Decimal(digits.replace(",", ""))
    except InvalidOperation:
        return None
    return format(number.normalize(), "f")


def _small_group(tokens: Sequence[_Token], k: int) -> tuple[int, int, bool] | None:
    """A number word or a tens word with its units word ("fifty-six"): (value, index after, ordinal)."""
    word = tokens[k].text if k < len(tokens) else ""
    if word in _TENS_VALUE:
        after = k + 1
        if after < len(tokens) and tokens[after].text == "-" and tokens[after].start == tokens[k].end:
            after += 1
        if after < len(tokens):
            unit_word = tokens[after].text
            if 0 < _SMALL.get(unit_word, 0) < 10:
                return _TENS_VALUE[word] + _SMALL[unit_word], after + 1, False
            if 0 < _ORDINALS.get(unit_word, 0) < 10:
                return _TENS_VALUE[word] + _ORDINALS[unit_word], after + 1, True
        return _TENS_VALUE[word], k + 1, False
    if word in _SMALL:
        return _SMALL[word], k + 1, False
    if word in _ORDINALS:
        return _ORDINALS[word], k + 1, True
    return None


def _word_number(tokens: Sequence[_Token], i: int) -> tuple[str, int] | None:
    """A number spelled in words starting at tokens[i]: (digits, index after it), or None.

    With scale words it composes as written English does ("one hundred and twenty", "two thousand
    five"). Without them, a run of 0-99 groups is read the way speech says codes and years: "one
    twenty" = 120, "one forty two" = 142, "twenty twenty two" = 2022. A later group joins only when
    it is 10 or more, so "two three days" stays two numbers.
    """
    items: list[tuple[str, int]] = []  # ("n", 0-99) or ("s", 100 | 1000)
    j = end = i
    if j + 1 < len(tokens) and tokens[j].text in ("a", "an") and tokens[j + 1].text in _SCALES:
        items.append(("n", 1))
        j += 1
    while j < len(tokens):
        word = tokens[j].text
        spoken = len(items) >= 2 and all(kind == "n" for kind, _ in items)
        if word in _SCALES:
            if not items or spoken or items[-1] == ("s", 100) and _SCALES[word] == 100:
                break
            items.append(("s", _SCALES[word]))
            j = end = j + 1
            if j + 1 < len(tokens) and tokens[j].text == "and" and tokens[j + 1].text in _NUMBER_WORDS:
                j += 1  # "one hundred and twenty"
            continue
        group = _small_group(tokens, j)
        if group is None:
            break
        value, after, ordinal = group
        if items and items[-1][0] == "n" and (value < 10 or any(kind == "s" for kind, _ in items)):
            break
        items.append(("n", value))
        j = end = after
        if ordinal:
            break
    j = end
    if not items:
        return None
    if any(kind == "s" for kind, _ in items):
        total = current = 0
        for kind, value in items:
            if kind == "n":
                current += value
            elif value == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * 1000
                current = 0
        digits = str(total + current)
    else:
        digits = str(items[0][1]) + "".join(f"{value:02d}" for _, value in items[1:])
    if j + 1 < len(tokens) and tokens[j].text == "point" and _SMALL.get(tokens[j + 1].text, 10) < 10:
        decimals = ""
        while j + 1 < len(tokens) and _SMALL.get(tokens[j + 1].text, 10) < 10:
            decimals += str(_SMALL[tokens[j + 1].text])
            j += 1
        digits, j = f"{digits}.{decimals}", j + 1
    return digits, j


def _adjacent(tokens: Sequence[_Token], a: int, b: int) -> bool:
    return b < len(tokens) and tokens[a].end == tokens[b].start


def _digit_number(tokens: Sequence[_Token], i: int) -> tuple[str, int] | None:
    """Digits at tokens[i], with thousands commas and a decimal part ("1,000", "2.5", "5th")."""
    digits, j = tokens[i].text, i + 1
    while (
        j + 1 < len(tokens) and tokens[j].text == "," and _adjacent(tokens, j - 1, j) and _adjacent(tokens, j, j + 1)
        and tokens[j + 1].text.isdigit() and len(tokens[j + 1].text) == 3
    ):  # fmt: skip
        digits, j = digits + tokens[j + 1].text, j + 2
    if (
        j + 1 < len(tokens) and tokens[j].text == "." and _adjacent(tokens, j - 1, j) and _adjacent(tokens, j, j + 1)
        and tokens[j + 1].text.isdigit()
    ):  # fmt: skip
        digits, j = f"{digits}.{tokens[j + 1].text}", j + 2
    if j < len(tokens) and tokens[j].text in _DIGIT_ORDINAL_SUFFIXES and _adjacent(tokens, j - 1, j):
        j += 1
    value = _canonical_number(digits)
    return (value, j) if value is not None else None


def _glued(tokens: Sequence[_Token], i: int) -> bool:
    """Digits that belong to a name: "covid-19", "l4-5" (a word, a hyphen, the digits, no spaces)."""
    return (
        i >= 2 and tokens[i - 1].text == "-" and _adjacent(tokens, i - 1, i) and _adjacent(tokens, i - 2, i - 1)
        and tokens[i - 2].text[0].isalpha()
    )  # fmt: skip


def _list_marker(tokens: Sequence[_Token], i: int) -> bool:
    """A numbered list's marker ("1." or "2)" opening a line), not a fact."""
    at_line_start = i == 0 or tokens[i - 1].text == "\n"
    return at_line_start and i + 1 < len(tokens) and tokens[i + 1].text in (".", ")") and _adjacent(tokens, i, i + 1)


def _number_at(tokens: Sequence[_Token], i: int, ordinals: bool = False) -> tuple[str, int] | None:
    """A number starting at tokens[i], in digits or words: (normalised digits, index after it)."""
    word = tokens[i].text
    if word.isdigit():
        return None if _glued(tokens, i) else _digit_number(tokens, i)
    if word not in _NUMBER_WORDS and word not in ("a", "an"):
        return None
    found = _word_number(tokens, i)
    if found is None or not ordinals and tokens[found[1] - 1].text in _ORDINALS:
        return None
    return found


def _unit_at(tokens: Sequence[_Token], j: int) -> tuple[str, int] | None:
    """A unit spelled at tokens[j] (after an optional joining hyphen, "20-mg"): (unit, index after)."""
    if j < len(tokens) and tokens[j].text == "-" and _adjacent(tokens, j - 1, j):
        j += 1
    for spelling, unit in _UNIT_PHRASES:
        end = j + len(spelling)
        if end <= len(tokens) and all(tokens[j + k].text == part for k, part in enumerate(spelling)):
            glued = end < len(tokens) and _adjacent(tokens, end - 1, end) and tokens[end].text[0].isalnum()
            if len(spelling[-1]) == 1 and spelling[-1].isalpha() and glued:
                continue  # "f" or "c" only as a whole word
            return unit, end
    return None


def _ratio_at(tokens: Sequence[_Token], first: str, j: int) -> tuple[str, int] | None:
    """A ratio after a number: "/80", "over eighty" (a blood pressure: both parts in range), "out of 10"."""
    if j + 1 < len(tokens) and tokens[j].text == "/":
        found = _number_at(tokens, j + 1)
        if found:
            return f"{first}/{found[0]}", found[1]
    if j + 1 < len(tokens) and tokens[j].text == "over":
        found = _number_at(tokens, j + 1)
        if found and 60 <= float(first) <= 260 and 30 <= float(found[0]) <= 160:
            return f"{first}/{found[0]}", found[1]
    if j + 2 < len(tokens) and tokens[j].text == "out" and tokens[j + 1].text == "of":
        found = _number_at(tokens, j + 2)
        if found:
            return f"{first}/{found[0]}", found[1]
    return None


_DURATION_UNITS = frozenset(["second", "minute", "hour", "day", "week", "month", "year"])
_BEFORE_A_DURATION = frozenset(["for", "in", "about", "past", "last", "over", "within", "around", "nearly", "almost"])
_RANGE_WORDS = frozenset(["to", "-", "or"])
_AGE_WORDS = frozenset(["age", "aged"])


def _quantity_at(tokens: Sequence[_Token], i: int) -> tuple[str, str, int] | None:
    """A number with what follows it: (value, unit, index after), or None where no quantity starts."""
    if _list_marker(tokens, i):
        return None
    word = tokens[i].text
    if word in ("a", "an"):
        # "for a week": one of a duration unit, only after a word that introduces a duration.
        unit = _unit_at(tokens, i + 1)
        if i > 0 and tokens[i - 1].text in _BEFORE_A_DURATION and unit and unit[0] in _DURATION_UNITS:
            return "1", unit[0], unit[1]
    found = _number_at(tokens, i)
    if found is None:
        return None
    value, j = found
    ratio = _ratio_at(tokens, value, j)
    if ratio:
        value, j = ratio
    unit = _unit_at(tokens, j)
    if unit is None and j + 1 < len(tokens) and tokens[j].text in _RANGE_WORDS:
        second = _number_at(tokens, j + 1)
        if second:
            unit = _unit_at(tokens, second[1])
            unit = (unit[0], j) if unit else None  # "10 to 20 mg": the first number takes "mg"
    if unit:
        return value, unit[0], unit[1]
    if i > 0 and tokens[i - 1].text in _AGE_WORDS:
        return value, "year-old", j
    if not word.isdigit() and "/" not in value and float(value) < 2:
        return None  # "one" alone is mostly a pronoun ("that one", "no one")
    return value, "", j


def _quantity_kind(value: str, unit: str) -> str:
    if "/" in value and not unit:
        first, second = (float(part) for part in value.split("/"))
        return "vital" if first >= 60 and second >= 30 else "number"
    return _UNIT_KIND.get(unit, "number")


def _year_at(tokens: Sequence[_Token], j: int) -> tuple[int, int] | None:
    if j < len(tokens) and tokens[j].text == ",":
        j += 1
    if j < len(tokens) and tokens[j].text == "of":
        j += 1
    found = _number_at(tokens, j) if j < len(tokens) else None
    if found and found[0].isdigit() and 1900 <= int(found[0]) <= 2100:
        return int(found[0]), found[1]
    return None


def _day_at(tokens: Sequence[_Token], j: int) -> tuple[int, int] | None:
    if j < len(tokens) and tokens[j].text == "the":
        j += 1
    found = _number_at(tokens, j, ordinals=True) if j < len(tokens) else None
    if found and found[0].isdigit() and 1 <= int(found[0]) <= 31:
        return int(found[0]), found[1]
    return None


def _month_date_at(tokens: Sequence[_Token], i: int) -> tuple[str, int] | None:
    """A date with a month name: (value, index after) for "January 5th, 2023", "March 3", "the fifth of
    January", "March of 2021".

    A month name alone is no date: "may" and "march" are also verbs, so a day or year must follow.
    """
    month = _MONTHS.get(tokens[i].text)
    if month is not None:
        j = i + 1 + (i + 1 < len(tokens) and tokens[i + 1].text == ".")
        day = _day_at(tokens, j)
        if day:
            year = _year_at(tokens, day[1])
            return _date_value(year[0] if year else None, month, day[0]), (year or day)[1]
        year = _year_at(tokens, j)
        if year:
            return _date_value(year[0], month, None), year[1]
        return None
    day = _day_at(tokens, i) if tokens[i].text != "the" else None  # the span starts at the day
    if day and day[1] + 1 < len(tokens) and tokens[day[1]].text == "of" and tokens[day[1] + 1].text in _MONTHS:
        year = _year_at(tokens, day[1] + 2)
        end = year[1] if year else day[1] + 2
        return _date_value(year[0] if year else None, _MONTHS[tokens[day[1] + 1].text], day[0]), end
    return None


# ---------------------------------------------------------------------------------------------------
# 4. Medication names: the drug-named-entity-recognition lexicon
# ---------------------------------------------------------------------------------------------------

# Why the package's data and not its `find_drugs`: importing the package imports `requests` (for
# its optional web look-ups), reads a cache file from the home folder, and builds a 3-gram index for
# fuzzy matching over all its names; the exact matching Hearth needs is a dictionary look-up in its
# own name -> canonical table, which is what is loaded here, from the installed package's folder
# without running its code.
_LEXICON_FILE = "drug_ner_dictionary.pkl.bz2"
_MAX_NAME_TOKENS = 8
# Names in the lexicon that are ordinary words or abbreviations of a visit's speech, found by
# running it over ACI-Bench's transcripts: "sits" and "paps" are listed as chemical abbreviations.
_NOT_DRUGS = frozenset({"sits", "paps", "agit", "all clear"})

_lexicon: dict[str, str] | None = None
_lexicon_first_tokens: frozenset[str] = frozenset()
# Loading is cut into steps of this many compressed bytes or names, so that a page on an event loop
# (Pyodide's, where one long step would hold up every widget) can let other work run between them.
_READ_STEP = 256 * 1024
_NAMES_STEP = 10_000


def _lexicon_path() -> Path:
    spec = importlib.util.find_spec(LEXICON_PACKAGE)
    # In the browser the package is installed in the background after the app is drawn; until it is,
    # find_spec answers with the stand-in of hearth.app.deferred_packages, which has no folder yet.
    # Its loader waits for the install the way an import would; then the real spec has the folder.
    wait = getattr(spec.loader if spec is not None else None, "wait_until_installed", None)
    if wait is not None:
        wait()
        spec = importlib.util.find_spec(LEXICON_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LexiconUnavailableError(f"Checking medication names needs the drug-name lexicon: pip install {LEXICON_PIN}")
    return Path(next(iter(spec.submodule_search_locations))) / _LEXICON_FILE


def load_lexicon_in_steps() -> Iterator[None]:
    """Load the drug lexicon, pausing (yielding) between steps; a no-op once it is loaded.

    `drug_lexicon()` runs these steps straight through. A page drives them itself to load the lexicon
    in the background (`for _ in load_lexicon_in_steps(): await asyncio.sleep(0)`), so that its first
    check does not have to wait for it.
    """
    global _lexicon, _lexicon_first_tokens
    if _lexicon is not None:
        return
    unpack, pickled = bz2.BZ2Decompressor(), []
    with _lexicon_path().open("rb") as f:
        while block := f.read(_READ_STEP):
            pickled.append(unpack.decompress(block))
            yield
    data = pickle.loads(b"".join(pickled))  # the pinned package's own data file (sha256 in the lock)
    del pickled
    yield
    lexicon: dict[str, str] = {}
    first_tokens: set[str] = set()
    for n, (name, canonicals) in enumerate(data["drug_variant_to_canonical"].items(), 1):
        if canonicals and name not in _NOT_DRUGS:
            name = " ".join(name.split())
            lexicon[name] = min(canonicals)
            if first := _TOKEN.search(name):  # the first of _tokenize's tokens, without making them all
                first_tokens.add(first.group(0).lower())
        if n % _NAMES_STEP == 0:
            yield
    if _lexicon is None:  # another caller may have finished first while this one paused
        _lexicon_first_tokens = frozenset(first_tokens)
        _lexicon = lexicon


def drug_lexicon() -> dict[str, str]:
    """Every drug name the lexicon knows (lower case, brand and generic) -> its canonical name.

    Loaded once, on first use (about 28 MB of strings once loaded).
    """
    for _ in load_lexicon_in_steps():
        pass
    assert _lexicon is not None
    return _lexicon


def _medication_at(text: str, tokens: Sequence[_Token], i: int) -> tuple[str, int] | None:
    """The longest lexicon name starting at tokens[i]: (canonical name, index after)."""
    lexicon = drug_lexicon()
    if tokens[i].text not in _lexicon_first_tokens:
        return None
    for end in range(min(len(tokens), i + _MAX_NAME_TOKENS), i, -1):
        last = tokens[end - 1].text
        if not last[0].isalnum() or any(t.text in _CLAUSE_END for t in tokens[i:end]):
            continue
        canonical = lexicon.get(" ".join(text[tokens[i].start : tokens[end - 1].end].lower().split()))
        if canonical is not None:
            return canonical, end
    return None


# ---------------------------------------------------------------------------------------------------
# 5. Sides of the body
# ---------------------------------------------------------------------------------------------------

# Hearth's own short list: a side only counts next to one of these, which is what tells "left knee"
# from "all right" and "I left work". "back" is left out on purpose ("I'll be right back").
_BODY_PARTS = {
    plural: singular
    for singular, plurals in {
        "eye": ["eye", "eyes"], "ear": ["ear", "ears"], "cheek": ["cheek", "cheeks"], "jaw": ["jaw"],
        "temple": ["temple", "temples"], "neck": ["neck"], "shoulder": ["shoulder", "shoulders"],
        "arm": ["arm", "arms"], "forearm": ["forearm", "forearms"], "elbow": ["elbow", "elbows"],
        "wrist": ["wrist", "wrists"], "hand": ["hand", "hands"], "finger": ["finger", "fingers"],
        "thumb": ["thumb", "thumbs"], "chest": ["chest"], "breast": ["breast", "breasts"], "rib": ["rib", "ribs"],
        "lung": ["lung", "lungs"], "kidney": ["kidney", "kidneys"], "flank": ["flank", "flanks"],
        "abdomen": ["abdomen"], "quadrant": ["quadrant"], "groin": ["groin"], "hip": ["hip", "hips"],
        "buttock": ["buttock", "buttocks"], "leg": ["leg", "legs"], "thigh": ["thigh", "thighs"],
        "knee": ["knee", "knees"], "calf": ["calf", "calves"], "shin": ["shin", "shins"],
        "ankle": ["ankle", "ankles"], "foot": ["foot", "feet"], "heel": ["heel", "heels"], "toe": ["toe", "toes"],
        "extremity": ["extremity", "extremities"], "ovary": ["ovary", "ovaries"],
        "testicle": ["testicle", "testicles"], "carotid": ["carotid", "carotids"], "meniscus": ["meniscus"],
        "clavicle": ["clavicle"], "patella": ["patella"], "femur": ["femur"], "tibia": ["tibia"],
        "ureter": ["ureter"], "hemisphere": ["hemisphere"], "lobe": ["lobe"], "nostril": ["nostril"],
    }.items()
    for plural in plurals
}  # fmt: skip
# Words that may stand between a side and its body part ("left lower extremity", "right-sided chest").
_BETWEEN_SIDE_AND_PART = frozenset(
    "- sided side lower upper medial lateral anterior posterior inner outer distal proximal great big "
    "little index middle ring pinky front mid mild".split()
)
_SIDES = {"left": "left", "right": "right", "bilateral": "bilateral", "bilaterally": "bilateral"}
_BEFORE_THE_SIDE = frozenset(["on", "to", "at", "from", "in"])


def _side_at(tokens: Sequence[_Token], i: int) -> tuple[str, str, int] | None:
    """(side, body part or "", index after) for "left knee", "right-sided chest", "on the left",
    "bilateral", "both knees"; None for every other "left" or "right"."""
    word = tokens[i].text
    if word == "both":
        part = _BODY_PARTS.get(tokens[i + 1].text) if i + 1 < len(tokens) else None
        return ("bilateral", part, i + 2) if part and tokens[i + 1].text != part else None
    side = _SIDES.get(word)
    if side is None:
        return None
    j = i + 1
    while j < len(tokens) and j <= i + 3 and tokens[j].text in _BETWEEN_SIDE_AND_PART:
        j += 1
    if j < len(tokens) and tokens[j].text in _BODY_PARTS:
        return side, _BODY_PARTS[tokens[j].text], j + 1
    if side == "bilateral" or i >= 2 and tokens[i - 1].text == "the" and tokens[i - 2].text in _BEFORE_THE_SIDE:
        return side, "", i + 1
    if j > i + 1 and tokens[j - 1].text in ("sided", "side") and tokens[i + 1].text in ("-", "sided", "side"):
        return side, "", j
    return None


# ---------------------------------------------------------------------------------------------------
# Extraction: every fact of a text, in order
# ---------------------------------------------------------------------------------------------------

_NEGATION_CUES = frozenset(
    "no not denies denied deny without negative never nor none hasn't haven't isn't doesn't don't didn't "
    "wasn't aren't cannot can't".split()
)
_NEGATION_WINDOW = 6  # words looked back for a cue, within the clause


def _negated(tokens: Sequence[_Token], i: int) -> bool:
    for k in range(i - 1, max(-1, i - 1 - _NEGATION_WINDOW), -1):
        if tokens[k].text in _CLAUSE_END or tokens[k].text == ",":
            return False
        if tokens[k].text in _NEGATION_CUES:
            return True
    return False


def extract_facts(text: str) -> list[Fact]:
    """Every fact in `text`, in the order they appear; spans never overlap."""
    tokens = _tokenize(text)
    facts: list[Fact] = []
    taken: list[tuple[int, int]] = []
    for value, start, end in _digit_dates(text):
        taken.append((start, end))
        first = next(k for k, t in enumerate(tokens) if t.start >= start)
        facts.append(Fact("date", value, "", start, end, text[start:end], _negated(tokens, first)))

    def add(kind: str, value: str, unit: str, i: int, j: int) -> None:
        start, end = tokens[i].start, tokens[j - 1].end
        facts.append(Fact(kind, value, unit, start, end, text[start:end], _negated(tokens, i)))

    i = 0
    while i < len(tokens):
        if any(start <= tokens[i].start < end for start, end in taken):
            i += 1
            continue
        date = _month_date_at(tokens, i)
        if date and date[0]:
            add("date", date[0], "", i, date[1])
            i = date[1]
            continue
        quantity = _quantity_at(tokens, i)
        if quantity:
            value, unit, j = quantity
            add(_quantity_kind(value, unit), value, unit, i, j)
            i = j
            continue
        if tokens[i].text[0].isalpha():
            side = _side_at(tokens, i)
            if side:
                add("side", side[0], side[1], i, side[2])
                i = side[2]
                continue
            medication = _medication_at(text, tokens, i)
            if medication:
                add("medication", medication[0], "", i, medication[1])
                i = medication[1]
                continue
        i += 1
    facts.sort(key=lambda fact: fact.start)
    return facts


# ---------------------------------------------------------------------------------------------------
# Matching: is a fact supported by another text's facts?
# ---------------------------------------------------------------------------------------------------


class FactIndex:
    """The facts of one source (a transcript), indexed for `supports`."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self.units: dict[str, set[str]] = {}  # number value -> units it is stated with
        self.dates: list[str] = []
        self.medications: set[str] = set()
        self.sides: set[tuple[str, str]] = set()
        for fact in facts:
            if fact.kind == "date":
                self.dates.append(fact.value)
            elif fact.kind == "medication":
                self.medications.add(fact.value)
            elif fact.kind == "side":
                self.sides.add((fact.value, fact.unit))
            else:
                self.units.setdefault(fact.value, set()).add(fact.unit)

    def supports(self, fact: Fact) -> bool:
        if fact.kind == "medication":
            return fact.value in self.medications
        if fact.kind == "side":
            if fact.unit:
                return (fact.value, fact.unit) in self.sides
            return any(side == fact.value for side, _ in self.sides)
        if fact.kind == "date":
            return any(_date_agrees(fact.value, other) for other in self.dates)
        units = self.units.get(fact.value, set())
        if fact.kind == "number" and fact.value.isdigit() and 1900 <= int(fact.value) <= 2100:
            # A bare year in the draft is supported by a date of that year in the transcript.
            units = units | ({""} if any(d.startswith(fact.value) for d in self.dates) else set())
        if not units:
            return False
        return (
            not fact.unit
            or "" in units
            or fact.unit in units
            or any(frozenset({fact.unit, unit}) in _COMPATIBLE_UNITS for unit in units)
        )

    def unsupported(self, draft: str) -> list[Fact]:
        """The draft's facts this source does not state (the Notes tab keeps one index per transcript)."""
        return [fact for fact in extract_facts(draft) if not self.supports(fact)]


def _date_agrees(draft: str, source: str) -> bool:
    """Every part the draft's date states ("????" and "??" are unstated) equals the source's."""
    draft_parts, source_parts = draft.split("-"), source.split("-")
    if len(draft_parts) > len(source_parts):
        return False
    return all(d == s or set(d) == {"?"} for d, s in zip(draft_parts, source_parts, strict=False))


def check_facts(draft: str, transcript: str) -> list[CheckedFact]:
    """Each fact of `draft`, with whether `transcript` supports it."""
    index = FactIndex(extract_facts(transcript))
    return [CheckedFact(fact, index.supports(fact)) for fact in extract_facts(draft)]


def unsupported_facts(draft: str, transcript: str) -> list[Fact]:
    """The draft's facts the transcript does not state: what the Notes tab marks."""
    return FactIndex(extract_facts(transcript)).unsupported(draft)


def missed_facts(draft: str, reference: str, transcript: str) -> list[Fact]:
    """Facts of the reference note that the transcript supports but the draft does not state."""
    in_transcript, in_draft = FactIndex(extract_facts(transcript)), FactIndex(extract_facts(draft))
    return [f for f in extract_facts(reference) if in_transcript.supports(f) and not in_draft.supports(f)]


def stated_numbers(text: str) -> frozenset[str]:
    """Every number `text` states, in digits, and the parts of ratios and dates: "fifty-six" -> "56",
    "one twenty over eighty" -> "120", "80", "2023-01-05" -> "2023", "01", "1", "05", "5", "1,000" -> "1",
    "000", "1000". What a draft may write in digits when drafting from this transcript
    (`hearth.llm.model.grounding`, through `drafting`)."""
    tokens = _tokenize(text)
    values = [value for value, _, _ in _digit_dates(text)]
    for i in range(len(tokens)):
        for found in (_number_at(tokens, i, ordinals=True), _quantity_at(tokens, i), _month_date_at(tokens, i)):
            if found and found[0]:
                values.append(found[0])
    out: set[str] = set()
    for value in [*values, text]:
        for number in _DIGIT_NUMBER.findall(value) + _DIGIT_NUMBER.findall(value.replace(",", "")):
            out.add(number)
            if number.isdigit():
                out.add(str(int(number)))  # "05" in a date is also "5"
    return frozenset(out)


_DIGIT_NUMBER = re.compile(r"\d+(?:\.\d+)?")


# ---------------------------------------------------------------------------------------------------
# Removal: cut a fact out of the draft in one click
# ---------------------------------------------------------------------------------------------------


def remove_fact(text: str, fact: Fact) -> str:
    """`text` without `fact`'s span; the spaces around it close up ("take 20 mg daily" -> "take daily")."""
    if text[fact.start : fact.end] != fact.text:
        raise ValueError(f"The text changed since the fact was found: {fact.text!r} is no longer at {fact.start}.")
    before, after = text[: fact.start], text[fact.end :]
    if before.endswith((" ", "\t")) and (after[:1] in (" ", "\t", ",", ".", ";", ":", ")") or not after):
        before = before.rstrip(" \t")
    if before.endswith("(") and after.startswith(" "):
        after = after.lstrip(" ")
    return before + after
