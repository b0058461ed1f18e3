"""End to end with the built-in model (SmolLM2-135M-Instruct through hearth.llm and onnxruntime):
a whole note drafted from a real ACI-Bench visit, and stop. Skipped, saying why, where the engine
or the converted model is not present; nothing here downloads."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from hearth.notes.divisions import split_divisions
from hearth.notes.drafting import DraftFinished, DraftStarted, NoteDrafter, SectionFinished, SectionText
from hearth.notes.engine import EngineModel
from hearth.notes.formats import ACI
from hearth.notes.note import Note, SectionState
from hearth.notes.transcript import transcript_from_text

pytestmark = pytest.mark.slow


def _builtin_model_dir() -> Path:
    try:
        from hearth.llm.files.builtin_models import BUILTIN, cache_root
    except ImportError as error:
        pytest.skip(f"the language model engine (hearth.llm) is not in this build: {error}")
    if os.environ.get("HEARTH_SMOLLM2_DIR"):
        return Path(os.environ["HEARTH_SMOLLM2_DIR"])
    built = sorted((cache_root() / "models").glob(f"{BUILTIN['smollm2']}-*/manifest.json"), key=os.path.getmtime)
    if not built:
        pytest.skip(
            "the built-in SmolLM2 model is not converted here: run `python -m hearth generate --model smollm2 "
            "--prompt hi` once (it downloads and converts it), or set HEARTH_SMOLLM2_DIR"
        )
    return built[-1].parent


@pytest.fixture(scope="module")
def smollm2() -> EngineModel:
    model_dir = _builtin_model_dir()  # skips, saying why, before anything is imported
    from hearth.llm.files.model_dir import load_model_dir

    return EngineModel(asyncio.run(load_model_dir(model_dir)))


def test_the_built_in_model_drafts_every_section_of_a_real_visit(smollm2, valid_rows):
    note = Note(ACI, transcript_from_text(valid_rows[0]["dialogue"]))
    drafter = NoteDrafter(smollm2)

    async def draft() -> list:
        return [event async for event in drafter.draft(note)]

    events = asyncio.run(draft())
    assert isinstance(events[0], DraftStarted) and not events[0].plan.in_parts
    assert events[-1] == DraftFinished(stopped=False)
    finished = [e.key for e in events if isinstance(e, SectionFinished)]
    assert finished == list(ACI.keys)
    assert any(isinstance(e, SectionText) for e in events)
    for section in note.sections:
        assert section.state is SectionState.DONE and section.text.strip(), section.key
    text = note.to_text()
    assert [line for line in text.split("\n") if line in {s.heading for s in ACI.sections}] == [
        s.heading for s in ACI.sections
    ]
    assert set(split_divisions(text)) == {"subjective", "objective_exam", "objective_results", "assessment_and_plan"}


def test_stop_ends_the_real_model_mid_section(smollm2, valid_rows):
    note = Note(ACI, transcript_from_text(valid_rows[1]["dialogue"]))
    drafter = NoteDrafter(smollm2)
    keys = ["history_of_present_illness", "assessment_and_plan", "review_of_systems", "results"]
    stopped_in: list[str] = []

    async def draft_and_stop() -> list:
        events = []
        async for event in drafter.draft(note, keys=keys):
            events.append(event)
            if isinstance(event, SectionText) and not stopped_in:
                stopped_in.append(event.key)
                drafter.stop()
        return events

    events = asyncio.run(draft_and_stop())
    assert events[-1] == DraftFinished(stopped=True)
    where = keys.index(stopped_in[0])
    assert note[keys[where]].state is SectionState.STOPPED
    assert all(note[k].state is SectionState.DONE for k in keys[:where])
    assert all(note[k].state is SectionState.EMPTY for k in keys[where + 1 :])
    budget = ACI.section(keys[where]).max_tokens
    assert smollm2.model.last is not None and len(smollm2.model.last.token_ids) < min(100, budget)
    assert smollm2.model.decoder.stored_prompt_tokens > 0  # the transcript's state, kept for the next section
    note.clear()
    drafter.forget()
    assert smollm2.model.last is None  # the engine's copy of the last text goes with the note
    assert smollm2.model.decoder.stored_prompt_tokens == 0  # and so does its state of the transcript
