"""The drafter times the model as it drafts (`NoteDrafter.speed`), for the estimates the UI shows:
prompt tokens read before each request's first piece, pieces written after it; assumed speeds
until something is measured."""

from __future__ import annotations

import asyncio

import pytest
from notes_scripted_model import ScriptedModel, WordTokenizer, transcript_with_facts

from hearth.notes.drafting import DraftPlan, NoteDrafter
from hearth.notes.formats import SOAP
from hearth.notes.note import Note
from hearth.notes.speed import DECODE_TOKENS_PER_S, MIN_PIECES, PREFILL_TOKENS_PER_S, DraftSpeed
from hearth.notes.transcript import transcript_from_text

DIALOGUE = "\n".join(
    f"[doctor] How has the cough been this week, day {i}?\n[patient] A little better, and I sleep through the night."
    for i in range(12)
)


def test_nothing_measured_reports_nothing_and_estimates_with_the_assumed_speeds():
    speed = DraftSpeed()
    assert speed.prefill_rate == 0.0 and speed.decode_rate == 0.0
    assert speed.seconds_for(920, 73) == pytest.approx(920 / PREFILL_TOKENS_PER_S + 73 / DECODE_TOKENS_PER_S)
    plan = DraftPlan(4096, 900, (), 4, 4, 920, 73)
    assert plan.estimate_seconds() == plan.estimate_seconds(speed) == speed.seconds_for(920, 73)


def test_measured_speeds_replace_the_assumed_ones_once_there_are_enough_pieces():
    speed = DraftSpeed()
    speed.prompt_read(1000, 4.0)
    speed.prompt_read(600, 4.0)
    assert speed.prefill_rate == 200.0
    for _ in range(MIN_PIECES - 1):
        speed.piece_written(0.1)
    assert speed.decode_rate == 0.0  # too few to say
    speed.piece_written(0.1)
    assert speed.decode_rate == pytest.approx(10.0)
    assert speed.seconds_for(400, 30) == pytest.approx(400 / 200 + 30 / 10)


def test_the_drafter_times_every_request_of_a_draft_counting_what_the_model_read_and_wrote():
    text, _ = transcript_with_facts(DIALOGUE, SOAP)
    note = Note(SOAP, transcript_from_text(text))
    model = ScriptedModel(SOAP)
    drafter = NoteDrafter(model)

    async def draft() -> None:
        async for _ in drafter.draft(note):
            pass

    asyncio.run(draft())
    count = WordTokenizer()
    assert drafter.speed.prompt_tokens == sum(
        len(count.encode(m["content"])) for call in model.calls for m in call.messages
    )
    assert drafter.speed.pieces == sum(call.pieces_sent - 1 for call in model.calls)
    assert drafter.speed.prefill_seconds > 0 and drafter.speed.decode_seconds > 0

    first = drafter.speed
    asyncio.run(draft())
    assert drafter.speed is not first  # each draft measures afresh
