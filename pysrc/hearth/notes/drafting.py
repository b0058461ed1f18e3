"""The drafting pipeline: a transcript in, a note streamed out section by section, on any chat model.

Long transcripts are never cut. When a section's request would not fit the model's context, the
transcript is split at speaker turns into parts that do; for each section the model lists that
section's facts from every part, then writes the section from those lists (merging in rounds if the
lists themselves do not fit). Tokens are counted with the model's own tokenizer.

The pipeline hands out data, not prose: the UI words the plan and the progress it shows. Only the
errors it raises carry a message for the clinician.

Read top-down: the model it needs (a protocol), the plan, the events the UI draws, and the drafter,
which runs it all as an async stream of those events, passes each section's text through
`section_stream.SectionStream`, and times the model (`speed.DraftSpeed`) for the UI's estimates.
The same code runs in the browser (Pyodide) and on CPython: it only awaits the model's stream.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Protocol

from hearth.i18n import number, t
from hearth.notes.facts import stated_numbers
from hearth.notes.formats import NoteFormat, SectionSpec
from hearth.notes.note import Note, SectionState
from hearth.notes.prompts import (
    SYSTEM_PROMPT,
    Message,
    clean_section_text,
    extract_messages,
    extract_request,
    is_not_stated,
    merge_messages,
    part_block,
    section_messages,
    section_request,
    transcript_block,
)
from hearth.notes.section_stream import SectionStream
from hearth.notes.speed import DraftSpeed
from hearth.notes.transcript import Transcript

# ==================================================================================================
# The model: anything with a context length, a tokenizer and a streaming chat call.
# ==================================================================================================


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...


@dataclass(frozen=True)
class GenerationRequest:
    """How much to write and how to pick tokens, for one model call."""

    max_tokens: int
    temperature: float = 0.0  # 0: greedy, the same text every time
    seed: int | None = None
    repetition_penalty: float = 1.0  # > 1 discourages the loops small models fall into
    # The only numbers the model may write in digits (those the transcript states); None: any.
    allowed_numbers: frozenset[str] | None = None


PromptProgress = Callable[[int, int], None]  # (tokens read, tokens in the prompt) while a prompt is read


class ChatModel(Protocol):
    """What the drafter needs of a language model (`engine.EngineModel` adapts `hearth.llm`'s; tests
    drive the pipeline with a scripted one). `cancel()` turning true asks the model to stop early;
    `on_prompt(read, total)`, when given, hears how far the model is in reading the prompt, before its
    first piece (a long transcript takes the built-in model many seconds to read)."""

    context_length: int
    tokenizer: Tokenizer

    def stream(
        self,
        messages: list[Message],
        request: GenerationRequest,
        cancel: Callable[[], bool],
        on_prompt: PromptProgress | None = None,
    ) -> AsyncIterator[str]: ...


@dataclass(frozen=True)
class DraftOptions:
    context_limit: int | None = None  # use less than the model's context (memory, speed in the browser)
    extract_max_tokens: int = 192  # per part and section, when a long transcript is read in parts
    message_overhead_tokens: int = 8  # chat-template tokens around each message (role markers, separators)
    safety_tokens: int = 32  # slack for tokens merging differently across pieces counted apart
    regenerate_temperature: float = 0.7  # regenerating greedily would only give the same text back
    section_max_tokens: int | None = None  # write at most this much per section (a quick, short draft)
    repetition_penalty: float = 1.0
    # Let the model write only numbers the transcript states (ages, doses, vitals): a small model
    # otherwise invents them, and an invented dose is worse than none (models/README.md measures it).
    ground_numbers: bool = True


class DraftError(ValueError):
    pass


class NoTranscriptError(DraftError):
    pass


class DraftBusyError(DraftError):
    pass


class ContextTooSmallError(DraftError):
    pass


# ==================================================================================================
# The plan: one request per section, or the transcript in parts.
# ==================================================================================================


class _TokenCounter:
    def __init__(self, tokenizer: Tokenizer, overhead: int) -> None:
        self._tokenizer = tokenizer
        self._overhead = overhead
        self._cache: dict[str, int] = {}

    def text(self, text: str) -> int:
        if text not in self._cache:
            self._cache[text] = len(self._tokenizer.encode(text))
        return self._cache[text]

    def messages(self, *contents: str) -> int:
        """Tokens of a chat whose message contents are `contents` (a message may be given in pieces
        that are counted apart, so the transcript is encoded once however many requests use it)."""
        return sum(self.text(c) for c in contents) + 3 * self._overhead  # system, user, assistant header


@dataclass(frozen=True)
class DraftPlan:
    """How a draft will go, in numbers: the UI words it for the clinician (a long transcript's notice,
    the time left)."""

    context: int  # tokens the pipeline may use per request
    transcript_tokens: int
    chunks: tuple[str, ...]  # the transcript's parts; empty when each section reads it whole
    sections: int
    requests: int  # model calls, at most
    prompt_tokens: int  # tokens read, at most
    new_tokens: int  # tokens written, at most

    @property
    def in_parts(self) -> bool:
        return bool(self.chunks)

    def estimate_seconds(self, speed: DraftSpeed | None = None) -> float:
        """An upper bound: every request reads its whole prompt and writes its token budget, at the
        speed measured so far (the assumed speed before anything is measured)."""
        return (DraftSpeed() if speed is None else speed).seconds_for(self.prompt_tokens, self.new_tokens)

    def seconds_left(self, speed: DraftSpeed, elapsed: float) -> float | None:
        """At most how long the rest of the draft takes, `elapsed` seconds into it (never below 0); None
        until `speed` is measured on this device, as an estimate from assumed speeds misleads."""
        if not speed.measured:
            return None
        return max(0.0, self.estimate_seconds(speed) - elapsed)


def _split_long_line(line: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """Pieces of one over-long turn, each within `budget` tokens, cut at sentence ends where possible,
    else between words, else between characters (a part then shows them on separate lines)."""
    pieces: list[str] = []
    units = re.split(r"(?<=[.?!])\s+", line)
    if len(units) == 1:
        units = line.split(" ")
    current = ""
    for unit in units:
        candidate = f"{current} {unit}" if current else unit
        if count(candidate) <= budget:
            current = candidate
            continue
        if current:
            pieces.append(current)
        if count(unit) <= budget:
            current = unit
        elif " " in unit:
            sub = _split_long_line(unit, budget, count)
            pieces.extend(sub[:-1])
            current = sub[-1]
        else:  # one enormous "word": cut it by characters
            step = max(1, len(unit) * budget // max(1, count(unit)) // 2)
            chars = [unit[i : i + step] for i in range(0, len(unit), step)]
            pieces.extend(chars[:-1])
            current = chars[-1]
    if current:
        pieces.append(current)
    return pieces


def split_into_chunks(lines: Sequence[str], budget: int, count: Callable[[str], int]) -> list[str]:
    """Pack transcript lines into consecutive parts of at most `budget` tokens each, breaking only
    between turns unless one turn alone is too long. Every character of every line is kept."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for line in lines:
        pieces = [line] if count(line) + 1 <= budget else _split_long_line(line, budget - 1, count)
        for piece in pieces:
            size = count(piece) + 1  # the newline joining it to the next
            if current and used + size > budget:
                chunks.append("\n".join(current))
                current, used = [], 0
            current.append(piece)
            used += size
    if current:
        chunks.append("\n".join(current))
    return chunks


# ==================================================================================================
# Events: what the UI draws.
# ==================================================================================================


@dataclass(frozen=True)
class DraftStarted:
    plan: DraftPlan


@dataclass(frozen=True)
class SectionStarted:
    key: str
    heading: str
    index: int
    total: int


@dataclass(frozen=True)
class SectionProgress:
    """A long transcript's section is being read: part `step` of `steps`."""

    key: str
    step: int
    steps: int


@dataclass(frozen=True)
class SectionText:
    key: str
    text: str  # a piece to append to what is shown for the section


@dataclass(frozen=True)
class SectionFinished:
    key: str
    text: str  # the section's final text: replaces what was shown (it may have been cleaned up)
    state: SectionState


@dataclass(frozen=True)
class DraftFinished:
    stopped: bool


DraftEvent = DraftStarted | SectionStarted | SectionProgress | SectionText | SectionFinished | DraftFinished


# ==================================================================================================
# The drafter.
# ==================================================================================================


class NoteDrafter:
    """Drafts notes with one model. One draft at a time; `stop()` ends the one running."""

    def __init__(self, model: ChatModel, options: DraftOptions | None = None) -> None:
        self.model = model
        self.options = options or DraftOptions()
        self.speed = DraftSpeed()  # of the model in the last (or running) draft
        # Told (read, total) while the model reads a request's prompt. A callback, not an event: the
        # model reports from inside its call, before the first piece, when this generator cannot yield.
        self.on_prompt: PromptProgress | None = None
        self._count: _TokenCounter | None = None  # lives for one run only: it holds transcript text
        self._stop_requested = False
        self._running = False
        self._regenerations = 0  # seeds successive regenerations differently

    @property
    def context(self) -> int:
        limit = self.options.context_limit
        return min(self.model.context_length, limit) if limit else self.model.context_length

    def section_tokens(self, spec: SectionSpec) -> int:
        """The most tokens a draft of `spec` may take: the format's budget, or less when the options cap it."""
        cap = self.options.section_max_tokens
        return min(spec.max_tokens, cap) if cap else spec.max_tokens

    @property
    def running(self) -> bool:
        return self._running

    def forget(self) -> None:
        """Have the model drop anything it kept of the last request (for the clinician's "clear",
        with `Note.clear()`); the drafter itself keeps nothing of a visit between runs."""
        forget = getattr(self.model, "forget", None)
        if forget is not None:
            forget()

    def stop(self) -> None:
        """End the running draft after the piece being written; what is written so far stays."""
        if self._running:
            self._stop_requested = True

    # --- planning ---------------------------------------------------------------------------------

    def _counter(self) -> _TokenCounter:
        return _TokenCounter(self.model.tokenizer, self.options.message_overhead_tokens)

    def plan(self, transcript: Transcript, fmt: NoteFormat) -> DraftPlan:
        """How the transcript will be read: whole, or in parts."""
        return self._plan(transcript, fmt, self._count or self._counter())

    def _plan(self, transcript: Transcript, fmt: NoteFormat, count: _TokenCounter) -> DraftPlan:
        opts, context = self.options, self.context
        text = transcript.text
        transcript_tokens = count.text(text)
        whole = count.text(SYSTEM_PROMPT) + count.text(transcript_block(text))
        fits = all(
            count.messages(SYSTEM_PROMPT, transcript_block(text), section_request(fmt, s)) + self.section_tokens(s)
            <= context - opts.safety_tokens
            for s in fmt.sections
        )
        if fits:
            prompt = sum(
                whole + count.text(section_request(fmt, s)) + 3 * opts.message_overhead_tokens for s in fmt.sections
            )
            new = sum(self.section_tokens(s) for s in fmt.sections)
            return DraftPlan(context, transcript_tokens, (), len(fmt.sections), len(fmt.sections), prompt, new)

        frame = max(
            count.messages(SYSTEM_PROMPT, part_block(99, 99, ""), extract_request(fmt, s)) for s in fmt.sections
        )
        budget = context - opts.safety_tokens - opts.extract_max_tokens - frame
        merge_frame = max(count.messages(*_contents(merge_messages([], fmt, s))) for s in fmt.sections)
        merge_out = max(opts.extract_max_tokens, *(self.section_tokens(s) for s in fmt.sections))
        # Lists per merge request, each list at most extract_max_tokens plus its "From part N:" line.
        per_merge = (context - opts.safety_tokens - merge_frame - merge_out) // (opts.extract_max_tokens + 8)
        if budget < 64 or per_merge < 2:
            raise ContextTooSmallError(t(
                "The model's context ({context} tokens) is too small to draft notes from a transcript this long "
                "({tokens} tokens). Use a model with a longer context, or allow it more context.",
                context=number(context), tokens=number(transcript_tokens)))
        chunks = split_into_chunks(text.split("\n"), budget, count.text)
        requests = prompt = new = 0
        for spec in fmt.sections:
            extract_prompt = count.messages(SYSTEM_PROMPT, extract_request(fmt, spec)) + count.text(
                part_block(99, 99, "")
            )
            prompt += sum(extract_prompt + count.text(c) for c in chunks)
            new += len(chunks) * opts.extract_max_tokens
            merges = _merge_rounds(len(chunks), per_merge)
            requests += len(chunks) + merges
            prompt += merges * (context - self.section_tokens(spec))
            new += merges * self.section_tokens(spec)
        return DraftPlan(context, transcript_tokens, tuple(chunks), len(fmt.sections), requests, prompt, new)

    # --- running ----------------------------------------------------------------------------------

    def draft(self, note: Note, keys: Sequence[str] | None = None) -> AsyncIterator[DraftEvent]:
        """Draft the note's sections (all, or those in `keys`) in order, streaming as they are written.
        Each section drafted replaces that section's text, and only that section's."""
        if keys is not None:
            for key in keys:
                note[key]  # an unknown key fails now, before anything changes
        return self._run(note, keys, temperature=0.0)

    def regenerate(self, note: Note, key: str) -> AsyncIterator[DraftEvent]:
        """Draft one section again, sampling, so the clinician gets a different wording."""
        note[key]
        self._regenerations += 1
        return self._run(note, [key], temperature=self.options.regenerate_temperature, seed=self._regenerations)

    async def _run(
        self, note: Note, keys: Sequence[str] | None, temperature: float, seed: int | None = None
    ) -> AsyncIterator[DraftEvent]:
        if note.transcript is None:
            raise NoTranscriptError(t("There is no transcript to draft from. Paste or load the visit transcript first."))
        if self._running:
            raise DraftBusyError(t("A note is already being drafted. Stop it first, or wait until it finishes."))
        specs = [note[k].spec for k in keys] if keys is not None else list(note.format.sections)
        self._running, self._stop_requested = True, False
        self._count = self._counter()
        self.speed = DraftSpeed()
        try:
            plan = self._plan(note.transcript, note.format, self._count)
            numbers = stated_numbers(note.transcript.text) if self.options.ground_numbers else None
            yield DraftStarted(plan)
            for index, spec in enumerate(specs):
                if self._stop_requested:
                    break
                section_events = self._draft_section(
                    note,
                    spec,
                    plan,
                    index,
                    len(specs),
                    GenerationRequest(0, temperature, seed, self.options.repetition_penalty, numbers),
                )
                async with aclosing(section_events) as events:
                    async for event in events:
                        yield event
            yield DraftFinished(stopped=self._stop_requested)
        finally:
            self._running, self._count = False, None

    async def _draft_section(
        self, note: Note, spec: SectionSpec, plan: DraftPlan, index: int, total: int, sampling: GenerationRequest
    ) -> AsyncIterator[DraftEvent]:
        section = note[spec.key]
        section.text, section.state = "", SectionState.DRAFTING
        yield SectionStarted(spec.key, spec.heading, index, total)
        stream = SectionStream(note.format, spec)
        try:
            if plan.in_parts:
                messages = None
                extracts = []
                for part, chunk in enumerate(plan.chunks, 1):
                    yield SectionProgress(spec.key, part, len(plan.chunks))
                    got = await self._complete(
                        extract_messages(chunk, part, len(plan.chunks), note.format, spec),
                        replace(sampling, max_tokens=self.options.extract_max_tokens),
                    )
                    if self._stop_requested:
                        break
                    extracts.append(got)
                found = [e for e in extracts if not is_not_stated(e)]
                if not self._stop_requested and found:
                    messages = await self._merge_down(found, note.format, spec, sampling)
            else:
                messages = section_messages(note.transcript.text, note.format, spec)
            if messages is not None and not self._stop_requested:
                async with aclosing(self._pieces(messages, replace(sampling, max_tokens=self.section_tokens(spec)))) as pieces:
                    async for piece in pieces:
                        shown = stream.feed(piece)
                        section.text = stream.text
                        if shown:
                            yield SectionText(spec.key, shown)
                        if stream.ended:
                            break
                tail = stream.finish()
                section.text = stream.text
                if tail:
                    yield SectionText(spec.key, tail)
        except (GeneratorExit, asyncio.CancelledError):  # the UI dropped the stream or cancelled the task
            section.text, section.state = section.text.strip(), SectionState.STOPPED
            raise
        except Exception:
            section.state = SectionState.FAILED
            raise
        if self._stop_requested:
            section.text, section.state = section.text.strip(), SectionState.STOPPED
        else:
            section.text, section.state = clean_section_text(section.text), SectionState.DONE
        yield SectionFinished(spec.key, section.text, section.state)

    async def _merge_down(
        self, extracts: list[str], fmt: NoteFormat, spec: SectionSpec, sampling: GenerationRequest
    ) -> list[Message] | None:
        """Merge facts in rounds until one request holds them all; returns that final request."""
        assert self._count is not None
        final_budget = self.context - self.options.safety_tokens - self.section_tokens(spec)
        round_budget = self.context - self.options.safety_tokens - self.options.extract_max_tokens
        while True:
            messages = merge_messages(extracts, fmt, spec)
            if self._count.messages(*_contents(messages)) <= final_budget or len(extracts) == 1:
                return messages
            groups: list[list[str]] = []
            current: list[str] = []
            for text in extracts:
                trial = merge_messages([*current, text], fmt, spec)
                if current and self._count.messages(*_contents(trial)) > round_budget:
                    groups.append(current)
                    current = []
                current.append(text)
            groups.append(current)
            merged = []
            for group in groups:
                if len(group) == 1:
                    merged.append(group[0])
                    continue
                merged.append(
                    await self._complete(
                        merge_messages(group, fmt, spec), replace(sampling, max_tokens=self.options.extract_max_tokens)
                    )
                )
                if self._stop_requested:
                    return None
            if len(merged) == len(extracts):  # not even two lists fit one request: the plan ruled this out
                raise ContextTooSmallError(t(
                    "The model's context ({context} tokens) cannot hold the notes for {heading} from two parts of the "
                    "transcript. Allow the model more context.", context=number(self.context), heading=spec.heading))
            extracts = merged

    async def _complete(self, messages: list[Message], request: GenerationRequest) -> str:
        async with aclosing(self._pieces(messages, request)) as pieces:
            return "".join([piece async for piece in pieces]).strip()

    def _cancelled(self) -> bool:
        return self._stop_requested

    def _prompt_progress(self, read: int, total: int) -> None:
        if self.on_prompt is not None:
            self.on_prompt(read, total)

    async def _pieces(self, messages: list[Message], request: GenerationRequest) -> AsyncIterator[str]:
        """The model's pieces for one request, until it ends or the draft is stopped, timed into `speed`."""
        called = time.perf_counter()
        last: float | None = None
        stream = self.model.stream(messages, request, self._cancelled, on_prompt=self._prompt_progress)
        try:
            async for piece in stream:
                now = time.perf_counter()
                if last is None:
                    assert self._count is not None
                    self.speed.prompt_read(sum(self._count.text(c) for c in _contents(messages)), now - called)
                else:
                    self.speed.piece_written(now - last)
                last = now
                yield piece
                if self._stop_requested:
                    return
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()


def _contents(messages: list[Message]) -> list[str]:
    return [m["content"] for m in messages]


def _merge_rounds(parts: int, per_merge: int) -> int:
    """Merge requests needed to bring `parts` lists down to one section, at most."""
    rounds = 0
    while parts > 1:
        groups = -(-parts // per_merge)
        rounds += groups
        parts = groups
    return max(rounds, 1)


__all__ = [
    "ChatModel",
    "ContextTooSmallError",
    "DraftBusyError",
    "DraftError",
    "DraftEvent",
    "DraftFinished",
    "DraftOptions",
    "DraftPlan",
    "DraftStarted",
    "GenerationRequest",
    "NoTranscriptError",
    "NoteDrafter",
    "PromptProgress",
    "SectionFinished",
    "SectionProgress",
    "SectionStarted",
    "SectionText",
    "Tokenizer",
    "split_into_chunks",
]
