"""The grounding check on hand-made sentences: what counts as a fact, how it is normalised, when a
transcript supports it, and that each span is the draft's own words (so the page can mark and cut it)."""

from __future__ import annotations

import pytest

from hearth.notes.facts import (
    Fact,
    check_facts,
    extract_facts,
    missed_facts,
    remove_fact,
    stated_numbers,
    unsupported_facts,
)


def _facts(text: str) -> list[tuple[str, str, str, str]]:
    return [(f.kind, f.value, f.unit, f.text) for f in extract_facts(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on twenty milligrams daily", [("dose", "20", "mg", "twenty milligrams")]),
        ("on 20mg daily", [("dose", "20", "mg", "20mg")]),
        ("two point five mg", [("dose", "2.5", "mg", "two point five mg")]),
        ("1,000 mg", [("dose", "1000", "mg", "1,000 mg")]),
        ("a fifty-six year old man", [("age", "56", "year-old", "fifty-six year old")]),
        ("a 56-year-old man", [("age", "56", "year-old", "56-year-old")]),
        ("age 56", [("age", "56", "year-old", "56")]),
        ("for two weeks", [("duration", "2", "week", "two weeks")]),
        ("for a week", [("duration", "1", "week", "a week")]),
        ("every 6 hours", [("duration", "6", "hour", "6 hours")]),
        ("weighs one forty two pounds", [("count", "142", "lb", "one forty two pounds")]),
        ("a hundred and one degrees", [("vital", "101", "degree", "a hundred and one degrees")]),
        ("temp 98.6 F.", [("vital", "98.6", "°f", "98.6 F")]),
        ("pulse 72 bpm", [("vital", "72", "bpm", "72 bpm")]),
        ("A1c 7.2%", [("lab", "7.2", "%", "7.2%")]),
        ("ninety eight point six", [("number", "98.6", "", "ninety eight point six")]),
        ("in two thousand and five", [("number", "2005", "", "two thousand and five")]),
        ("10 to 20 mg", [("dose", "10", "mg", "10"), ("dose", "20", "mg", "20 mg")]),
    ],
)
def test_numbers_with_units_in_digits_and_words(text, expected):
    assert _facts(text) == expected


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("BP 120/80 mmHg", "120/80", "120/80 mmHg"),
        ("it was one hundred and twenty over eighty", "120/80", "one hundred and twenty over eighty"),
        ("one twenty over eighty", "120/80", "one twenty over eighty"),
        ("pain is 5 out of 10", "5/10", "5 out of 10"),
    ],
)
def test_ratios_blood_pressure_and_scores(text, value, span):
    [fact] = extract_facts(text)
    assert (fact.value, fact.text) == (value, span)
    assert fact.kind == ("vital" if value == "120/80" else "number")


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("seen on January 5th, 2023.", "2023-01-05", "January 5th, 2023"),
        ("seen on 1/5/2023.", "2023-01-05", "1/5/2023"),
        ("Date: 2022-01-01", "2022-01-01", "2022-01-01"),
        ("diagnosed in 12/2019.", "2019-12", "12/2019"),
        ("diagnosed in 12-2019 ,", "2019-12", "12-2019"),
        ("on the fifth of march twenty twenty two", "2022-03-05", "fifth of march twenty twenty two"),
        ("since March of 2021", "2021-03", "March of 2021"),
        ("surgery on march 3", "????-03-03", "march 3"),
    ],
)
def test_dates(text, value, span):
    [fact] = extract_facts(text)
    assert (fact.kind, fact.value, fact.text) == ("date", value, span)


def test_what_is_not_a_fact():
    # A month name that is a verb, numbers inside names, list markers, "one" as a pronoun, a negated
    # symptom without a number, and "right" / "left" away from a body part.
    text = (
        "1. I may march in. COVID-19 and B12 and A1c checked.\n2. That one is fine. No fever. All right, "
        "that's right, I left my brace at home, right now."
    )
    assert extract_facts(text) == []


def test_medications_brand_and_generic_map_to_one_drug():
    facts = [
        f for f in extract_facts("Takes Tylenol, Motrin 800 mg and lisinopril; prozac was stopped.") if f.kind == "medication"
    ]
    assert [(f.value, f.text) for f in facts] == [
        ("acetaminophen", "Tylenol"),
        ("ibuprofen", "Motrin"),
        ("lisinopril", "lisinopril"),
        ("fluoxetine", "prozac"),
    ]


def test_sides_next_to_a_body_part():
    text = "Left knee pain, right-sided chest pain, tender on the left, both knees swollen, left lower extremity."
    assert [(f.value, f.unit, f.text) for f in extract_facts(text)] == [
        ("left", "knee", "Left knee"),
        ("right", "chest", "right-sided chest"),
        ("left", "", "left"),
        ("bilateral", "knee", "both knees"),
        ("left", "extremity", "left lower extremity"),
    ]


def test_negations_keep_the_fact_and_say_so():
    facts = extract_facts("Denies taking ibuprofen. No pain in the left knee. Takes aspirin. No fever.")
    assert [(f.kind, f.text, f.negated) for f in facts] == [
        ("medication", "ibuprofen", True),
        ("side", "left knee", True),
        ("medication", "aspirin", False),
    ]


def test_spans_are_the_drafts_own_text():
    draft = "CHIEF COMPLAINT\n\nA 43-year-old woman with right knee pain.\n\nPLAN\n\nMotrin 800 mg for 2 weeks."
    for fact in extract_facts(draft):
        assert draft[fact.start : fact.end] == fact.text
    assert [f.text for f in extract_facts(draft)] == ["43-year-old", "right knee", "Motrin", "800 mg", "2 weeks"]


TRANSCRIPT = """[doctor] hi ms thompson , you're forty three years old ?
[patient] yes , i hurt my right knee a couple days ago .
[doctor] your blood pressure is one twenty over eighty . i want you to take motrin , eight hundred milligrams ,
every six hours for two weeks , and we'll see you in a week . your last visit was on january fifth , twenty twenty three .
[patient] i also take tylenol sometimes ."""


def test_supported_and_unsupported_against_a_transcript():
    draft = (
        "43-year-old female with right knee pain. BP 120/80 mmHg. Ibuprofen 800 mg every 6 hours for 2 weeks; "
        "follow up in 1 week. Last seen 1/5/2023. Acetaminophen as needed.\n"
        "Hallucinated: left knee effusion, lisinopril 20 mg, seen 2022-01-01, for 3 weeks, 58-year-old."
    )
    checked = check_facts(draft, TRANSCRIPT)
    supported = [c.fact.text for c in checked if c.supported]
    assert supported == [
        "43-year-old",
        "right knee",
        "120/80 mmHg",
        "Ibuprofen",  # the transcript says the brand, Motrin
        "800 mg",
        "6 hours",
        "2 weeks",
        "1 week",
        "1/5/2023",
        "Acetaminophen",  # the transcript says Tylenol
    ]
    assert [f.text for f in unsupported_facts(draft, TRANSCRIPT)] == [
        "left knee",
        "lisinopril",
        "20 mg",
        "2022-01-01",
        "3 weeks",
        "58-year-old",
    ]


def test_matching_rules():
    def supported(draft: str, transcript: str) -> bool:
        [checked] = check_facts(draft, transcript)
        return checked.supported

    assert supported("20 mg", "i take twenty milligrams")
    assert supported("20 mg", "i think it's 20")  # speech drops the unit
    assert not supported("20 mg", "for twenty days")  # same value, another unit
    assert supported("in 2021", "back in march of twenty twenty one")  # a year in a date
    assert extract_facts("back in March") == []  # a month alone is no date
    assert supported("101 °F", "a hundred and one degrees")
    assert supported("on the left", "my left shoulder hurts")  # a side without a part: any of that side
    assert not supported("left shoulder", "my left knee and right shoulder")


def test_missed_facts_are_in_the_reference_and_the_transcript_but_not_the_draft():
    reference = "43-year-old with right knee pain. Motrin 800 mg for 2 weeks. Knee brace for 6 months."
    draft = "Patient with knee pain. Ibuprofen for 2 weeks."
    assert [f.text for f in missed_facts(draft, reference, TRANSCRIPT)] == ["43-year-old", "right knee", "800 mg"]


@pytest.mark.parametrize(
    ("draft", "target", "expected"),
    [
        ("Take Motrin 800 mg daily.", "800 mg", "Take Motrin daily."),
        ("Seen on 2022-01-01.", "2022-01-01", "Seen on."),
        ("Pain in the left knee, worse at night.", "left knee", "Pain in the, worse at night."),
        ("Lisinopril (20 mg) daily", "20 mg", "Lisinopril () daily"),
    ],
)
def test_remove_a_fact_in_one_click(draft, target, expected):
    [fact] = [f for f in extract_facts(draft) if f.text == target]
    assert remove_fact(draft, fact) == expected


def test_remove_refuses_a_span_that_moved():
    fact = Fact("dose", "20", "mg", 0, 5, "20 mg")
    with pytest.raises(ValueError, match="no longer at 0"):
        remove_fact("take 20 mg", fact)


def test_stated_numbers_are_every_number_a_transcript_says_in_digits():
    """What the drafter lets the model write: spoken numbers in digits, and the parts of ratios and dates."""
    said = ("[patient] i'm fifty-six . [doctor] blood pressure one twenty over eighty , temperature ninety-eight "
            "point six , take two point five milligrams . we saw you on 2023-01-05 , about 1,000 steps a day .")
    numbers = stated_numbers(said)
    assert {"56", "120", "80", "98.6", "2.5", "2023", "01", "1", "05", "5", "1000", "000"} <= numbers
    assert not {"57", "12", "20.5", "100"} & numbers
    assert stated_numbers("no numbers here, only words") == frozenset()
