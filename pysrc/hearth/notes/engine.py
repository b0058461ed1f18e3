"""Hearth's language model engine (`hearth.llm`) as the drafter's `ChatModel`.

The only module of the notes feature that knows the engine's names, so a change there is one edit
here. The engine is imported when a model is wrapped, never at import time: the notes package works
(and its tests run) without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from hearth.notes.drafting import GenerationRequest
from hearth.notes.prompts import Message


class EngineUnavailableError(RuntimeError):
    pass


class _PlainTokenizer:
    """Counts text without the BOS the engine's tokenizer adds by default (the chat template writes it once)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        try:
            return list(self._tokenizer.encode(text, add_special_tokens=False))
        except TypeError:
            return list(self._tokenizer.encode(text))


class EngineModel:
    """A loaded `hearth.llm` LanguageModel, speaking the drafter's protocol."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.tokenizer = _PlainTokenizer(model.tokenizer)
        length = getattr(model, "context_length", None)
        self.context_length = int(length if length is not None else model.config.max_position_embeddings)

    @classmethod
    async def load(cls, name_or_dir: str) -> EngineModel:
        """A built-in model by name ("smollm2") or a model directory."""
        try:
            from hearth.llm.files.builtin_models import resolve_model
            from hearth.llm.files.model_dir import load_model_dir
        except ImportError as error:
            raise EngineUnavailableError(f"the language model engine (hearth.llm) is not available: {error}") from error
        return cls(await load_model_dir(resolve_model(name_or_dir)))

    def forget(self) -> None:
        """Drop the engine's record of the last generation and the stored state of the last prompt
        (both are part of the visit)."""
        forget = getattr(self.model, "forget", None)
        if forget is not None:
            forget()

    def stream(
        self,
        messages: list[Message],
        request: GenerationRequest,
        cancel: Callable[[], bool],
        on_prompt: Callable[[int, int], None] | None = None,
    ) -> AsyncIterator[str]:
        from hearth.llm.model.generate import GenerationSettings

        settings = GenerationSettings(
            max_new_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed,
            repetition_penalty=request.repetition_penalty,
            max_context=self.context_length,
            allowed_numbers=request.allowed_numbers,
        )
        return self.model.stream(messages, settings, cancel, on_prompt=on_prompt)
