"""The drafting pipeline driven by a scripted model (see notes_scripted_model.py): streaming order,
long transcripts read in parts with nothing dropped, stop, regenerate, edits, failures."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest
from notes_scripted_model import ScriptedModel, WordTokenizer, fact_word, transcript_with_facts

from hearth.notes.drafting import (
    ContextTooSmallError,
    DraftBusyError,
    DraftFinished,
    DraftOptions,
    DraftStarted,
    NoteDrafter,
    NoTranscriptError,
    SectionFinished,
    SectionProgress,
    SectionStarted,
    SectionText,
    split_into_chunks,
)
from hearth.notes.facts import stated_numbers
from hearth.notes.formats import ACI, FORMATS, NOT_STATED, SOAP, parse_note
from hearth.notes.note import Note, SectionState
from hearth.notes.section_stream import SectionStream
from hearth.notes.transcript import transcript_from_text


def run(coro):
    return asyncio.run(coro)


async def collect(events, on_event=None) -> list:
    out = []
    async for event in events:
        out.append(event)
        if on_event is not None:
            on_event(event, out)
    return out


def facts_in(text: str) -> set[str]:
    return set(re.findall(r"\b[a-z]+fact\d+\b", text))


def make_note(dialogue: str, fmt=ACI, per_section: int = 3) -> tuple[Note, dict[str, list[str]]]:
    text, facts = transcript_with_facts(dialogue, fmt, per_section)
    return Note(fmt, transcript_from_text(text)), facts


@pytest.mark.parametrize("fmt", FORMATS.values(), ids=FORMATS.keys())
def test_a_note_streams_in_section_by_section_with_each_sections_facts(valid_rows, fmt):
    note, facts = make_note(valid_rows[0]["dialogue"], fmt)
    model = ScriptedModel(fmt)
    events = run(collect(NoteDrafter(model).draft(note)))

    assert isinstance(events[0], DraftStarted) and not events[0].plan.in_parts
    assert events[-1] == DraftFinished(stopped=False)
    order = [(type(e).__name__, e.key) for e in events[1:-1] if not isinstance(e, SectionText)]
    assert order == [(kind, s.key) for s in fmt.sections for kind in ("SectionStarted", "SectionFinished")]
    for spec in fmt.sections:
        pieces = "".join(e.text for e in events if isinstance(e, SectionText) and e.key == spec.key)
        finished = next(e for e in events if isinstance(e, SectionFinished) and e.key == spec.key)
        assert finished.text == pieces.strip() == note[spec.key].text
        assert note[spec.key].state is SectionState.DONE
        assert facts_in(note[spec.key].text) == set(facts[spec.key])
    assert [c.kind for c in model.calls] == ["section"] * len(fmt.sections)
    assert all(
        c.request.temperature == 0.0 and c.request.max_tokens == fmt.section(c.section).max_tokens for c in model.calls
    )
    assert all(note.transcript.text in c.messages[1]["content"] for c in model.calls)
    rendered = parse_note(note.to_text(), fmt).sections
    assert rendered == note.texts()


def test_a_section_the_transcript_says_nothing_about_reads_not_stated(valid_rows):
    note = Note(ACI, transcript_from_text(valid_rows[0]["dialogue"]))  # no fact words at all
    run(collect(NoteDrafter(ScriptedModel(ACI)).draft(note)))
    assert set(note.texts().values()) == {NOT_STATED}


def test_a_transcript_longer_than_the_context_is_read_in_parts_and_nothing_is_dropped(valid_rows):
    note, facts = make_note(valid_rows[0]["dialogue"] + "\n" + valid_rows[1]["dialogue"], ACI, per_section=5)
    model = ScriptedModel(ACI, context_length=1400)
    drafter = NoteDrafter(model)
    events = run(collect(drafter.draft(note)))

    plan = events[0].plan
    assert plan.in_parts and len(plan.chunks) >= 3
    assert plan.transcript_tokens > model.context_length
    # The parts hold the whole transcript, in order, split only between turns.
    assert "\n".join(plan.chunks) == note.transcript.text
    for spec in ACI.sections:
        progress = [e for e in events if isinstance(e, SectionProgress) and e.key == spec.key]
        assert [(e.step, e.steps) for e in progress] == [(i + 1, len(plan.chunks)) for i in range(len(plan.chunks))]
        assert note[spec.key].state is SectionState.DONE
        assert facts_in(note[spec.key].text) == set(facts[spec.key]), spec.key
    kinds = [c.kind for c in model.calls]
    assert kinds.count("extract") == len(plan.chunks) * len(ACI.sections)
    assert kinds.count("merge") == len(ACI.sections) and "section" not in kinds
    assert len(model.calls) <= plan.requests
    # Every request fitted the context (the scripted model refuses any that does not).
    assert max(c.prompt_tokens + c.request.max_tokens for c in model.calls) <= model.context_length


def test_facts_from_many_parts_are_merged_in_rounds_when_one_merge_would_not_fit(aci_rows):
    dialogue = "\n".join(r["dialogue"] for r in aci_rows[:6])
    note, facts = make_note(dialogue, ACI, per_section=12)  # few enough for CHIEF COMPLAINT's 32 tokens
    model = ScriptedModel(ACI, context_length=1400, extract_padding=120)
    drafter = NoteDrafter(model)
    events = run(collect(drafter.draft(note)))
    merges = Counter(c.section for c in model.calls if c.kind == "merge")
    assert min(merges.values()) >= 2, f"expected merges in rounds, got {merges}"
    for spec in ACI.sections:
        assert facts_in(note[spec.key].text) == set(facts[spec.key]), spec.key
    assert len(model.calls) <= events[0].plan.requests


def test_split_into_chunks_keeps_every_character_even_of_an_overlong_turn():
    count = lambda text: len(WordTokenizer().encode(text))  # noqa: E731
    long_turn = "Patient: " + " ".join(f"word{i}." for i in range(300))
    lines = ["Doctor: hi.", long_turn, "Doctor: " + "x" * 5000, "Patient: bye."]
    chunks = split_into_chunks(lines, 50, count)
    assert all(count(c) <= 50 for c in chunks)
    assert "".join(chunks).replace("\n", "").replace(" ", "") == "".join(lines).replace(" ", "")


def test_stop_ends_the_draft_keeping_what_was_written(valid_rows):
    note, _ = make_note(valid_rows[0]["dialogue"])
    model = ScriptedModel(ACI, piece_chars=2)
    drafter = NoteDrafter(model)
    second = ACI.sections[1].key

    def stop_midway(event, seen):
        if (
            isinstance(event, SectionText)
            and event.key == second
            and sum(isinstance(e, SectionText) and e.key == second for e in seen) == 3
        ):
            drafter.stop()

    events = run(collect(drafter.draft(note), stop_midway))
    assert events[-1] == DraftFinished(stopped=True)
    assert note[ACI.sections[0].key].state is SectionState.DONE
    stopped = note[second]
    assert stopped.state is SectionState.STOPPED
    assert stopped.text and model.calls[1].answer.startswith(stopped.text)
    assert len(stopped.text) < len(model.calls[1].answer)
    assert all(note[s.key].state is SectionState.EMPTY and note[s.key].text == "" for s in ACI.sections[2:])
    assert len(model.calls) == 2 and model.calls[1].closed_early
    assert not drafter.running


def test_stop_while_reading_parts_skips_the_rest(valid_rows):
    note, _ = make_note(valid_rows[0]["dialogue"] + "\n" + valid_rows[1]["dialogue"])
    model = ScriptedModel(ACI, context_length=1400)
    drafter = NoteDrafter(model)

    def stop_at_first_part(event, seen):
        if isinstance(event, SectionProgress):
            drafter.stop()

    events = run(collect(drafter.draft(note), stop_at_first_part))
    assert events[-1] == DraftFinished(stopped=True)
    assert [c.kind for c in model.calls] == ["extract"]
    assert note[ACI.sections[0].key].state is SectionState.STOPPED


def test_regenerate_replaces_one_section_and_leaves_the_others_and_edits_alone(valid_rows):
    note, facts = make_note(valid_rows[0]["dialogue"])
    model = ScriptedModel(ACI)
    drafter = NoteDrafter(model)
    run(collect(drafter.draft(note)))
    note.edit("chief_complaint", "Follow-up, edited by the clinician.")
    note["review_of_systems"].text = "something to be replaced"
    before = {s.key: (s.text, s.state) for s in note.sections}

    events = run(collect(drafter.regenerate(note, "review_of_systems")))
    assert {e.key for e in events if hasattr(e, "key")} == {"review_of_systems"}
    after = {s.key: (s.text, s.state) for s in note.sections}
    assert {k: v for k, v in after.items() if k != "review_of_systems"} == {
        k: v for k, v in before.items() if k != "review_of_systems"
    }
    assert after["chief_complaint"] == ("Follow-up, edited by the clinician.", SectionState.EDITED)
    assert facts_in(note["review_of_systems"].text) == set(facts["review_of_systems"])
    regen = model.calls[-1]
    assert regen.section == "review_of_systems" and regen.request.temperature == 0.7
    run(collect(drafter.regenerate(note, "review_of_systems")))
    assert model.calls[-1].request.seed != regen.request.seed  # a second regeneration samples differently


def test_a_model_running_on_into_the_next_section_is_cut_there_and_stopped(valid_rows):
    note, facts = make_note(valid_rows[0]["dialogue"])
    model = ScriptedModel(ACI, run_on="\nPHYSICAL EXAMINATION\nInvented exam findings.", echo_heading=True)
    run(collect(NoteDrafter(model).draft(note)))
    for spec in ACI.sections:
        text = note[spec.key].text
        assert spec.heading not in text and facts_in(text) == set(facts[spec.key]), spec.key
        if spec.key != "physical_examination":
            assert "Invented" not in text, spec.key
    cut = [c for c in model.calls if c.section != "physical_examination"]
    assert all(c.closed_early for c in cut)  # the model is told to stop, not left writing
    assert "Invented exam findings." in note["physical_examination"].text  # its own heading, its own text


def test_section_stream_is_the_same_whatever_the_piece_boundaries():
    text = "HPI:\n\nThe patient reports knee pain.\nSOCIAL HISTORY\nSmokes.\nReview of systems: denies fever.\nmore"
    spec = ACI.section("history_of_present_illness")
    whole = SectionStream(ACI, spec)
    shown_whole = whole.feed(text) + whole.finish()
    by_char = SectionStream(ACI, spec)
    shown_chars = "".join(by_char.feed(c) for c in text) + by_char.finish()
    assert shown_whole == shown_chars == "The patient reports knee pain.\nSOCIAL HISTORY\nSmokes.\n"
    assert whole.ended and by_char.ended


def test_section_stream_shows_text_as_soon_as_it_cannot_be_a_heading():
    stream = SectionStream(SOAP, SOAP.section("assessment"))
    assert stream.feed("Here is the") == ""  # the first line might be a preamble
    assert stream.feed(" ASSESSMENT section:\n") == ""  # and was
    assert stream.feed("Osteoarthritis of the knee. Early") == "Osteoarthritis of the knee. Early"
    assert stream.feed(" changes.\nPla") == " changes.\n"  # might become "Plan:", held back
    assert stream.feed("nned surgery ") == "Planned surgery "
    assert stream.feed("next week.\n**Plan:** rest") == "next week.\n"
    assert stream.ended


def test_busy_missing_transcript_and_too_small_a_context_are_clear_errors(valid_rows):
    note, _ = make_note(valid_rows[0]["dialogue"])
    drafter = NoteDrafter(ScriptedModel(ACI))

    async def two_at_once():
        first = drafter.draft(note)
        await first.__anext__()
        with pytest.raises(DraftBusyError, match="already being drafted"):
            await drafter.draft(note).__anext__()
        await first.aclose()

    run(two_at_once())
    assert not drafter.running
    with pytest.raises(NoTranscriptError, match="Paste or load the visit transcript"):
        run(collect(drafter.draft(Note(ACI))))
    tiny = NoteDrafter(ScriptedModel(ACI, context_length=600))
    with pytest.raises(ContextTooSmallError, match=r"context \(600 tokens\) is too small"):
        run(collect(tiny.draft(note)))


def test_a_model_failure_marks_the_section_and_frees_the_drafter(valid_rows):
    note, _ = make_note(valid_rows[0]["dialogue"])
    model = ScriptedModel(ACI, fail_on_call=2)
    drafter = NoteDrafter(model)
    with pytest.raises(RuntimeError, match="the model failed"):
        run(collect(drafter.draft(note)))
    states = [s.state for s in note.sections]
    assert states[:3] == [SectionState.DONE, SectionState.DONE, SectionState.FAILED]
    model.fail_on_call = None
    run(collect(drafter.draft(note, keys=["review_of_systems"])))
    assert note["review_of_systems"].state is SectionState.DONE


def test_dropping_the_stream_stops_the_section_and_clear_forgets_the_visit(valid_rows):
    note, _ = make_note(valid_rows[0]["dialogue"])
    drafter = NoteDrafter(ScriptedModel(ACI))

    async def drop_after_first_text():
        events = drafter.draft(note)
        async for event in events:
            if isinstance(event, SectionText):
                break
        await events.aclose()

    run(drop_after_first_text())
    assert note["chief_complaint"].state is SectionState.STOPPED
    assert not drafter.running and drafter._count is None  # no transcript text kept by the drafter
    note.clear()
    assert note.is_empty


def test_events_name_sections_in_order_for_a_subset(valid_rows):
    note, _ = make_note(valid_rows[0]["dialogue"])
    events = run(collect(NoteDrafter(ScriptedModel(ACI)).draft(note, keys=["results", "chief_complaint"])))
    started = [e for e in events if isinstance(e, SectionStarted)]
    assert [(e.key, e.index, e.total) for e in started] == [("results", 0, 2), ("chief_complaint", 1, 2)]
    assert fact_word("results", 0) in note["results"].text


def test_a_context_limit_below_the_models_own_is_kept(valid_rows):
    note, facts = make_note(valid_rows[0]["dialogue"] + "\n" + valid_rows[1]["dialogue"])
    model = ScriptedModel(ACI, context_length=8192)
    drafter = NoteDrafter(model, DraftOptions(context_limit=1400))
    assert not NoteDrafter(model).plan(note.transcript, ACI).in_parts
    plan = drafter.plan(note.transcript, ACI)
    assert plan.context == 1400 and plan.in_parts
    run(collect(drafter.draft(note)))
    assert max(c.prompt_tokens + c.request.max_tokens for c in model.calls) <= 1400
    assert all(facts_in(note[s.key].text) == set(facts[s.key]) for s in ACI.sections)


def test_a_looping_model_is_cut_at_the_loop_and_told_to_stop(valid_rows):
    note, facts = make_note(valid_rows[0]["dialogue"])
    loop = "\n".join(["- Antihistamine", "- The patient has a history of high blood pressure since labor."] * 40)
    model = ScriptedModel(ACI, run_on=loop)
    run(collect(NoteDrafter(model).draft(note)))
    for spec in ACI.sections:
        text = note[spec.key].text
        assert facts_in(text) == set(facts[spec.key])
        if spec.max_tokens > 32:  # CHIEF COMPLAINT's budget runs out before the loop shows
            assert text.count("- Antihistamine") == 2 and text.count("high blood pressure") == 2, spec.key
    assert all(c.closed_early for c in model.calls if c.request.max_tokens > 32)


def test_a_line_repeated_at_once_is_dropped_and_a_copied_dialogue_turn_ends_the_section():
    spec = ACI.section("assessment_and_plan")
    for written, kept, ended in [
        ("Knee pain.\n- Ice\n- Ice\n- ice \n- Rest", "Knee pain.\n- Ice\n- Rest", False),
        ("Osteoarthritis.\nPlan: rest.\nOsteoarthritis.\nPlan: ice.", "Osteoarthritis.\nPlan: rest.\n"
         "Osteoarthritis.\nPlan: ice.", False),  # a problem named twice, as real notes do
        ("A.\n- Neuro\n- Eyes\n- Neuro\n- Eyes\n- Neuro\n- Eyes", "A.\n- Neuro\n- Eyes\n- Neuro\n- Eyes", True),
        ("Knee pain.\nPatient: it hurts when I climb.\nDoctor: okay.", "Knee pain.", True),
        ("Knee pain.\n[doctor] any swelling?", "Knee pain.", True),
        ("Patients should rest.\nDoctors' advice: ice.", "Patients should rest.\nDoctors' advice: ice.", False),
    ]:
        for size in (1, 4, len(written)):
            stream = SectionStream(ACI, spec)
            shown = "".join(stream.feed(written[i : i + size]) for i in range(0, len(written), size)) + stream.finish()
            assert stream.text.strip() == kept and stream.ended == ended, (written, size, stream.text)
            assert "Patient:" not in shown and "[doctor]" not in shown


def test_section_stream_drops_a_preamble_and_an_echoed_heading_but_keeps_real_first_lines():
    spec = ACI.section("chief_complaint")
    for written, kept in [
        ("The CHIEF COMPLAINT section of a clinical note is:\nKnee pain.", "Knee pain."),
        ("**Chief complaint:** Knee pain.", "Knee pain."),
        ("CC:\n\nKnee pain.", "Knee pain."),
        ("Here is the note:\nKnee pain.", "Knee pain."),
        (
            "Knee pain for 2 weeks, worse on stairs:\n- right knee",
            "Knee pain for 2 weeks, worse on stairs:\n- right knee",
        ),
    ]:
        stream = SectionStream(ACI, spec)
        shown = "".join(stream.feed(c) for c in written) + stream.finish()
        assert stream.text == shown == kept, written
    for key, written, kept in [
        ("history_of_present_illness", "The patient's story:\nMr. White is 58.", "Mr. White is 58."),
        (
            "physical_examination",
            "---\nThe PHYSICAL EXAMINATION section of a clinical note:\nNeck supple.",
            "Neck supple.",
        ),
        ("review_of_systems", "Cardiovascular:\n- Denies chest pain.", "Cardiovascular:\n- Denies chest pain."),
    ]:
        stream = SectionStream(ACI, ACI.section(key))
        assert stream.feed(written) + stream.finish() == kept


def test_the_stream_filter_leaves_every_real_aci_bench_section_as_written(aci_rows):
    """No false alarms: reference notes streamed in small pieces come out unchanged (no loop cut, no
    run-on cut, no preamble dropped), in both formats."""
    for fmt in FORMATS.values():
        for row in aci_rows:
            for key, body in parse_note(row["note"], fmt).sections.items():
                if not body:
                    continue
                stream = SectionStream(fmt, fmt.section(key))
                shown = "".join(stream.feed(body[i : i + 5]) for i in range(0, len(body), 5)) + stream.finish()
                assert shown == stream.text == body.strip(), (fmt.key, row["encounter_id"], key)


def test_every_request_may_write_only_the_transcripts_numbers_unless_told_otherwise(valid_rows):
    """The drafter hands the model the numbers the visit states (the engine then refuses any other), in
    every kind of request: whole-transcript sections, parts and merges alike."""
    dialogue = valid_rows[0]["dialogue"] + "\n[patient] i'm fifty-six and take twenty milligrams ."
    for context, kinds in ((4096, {"section"}), (1400, {"extract", "merge"})):
        note, _ = make_note(dialogue)
        model = ScriptedModel(ACI, context_length=context)
        run(collect(NoteDrafter(model, DraftOptions(context_limit=context)).draft(note)))
        assert kinds <= {c.kind for c in model.calls}
        assert all(c.request.allowed_numbers == stated_numbers(note.transcript.text) for c in model.calls)
        assert {"56", "20"} <= model.calls[0].request.allowed_numbers
    note, _ = make_note(dialogue)
    model = ScriptedModel(ACI)
    run(collect(NoteDrafter(model, DraftOptions(ground_numbers=False)).draft(note)))
    assert all(c.request.allowed_numbers is None for c in model.calls)
