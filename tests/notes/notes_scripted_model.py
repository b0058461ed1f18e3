"""A scripted chat model for testing the drafting pipeline (the pipeline is under test, not the model).

It answers by rule, so a test can tell what reached the model and what came back:
- transcripts carry "fact words" naming the section they belong in (`hpifact3` -> history of
  present illness, see `fact_word`); asked for a section, for one part's facts, or to merge facts,
  it answers with every fact word of that section found in its prompt, or "Not stated.";
- it refuses (raises) any prompt that, with its token budget, does not fit its context, so an
  overflowing pipeline fails loudly; it writes at most `max_tokens` tokens;
- merging, it condenses: whatever the lists said, it answers with their fact words alone;
- it reports reading its prompt `prefill_chunk` tokens at a time (`on_prompt`), as the engine does;
- it streams its answer in small pieces and records every call (kind, section, prompt size,
  temperature, pieces sent, whether it was closed before finishing).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from hearth.notes.drafting import GenerationRequest
from hearth.notes.formats import NoteFormat


class WordTokenizer:
    """One token per word, punctuation mark or line break: deterministic and easy to reason about."""

    def encode(self, text: str) -> list[int]:
        return [len(t) for t in re.findall(r"\w+|[^\w\s]|\n", text)]


def fact_word(section_key: str, number: int) -> str:
    return f"{section_key.replace('_', '')}fact{number}"


class ContextOverflow(AssertionError):
    pass


@dataclass
class Call:
    kind: str  # "section", "extract" or "merge"
    section: str
    prompt_tokens: int
    request: GenerationRequest
    answer: str
    pieces_sent: int = 0
    closed_early: bool = False
    messages: list[dict[str, str]] = field(default_factory=list)


class ScriptedModel:
    def __init__(
        self,
        fmt: NoteFormat,
        context_length: int = 4096,
        piece_chars: int = 3,
        run_on: str | None = None,
        echo_heading: bool = False,
        fail_on_call: int | None = None,
        extract_padding: int = 0,
        prefill_chunk: int = 256,
    ) -> None:
        self.fmt = fmt
        self.context_length = context_length
        self.tokenizer = WordTokenizer()
        self.piece_chars = piece_chars
        self.run_on = run_on  # text appended after every section answer (a model running on)
        self.echo_heading = echo_heading
        self.fail_on_call = fail_on_call
        self.extract_padding = extract_padding  # filler words after each part's facts: wordy lists to condense
        self.prefill_chunk = prefill_chunk
        self.calls: list[Call] = []

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        rendered = "".join(f"<|{m['role']}|>\n{m['content']}<|end|>\n" for m in messages) + "<|assistant|>\n"
        return len(self.tokenizer.encode(rendered))

    def _target(self, user: str) -> tuple[str, str]:
        for spec in self.fmt.sections:
            if f"list as short bullet points every fact that belongs in the {spec.heading} section" in user:
                return "extract", spec.key
            if f"Write the {spec.heading} section" in user:
                return ("merge" if user.startswith("Notes for the") else "section"), spec.key
        raise AssertionError(f"the scripted model cannot tell what is asked: {user[-300:]!r}")

    def _answer(self, kind: str, key: str, user: str) -> str:
        material = user.rsplit("---", 1)[0]  # the transcript, part or notes; not the instruction
        code = key.replace("_", "")
        facts = list(dict.fromkeys(re.findall(rf"\b{code}fact\d+\b", material)))
        if not facts:
            return "Not stated."
        if kind == "extract":
            filler = " ".join(["context"] * self.extract_padding)
            return "\n".join(f"- {f}" for f in facts) + (f"\n({filler})" if filler else "")
        spec = self.fmt.section(key)
        body = "Reported: " + ", ".join(facts) + "."
        if self.echo_heading:
            body = f"{spec.heading}:\n{body}"
        if self.run_on:
            body += "\n" + self.run_on
        return body

    async def stream(
        self,
        messages: list[dict[str, str]],
        request: GenerationRequest,
        cancel: Callable[[], bool],
        on_prompt: Callable[[int, int], None] | None = None,
    ) -> AsyncIterator[str]:
        tokens = self.prompt_tokens(messages)
        if tokens + request.max_tokens > self.context_length:
            raise ContextOverflow(f"{tokens} prompt + {request.max_tokens} new tokens > context {self.context_length}")
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise RuntimeError("the model failed")
        user = messages[-1]["content"]
        kind, key = self._target(user)
        answer = self._answer(kind, key, user)
        words = re.findall(r"\S+\s*|\s+", answer)
        kept, count = [], 0
        for word in words:  # at most max_tokens tokens
            count += len(self.tokenizer.encode(word))
            if count > request.max_tokens:
                break
            kept.append(word)
        answer = "".join(kept)
        call = Call(kind, key, tokens, request, answer, messages=messages)
        self.calls.append(call)
        for read in range(self.prefill_chunk, tokens + self.prefill_chunk, self.prefill_chunk):
            await asyncio.sleep(0)
            if on_prompt is not None:
                on_prompt(min(read, tokens), tokens)
        finished = False
        try:
            for i in range(0, len(answer), self.piece_chars):
                if cancel():
                    break
                await asyncio.sleep(0)
                call.pieces_sent += 1
                yield answer[i : i + self.piece_chars]
            finished = True
        finally:
            call.closed_early = not finished


def transcript_with_facts(dialogue: str, fmt: NoteFormat, per_section: int = 3) -> tuple[str, dict[str, list[str]]]:
    """A real ACI-Bench dialogue with each section's fact words spread evenly over its turns."""
    lines = [line for line in dialogue.split("\n") if line.strip()]
    facts: dict[str, list[str]] = {spec.key: [] for spec in fmt.sections}
    for s, spec in enumerate(fmt.sections):
        for n in range(per_section):
            word = fact_word(spec.key, n)
            facts[spec.key].append(word)
            index = (len(lines) * n // per_section + s) % len(lines)
            lines[index] = f"{lines[index]} {word}"
    return "\n".join(lines), facts
