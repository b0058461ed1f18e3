"""Note formats on real ACI-Bench notes: parsing loses nothing, rendering round-trips, and a rendered
note is split by the benchmark's rules into the divisions its sections are meant for."""

from __future__ import annotations

from collections import Counter

import pytest

from hearth.notes.divisions import split_divisions
from hearth.notes.formats import (
    ACI,
    FORMATS,
    NOT_STATED,
    SOAP,
    UnknownFormatError,
    UnknownSectionError,
    get_format,
    heading_name,
    parse_note,
    render_markdown,
    render_text,
)
from hearth.notes.note import Note, SectionState

ACI_HEADINGS = [s.heading for s in ACI.sections]


def _lines(text: str) -> Counter:
    return Counter(line.strip() for line in text.split("\n") if line.strip())


@pytest.mark.parametrize("fmt", FORMATS.values(), ids=FORMATS.keys())
def test_parsing_a_real_note_keeps_every_line_but_the_section_headings(aci_rows, fmt):
    for row in aci_rows:
        note = row["note"]
        parsed = parse_note(note, fmt)
        dropped = Counter(
            line.strip() for line in note.split("\n") if (owner := fmt.heading_owner(line)) is not None and owner[1]
        )
        kept = _lines(parsed.preamble) + sum((_lines(t) for t in parsed.sections.values()), Counter())
        assert kept == _lines(note) - dropped, row["encounter_id"]


def test_notes_in_the_aci_layout_parse_to_the_text_under_each_heading(aci_rows):
    checked = 0
    for row in aci_rows:
        lines = row["note"].split("\n")
        if [line for line in lines if line in ACI_HEADINGS] != ACI_HEADINGS:
            continue
        starts = [lines.index(h) for h in ACI_HEADINGS] + [len(lines)]
        expected = {
            spec.key: "\n".join(lines[starts[i] + 1 : starts[i + 1]]).strip() for i, spec in enumerate(ACI.sections)
        }
        assert parse_note(row["note"], ACI).sections == expected, row["encounter_id"]
        checked += 1
    assert checked >= 10  # the virtassist notes use exactly these six headings


def test_finer_headings_fold_into_the_section_that_covers_them(aci_rows):
    d2n039 = next(r for r in aci_rows if r["encounter_id"] == "D2N039")["note"]
    aci = parse_note(d2n039, ACI).sections
    assert aci["history_of_present_illness"].startswith("SOCIAL HISTORY\n\nPatient reports drinking")
    assert "FAMILY HISTORY" in aci["history_of_present_illness"] and "MEDICATIONS" in aci["history_of_present_illness"]
    assert aci["physical_examination"].startswith("VITALS\n\nBP: 169/74.")
    assert aci["results"] == ""
    assert aci["assessment_and_plan"].endswith(
        "INSTRUCTIONS\n\nThe patient will follow-up in 3 weeks and will bring her blood pressure log with her."
    )
    soap = parse_note(d2n039, SOAP).sections
    assert soap["subjective"].startswith("CHIEF COMPLAINT\n\nHigh blood pressure.")
    assert soap["plan"].startswith("INSTRUCTIONS")


@pytest.mark.parametrize("render", [render_text, render_markdown], ids=["txt", "md"])
@pytest.mark.parametrize("fmt", FORMATS.values(), ids=FORMATS.keys())
def test_rendered_notes_parse_back_to_the_same_sections(aci_rows, fmt, render):
    for row in aci_rows:
        sections = parse_note(row["note"], fmt).sections
        again = parse_note(render(sections, fmt), fmt)
        assert again.preamble == ""
        assert again.sections == {k: v or NOT_STATED for k, v in sections.items()}, row["encounter_id"]


def test_rendered_layouts():
    sections = {"chief_complaint": "Knee pain.", "results": "X-ray: no fracture."}
    text = render_text(sections, ACI)
    assert text.startswith("CHIEF COMPLAINT\n\nKnee pain.\n\nHISTORY OF PRESENT ILLNESS\n\nNot stated.\n\n")
    assert text.endswith("ASSESSMENT AND PLAN\n\nNot stated.\n")
    md = render_markdown(sections, ACI)
    assert md.startswith("## Chief complaint\n\nKnee pain.\n\n## History of present illness\n\nNot stated.")
    assert [line for line in md.split("\n") if line.startswith("## ")] == [f"## {h.capitalize()}" for h in ACI_HEADINGS]
    with pytest.raises(UnknownSectionError, match="no section"):
        render_text({"objective": "x"}, ACI)


def test_the_benchmark_scores_each_aci_section_in_its_division(aci_rows):
    for row in aci_rows:
        sections = {k: v or NOT_STATED for k, v in parse_note(row["note"], ACI).sections.items()}
        divisions = split_divisions(render_text(sections, ACI))
        for spec in ACI.sections:
            assert sections[spec.key] in divisions[spec.division], (row["encounter_id"], spec.key)


def test_the_benchmark_has_no_objective_header_so_soap_objective_counts_as_subjective():
    sections = {"subjective": "Cough.", "objective": "Lungs clear.", "assessment": "Bronchitis.", "plan": "Fluids."}
    divisions = split_divisions(render_text(sections, SOAP))
    assert "Lungs clear." in divisions["subjective"]
    assert "Bronchitis." in divisions["assessment_and_plan"] and "Fluids." in divisions["assessment_and_plan"]


def test_heading_lines_in_the_forms_people_and_models_write_them():
    for line in [
        "CHIEF COMPLAINT",
        "Chief complaint:",
        "## History of present illness",
        "**PLAN:**",
        "**Plan**:",
        "  cc:  ",
        "### Assessment and Plan",
    ]:
        assert heading_name(line) is not None, line
    for line in ["The plan is rest.", "BP: 120/80", "HR: 98.", "1. CHF.", "", "- Medical Reasoning: stable"]:
        assert heading_name(line) is None, line
    assert ACI.heading_owner("Physical exam:")[0].key == "physical_examination"
    assert ACI.heading_owner("VITALS") == (ACI.section("physical_examination"), False)


def test_unknown_format_and_section_names_say_what_exists():
    assert get_format(" SOAP ") is SOAP
    with pytest.raises(UnknownFormatError, match="aci.*soap"):
        get_format("dap")
    with pytest.raises(UnknownSectionError, match="chief_complaint"):
        ACI.section("objective")


def test_a_saved_note_loads_back_for_editing_and_clear_forgets_everything(valid_rows):
    from hearth.notes.transcript import transcript_from_text

    row = valid_rows[0]
    note = Note.from_text("Draft for Brian\n\n" + row["note"], ACI, transcript_from_text(row["dialogue"]))
    assert note["chief_complaint"].text.startswith("Draft for Brian\n\nFollow-up of chronic problems.")
    assert all(s.state is SectionState.EDITED for s in note.sections)
    assert parse_note(note.to_markdown(), ACI).sections == note.texts()
    note.edit("results", "Echo pending.")
    assert "RESULTS\n\nEcho pending.\n" in note.to_text()
    note.clear()
    assert note.is_empty and note.transcript is None
    assert all(s.text == "" and s.state is SectionState.EMPTY for s in note.sections)
    with pytest.raises(UnknownSectionError):
        note.edit("plan", "x")
