"""Text generation over `hearth.runtime`: prefill, then one decoder call per new token.

The KV cache never comes back to Python: each call names the `present.*` outputs in `keep=`, and the
handles go straight back in as the next call's `past_key_values.*` (on WebGPU the runtime keeps
them in GPU buffers). Only the last position's logits (one row of `vocab` floats) cross over per
token, for the sampler.

The decoder also keeps the KV state of the last prompt it read. A prompt that starts the same way (the
next section of a clinical note over the same transcript, the next turn of a chat) starts from it and
reads only the tokens that differ; `Decoder.forget()` drops it.

    model = await load_model_dir("~/.cache/hearth/models/smollm2-.../")   # hearth.llm.files.model_dir
    async for piece in model.stream([{"role": "user", "content": "Hi"}], GenerationSettings(max_new_tokens=32)):
        print(piece, end="")
    result = await model.complete("Once upon a time", GenerationSettings(temperature=0.7, seed=1))
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hearth.i18n import t
from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.grounding import DigitTokens, NumberGuard
from hearth.runtime import Runtime, Session, Tensor, dispose_all, get_runtime

Message = Mapping[str, str]
Prompt = str | Sequence[Message] | Sequence[int]
Cancel = Callable[[], bool] | asyncio.Event | None
PromptProgress = Callable[[int, int], None] | None  # (prompt tokens read, prompt tokens) while reading a prompt


class ContextLengthError(ValueError):
    """The prompt does not fit in the model's context window."""


class ModelFilesError(ValueError):
    """A model directory without the files a language model needs."""


@dataclass
class GenerationSettings:
    """How to pick tokens and when to stop. temperature 0 is greedy decoding."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop_token_ids: Sequence[int] | None = None  # None: the model's end-of-turn/end-of-text tokens
    max_context: int | None = None  # a smaller context than the model's, e.g. to bound memory
    # The only numbers the output may hold in digits ("56", "2.5"; see grounding.py), e.g. those a
    # transcript states; None: any number.
    allowed_numbers: frozenset[str] | None = None


@dataclass
class GenerationStats:
    """What one generation did, filled in as it runs (times are `time.perf_counter()` seconds)."""

    prompt_tokens: int = 0
    reused_prompt_tokens: int = 0  # of those, read from the stored prompt instead of run again
    generated: int = 0
    finish_reason: str = "length"  # "stop" (a stop token), "length" (max_new_tokens or context), "cancelled"
    time_to_first_token: float = 0.0  # from the call to the first new token (prefill + one sample)
    first_token_at: float | None = None
    last_token_at: float | None = None

    @property
    def decode_seconds(self) -> float:
        """From the first new token to the last."""
        if self.first_token_at is None:
            return 0.0
        return (self.last_token_at or self.first_token_at) - self.first_token_at


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    prompt_tokens: int
    finish_reason: str  # "stop" (a stop token), "length" (max_new_tokens or context), "cancelled"
    time_to_first_token: float  # seconds from the call to the first new token (prefill + one sample)
    decode_seconds: float  # after the first token
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        """Decode speed after the first token (the prefill is in time_to_first_token)."""
        n = len(self.token_ids) - 1
        return n / self.decode_seconds if n > 0 and self.decode_seconds > 0 else 0.0


def _cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, asyncio.Event):
        return cancel.is_set()
    return bool(cancel())


def _make_sampler(settings: GenerationSettings) -> Any:
    from hearth.llm.model.sampling import Sampler

    return Sampler(temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p,
                   repetition_penalty=settings.repetition_penalty, seed=settings.seed)


# ---------------------------------------------------------------- the token loop


MIN_REUSE = 8  # shared prompt tokens below which reading the prompt afresh is as cheap as reusing
# Prompt tokens per decoder call while reading a prompt. Each position attends only to those before it,
# but one call over the whole prompt scores every position against every other and masks half away,
# and Softmax and the mask grow with the square of the prompt. In chunks, chunk j scores against the j
# chunks before it only, the attention intermediates are heads x CHUNK x total instead of heads x total^2
# (a long visit's prompt read whole can run onnxruntime-web out of memory), and a cancel is seen between
# chunks. The measurements behind 256 are in models/README.md ("Chunked prefill").
PREFILL_CHUNK = 256


def shared_start(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens two prompts have in common."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def kv_prefix_graph(names: Sequence[str], dtype: str) -> bytes:
    """ONNX graph cutting KV tensors [batch, heads, positions, head_dim] to their first `length` positions
    (the part of a stored prompt the next prompt shares); outputs are named `NAME.prefix`."""
    from hearth.graph import Graph

    g = Graph("kv_prefix")
    length = g.input("length", "int64", [1])
    zero, axis = g.const([0], "int64", "starts"), g.const([2], "int64", "axes")
    for name in names:
        shape = ["batch_size", "heads", "positions", "head_dim"]
        g.output(g.op("Slice", g.input(name, dtype, shape), zero, length, axis), dtype, shape, name=f"{name}.prefix")
    return g.to_bytes()


def _except(values: Iterable[Any], kept: Iterable[Any]) -> list[Any]:
    """`values` that are not (the very objects) in `kept`: the tensors safe to free."""
    keep = {id(v) for v in kept}
    return [v for v in values if v is not None and id(v) not in keep]


class Decoder:
    """One decoder session and the bookkeeping of its I/O names; generates token ids."""

    def __init__(self, session: Session, config: LlamaConfig, runtime: Runtime, cache_dtype: str = "float32",
                 keep_on_gpu: bool = False, reuse_prompt: bool = True, prefill_chunk: int | None = PREFILL_CHUNK) -> None:
        self.session, self.config, self.runtime = session, config, runtime
        self.keep_on_gpu = keep_on_gpu  # the session keeps its KV in GPU buffers (WebGPU)
        self.reuse_prompt = reuse_prompt
        self.prefill_chunk = prefill_chunk  # None: a prompt in one call
        self._prompt_ids: list[int] = []  # the last prompt read, and its KV state on the runtime side
        self._prompt_kv: dict[str, Any] = {}
        self._slicer: Session | None = None
        self.cache_dtype = np.dtype(cache_dtype)  # onnx-community's *fp16/*q4f16 files keep a float16 cache
        layers = range(config.num_hidden_layers)
        self.past_names = [n for i in layers for n in (f"past_key_values.{i}.key", f"past_key_values.{i}.value")]
        self.present_names = [n for i in layers for n in (f"present.{i}.key", f"present.{i}.value")]
        missing = [n for n in ["input_ids", "attention_mask", *self.past_names] if n not in session.input_names]
        if missing or "logits" not in session.output_names:
            raise ModelFilesError(
                f"the ONNX model does not have the decoder inputs/outputs this config implies (missing {missing[:3]}); "
                "export it with past_key_values.* inputs and present.* outputs")
        self.uses_position_ids = "position_ids" in session.input_names

    def context_length(self, settings: GenerationSettings) -> int:
        limit = self.config.max_position_embeddings
        return min(limit, settings.max_context) if settings.max_context else limit

    def _empty_cache(self) -> dict[str, Tensor | np.ndarray]:
        c = self.config
        empty = np.zeros((1, c.num_key_value_heads, 0, c.head_dim), self.cache_dtype)
        return {name: empty for name in self.past_names}

    # -- the stored prompt
    @property
    def stored_prompt_tokens(self) -> int:
        """Tokens of the last prompt whose KV state is kept for the next one."""
        return len(self._prompt_ids)

    def forget(self) -> None:
        """Drop the stored prompt state (its memory is freed; the next prompt is read whole)."""
        stored = list(self._prompt_kv.values())
        self._prompt_ids, self._prompt_kv = [], {}
        dispose_all(stored)

    def release(self) -> None:
        """Free the stored prompt and both sessions (the model's and the one that cuts stored prompts)."""
        self.forget()
        if self._slicer is not None:
            self._slicer.release()
            self._slicer = None
        self.session.release()

    def _disposable(self, values: Sequence[Any]) -> list[Any]:
        return _except(values, self._prompt_kv.values())

    async def _start_for(self, prompt_ids: Sequence[int]) -> tuple[int, dict[str, Any]]:
        """(positions already computed, the KV state to go on from) for this prompt."""
        shared = min(shared_start(prompt_ids, self._prompt_ids), len(prompt_ids) - 1)  # >= 1 token to run
        if not self.reuse_prompt or shared < MIN_REUSE:
            return 0, self._empty_cache()
        if shared == len(self._prompt_ids):
            return shared, dict(self._prompt_kv)  # the whole stored prompt, as it is (kept, not disposed)
        if self._slicer is None:
            graph = kv_prefix_graph(self.past_names, self.cache_dtype.name)
            self._slicer = await self.runtime.session(graph, self.session.provider, keep_on_gpu=self.keep_on_gpu)
        prefixes = [f"{n}.prefix" for n in self.past_names]
        out = await self._slicer.run({**self._prompt_kv, "length": np.array([shared], np.int64)}, keep=prefixes,
                                     fetch=[])
        return shared, {n: out[p] for n, p in zip(self.past_names, prefixes, strict=True)}

    def _store(self, prompt_ids: Sequence[int], cache: Mapping[str, Any]) -> None:
        superseded = _except(self._prompt_kv.values(), cache.values())  # the new state may hold some of them
        self._prompt_ids, self._prompt_kv = list(prompt_ids), dict(cache)
        dispose_all(superseded)

    async def _step(self, ids: Sequence[int], start: int, cache: Mapping[str, Any]) -> tuple[np.ndarray, dict]:
        seq = len(ids)
        feeds: dict[str, Any] = {
            "input_ids": np.asarray([ids], np.int64),
            "attention_mask": np.ones((1, start + seq), np.int64),
            **cache,
        }
        if self.uses_position_ids:
            feeds["position_ids"] = np.arange(start, start + seq, dtype=np.int64)[None]
        out = await self.session.run(feeds, keep=self.present_names, fetch=["logits"])
        logits = np.asarray(out["logits"], np.float32)
        dispose_all(self._disposable([cache.get(name) for name in self.past_names]))  # superseded: freed
        new_cache = {p: out[q] for p, q in zip(self.past_names, self.present_names, strict=True)}
        return logits[0, -1], new_cache  # works for last-only [1, 1, V] and onnx-community [1, S, V] logits

    async def _read_prompt(self, ids: Sequence[int], start: int, cache: Mapping[str, Any], cancel: Cancel,
                           on_prompt: PromptProgress = None) -> tuple[np.ndarray | None, dict]:
        """`_step` over the prompt in chunks of `prefill_chunk` tokens; logits None when cancelled between them.
        on_prompt(read, total) after each chunk: prompt tokens read so far (a stored start counts as read)."""
        size = self.prefill_chunk or len(ids)
        logits, cache = None, dict(cache)
        for a in range(0, len(ids), size):
            if a:
                await asyncio.sleep(0)  # let a UI draw the progress and take a Stop (a macrotask in Pyodide)
                if _cancelled(cancel):
                    return None, cache
            logits, cache = await self._step(ids[a:a + size], start + a, cache)
            if on_prompt is not None:
                on_prompt(start + min(a + size, len(ids)), start + len(ids))
        return logits, cache

    async def generate(self, prompt_ids: Sequence[int], settings: GenerationSettings, stop_ids: Sequence[int],
                       cancel: Cancel = None, stats: GenerationStats | None = None,
                       on_prompt: PromptProgress = None, guard: NumberGuard | None = None) -> AsyncIterator[int]:
        """Yield new token ids until a stop token (not yielded), max_new_tokens, the context end, or cancel;
        `stats`, when given, is filled in as it goes; `guard`, when given, refuses numbers outside its set."""
        stats = GenerationStats() if stats is None else stats
        context = self.context_length(settings)
        if not prompt_ids:
            raise ValueError("the prompt is empty; give the model at least one token")
        if len(prompt_ids) >= context:
            which = t("its context length") if context == self.config.max_position_embeddings else t("the context set")
            raise ContextLengthError(t(
                "The prompt is {tokens} tokens, but this model reads at most {context} tokens ({which}) and needs room "
                "to answer. Shorten the input by at least {over} tokens, or split it into parts.", tokens=len(prompt_ids),
                context=context, which=which, over=len(prompt_ids) - context + 1))
        sampler = _make_sampler(settings)
        stops = set(stop_ids)
        history = list(prompt_ids)
        budget = min(settings.max_new_tokens, context - len(prompt_ids))
        stats.finish_reason, stats.prompt_tokens, stats.generated = "length", len(prompt_ids), 0
        start = time.perf_counter()
        position, cache = await self._start_for(prompt_ids)
        stats.reused_prompt_tokens = position
        pending: Sequence[int] = list(prompt_ids)[position:]
        try:
            for step in range(budget):
                if _cancelled(cancel):
                    stats.finish_reason = "cancelled"
                    return
                if step == 0:
                    logits, cache = await self._read_prompt(pending, position, cache, cancel, on_prompt)
                    if logits is None:
                        stats.finish_reason = "cancelled"
                        return
                else:
                    logits, cache = await self._step(pending, position, cache)
                position += len(pending)
                if step == 0 and self.reuse_prompt:
                    self._store(prompt_ids, cache)
                token = int(sampler.pick(logits, history, guard.restrict if guard is not None else None))
                if guard is not None:
                    guard.advance(token)
                now = time.perf_counter()
                if step == 0:
                    stats.time_to_first_token, stats.first_token_at = now - start, now
                if token in stops:
                    stats.finish_reason = "stop"
                    return
                history.append(token)
                stats.generated, stats.last_token_at = step + 1, now
                yield token
                pending = [token]
                await asyncio.sleep(0)  # let a UI (or a cancel) run between tokens
        finally:
            dispose_all(self._disposable(list(cache.values())))


# ---------------------------------------------------------------- the model users hold


def _stop_ids(config: LlamaConfig, generation_config: Mapping[str, Any], tokenizer_config: Mapping[str, Any],
              tokenizer: Any) -> list[int]:
    """End-of-turn ids: generation_config's eos (Llama 3 lists three), else config's, else the tokenizer's."""
    ids: list[int] = []
    eos = generation_config.get("eos_token_id", config.eos_token_id)
    ids += [eos] if isinstance(eos, int) else list(eos or [])
    token = tokenizer_config.get("eos_token")
    if isinstance(token, dict):
        token = token.get("content")
    if isinstance(token, str) and tokenizer is not None:
        found = tokenizer.token_to_id(token)
        if found is not None:
            ids.append(found)
    return sorted(set(ids))


class LanguageModel:
    """A tokenizer, a chat template and a decoder session: text in, text out."""

    def __init__(self, decoder: Decoder, tokenizer: Any, tokenizer_config: dict[str, Any],
                 generation_config: dict[str, Any]) -> None:
        self.decoder = decoder
        self.config = decoder.config
        self.tokenizer = tokenizer
        self.tokenizer_config = tokenizer_config
        self.generation_config = generation_config
        self.stop_token_ids = _stop_ids(self.config, generation_config, tokenizer_config, tokenizer)
        self.last: Completion | None = None

    # -- building
    @classmethod
    async def from_files(cls, config: dict[str, Any], tokenizer_json: dict[str, Any], tokenizer_config: dict[str, Any],
                         onnx_bytes: bytes, generation_config: dict[str, Any] | None = None,
                         provider: str | None = None, keep_on_gpu: bool = False,
                         runtime: Runtime | None = None, cache_dtype: str = "float32",
                         session_options: dict[str, Any] | None = None) -> LanguageModel:
        """From the parsed files and the model bytes: what a browser gets out of its Cache API.

        cache_dtype: "float16" for onnx-community's fp16 / q4f16 exports (see `cache_dtype_for`).
        session_options: for the runtime's session (in the browser e.g. a URL model's `externalData`)."""
        from hearth.llm.text.tokenizer import Tokenizer

        runtime = runtime or get_runtime()
        llama = LlamaConfig.from_hf(config)
        if session_options:
            session = await runtime.session(onnx_bytes, provider, keep_on_gpu=keep_on_gpu, options=session_options)
        else:
            session = await runtime.session(onnx_bytes, provider, keep_on_gpu=keep_on_gpu)
        decoder = Decoder(session, llama, runtime, cache_dtype, keep_on_gpu=keep_on_gpu)
        return cls(decoder, Tokenizer.from_dict(tokenizer_json), tokenizer_config, generation_config or {})

    # -- prompts
    def prompt_ids(self, prompt: Prompt, add_generation_prompt: bool = True) -> list[int]:
        """Token ids for a chat (list of messages, rendered with the model's template), a text, or ids."""
        if isinstance(prompt, str):
            return self.tokenizer.encode(prompt, add_special_tokens=True)
        items = list(prompt)
        if items and all(isinstance(t, int | np.integer) for t in items):
            return [int(t) for t in items]
        from hearth.llm.text.chat import render_chat

        text = render_chat(self.tokenizer_config, items, add_generation_prompt=add_generation_prompt)
        return self.tokenizer.encode(text, add_special_tokens=False)  # the template writes BOS itself

    # -- generating
    async def stream_ids(self, prompt: Prompt, settings: GenerationSettings | None = None,
                         cancel: Cancel = None, stats: GenerationStats | None = None,
                         on_prompt: PromptProgress = None) -> AsyncIterator[int]:
        settings = settings or GenerationSettings()
        ids = self.prompt_ids(prompt)
        stops = self.stop_token_ids if settings.stop_token_ids is None else list(settings.stop_token_ids)
        guard = None
        if settings.allowed_numbers is not None:
            guard = NumberGuard(DigitTokens.of(self.tokenizer), settings.allowed_numbers)
        async for token in self.decoder.generate(ids, settings, stops, cancel, stats, on_prompt, guard):
            yield token

    async def stream(self, prompt: Prompt, settings: GenerationSettings | None = None,
                     cancel: Cancel = None, on_prompt: PromptProgress = None) -> AsyncIterator[str]:
        """Text pieces as tokens arrive (a piece is held back until its UTF-8 is complete).

        on_prompt(read, total) reports the reading of a long prompt, before the first piece.
        When the stream ends, `self.last` holds the Completion (text, ids, timings)."""
        from hearth.llm.text.tokenizer import StreamDecoder

        stats = GenerationStats()
        text_stream = StreamDecoder(self.tokenizer, skip_special_tokens=True)
        ids: list[int] = []
        pieces: list[str] = []
        begin = time.perf_counter()
        try:
            async for token in self.stream_ids(prompt, settings, cancel, stats, on_prompt):
                ids.append(token)
                piece = text_stream.push(token)
                if piece:
                    pieces.append(piece)
                    yield piece
            tail = text_stream.flush()
            if tail:
                pieces.append(tail)
                yield tail
        finally:
            self.last = Completion("".join(pieces), ids, stats.prompt_tokens, stats.finish_reason,
                                   stats.time_to_first_token, stats.decode_seconds,
                                   {"total": time.perf_counter() - begin})

    async def complete(self, prompt: Prompt, settings: GenerationSettings | None = None,
                       cancel: Cancel = None) -> Completion:
        async for _ in self.stream(prompt, settings, cancel):
            pass
        assert self.last is not None
        return self.last

    def forget(self) -> None:
        """Drop the last completion and the stored state of the last prompt (e.g. a patient's visit)."""
        self.last = None
        self.decoder.forget()

    def release(self) -> None:
        self.decoder.release()
