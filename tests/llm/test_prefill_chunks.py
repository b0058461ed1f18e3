"""Reading a prompt in chunks: the same tokens and (up to float rounding) the same logits as one call,
whatever the prompt's length against the chunk size, and a cancel is seen between chunks."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.decoder import build_decoder
from hearth.llm.model.generate import Decoder, GenerationSettings, GenerationStats
from hearth.runtime import get_runtime
from tests.llm.model_fixtures import random_quantized_weights, small_quantized_hf_config

HF = small_quantized_hf_config(500)
CONFIG = LlamaConfig.from_hf(HF)
MODEL = build_decoder(random_quantized_weights(HF, 3), weights_mode="unpacked")


class CountingSession:
    """The model's session, counting calls and the tokens each one read."""

    def __init__(self, session) -> None:
        self.inner, self.reads = session, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def run(self, feeds, **kwargs):
        self.reads.append(int(np.asarray(feeds["input_ids"]).shape[1]))
        return await self.inner.run(feeds, **kwargs)


async def decoder(chunk: int | None) -> Decoder:
    rt = get_runtime()
    return Decoder(CountingSession(await rt.session(MODEL, "cpu")), CONFIG, rt, reuse_prompt=False, prefill_chunk=chunk)


async def greedy(d: Decoder, prompt: list[int], n: int = 12, cancel=None) -> tuple[list[int], GenerationStats]:
    stats = GenerationStats()
    settings = GenerationSettings(max_new_tokens=n)
    return [t async for t in d.generate(prompt, settings, stop_ids=[], cancel=cancel, stats=stats)], stats


@pytest.mark.parametrize("length", [1, 15, 16, 17, 47, 48, 100])
def test_chunked_prompt_writes_what_one_call_writes(length):
    prompt = [int(x) for x in np.random.default_rng(length).integers(3, 500, length)]

    async def go() -> None:
        whole, chunked = await decoder(None), await decoder(16)
        want, _ = await greedy(whole, prompt)
        got, _ = await greedy(chunked, prompt)
        assert got == want
        reads = chunked.session.reads
        assert reads[:-11] == [16] * (length // 16) + ([length % 16] if length % 16 else [])  # then 11 decode steps
        assert whole.session.reads[0] == length

    asyncio.run(go())


def test_chunked_prefill_logits_equal_one_call_within_float_rounding():
    prompt = [int(x) for x in np.random.default_rng(9).integers(3, 500, 90)]

    async def last_logits(chunk: int | None) -> np.ndarray:
        d = await decoder(chunk)
        logits, cache = await d._read_prompt(prompt, 0, d._empty_cache(), None)
        return logits

    whole, chunked = asyncio.run(last_logits(None)), asyncio.run(last_logits(32))
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=2e-5)
    assert np.argmax(chunked) == np.argmax(whole)


def test_a_stored_prompt_then_a_chunked_rest_writes_what_a_fresh_read_writes():
    rng = np.random.default_rng(4)
    first = [int(x) for x in rng.integers(3, 500, 40)]
    longer = first + [int(x) for x in rng.integers(3, 500, 50)]  # 50 new tokens: four chunks of 16 after the 40

    async def go() -> None:
        rt = get_runtime()
        cached = Decoder(CountingSession(await rt.session(MODEL, "cpu")), CONFIG, rt, prefill_chunk=16)
        await greedy(cached, first, 2)
        cached.session.reads.clear()
        got, stats = await greedy(cached, longer)
        want, _ = await greedy(await decoder(None), longer)
        assert got == want and stats.reused_prompt_tokens == 40
        assert cached.session.reads[:4] == [16, 16, 16, 2]

    asyncio.run(go())


def test_cancel_is_seen_between_chunks_of_a_long_prompt():
    prompt = [int(x) for x in np.random.default_rng(5).integers(3, 500, 100)]
    checks = []

    def cancel_after_two_chunks() -> bool:
        checks.append(1)
        return len(checks) > 2  # before the prompt, after chunk 1: go on; after chunk 2: stop

    async def go() -> None:
        d = await decoder(16)
        got, stats = await greedy(d, prompt, cancel=cancel_after_two_chunks)
        assert got == [] and stats.finish_reason == "cancelled"
        assert d.session.reads == [16, 16]  # the other five chunks were never read
        again, _ = await greedy(d, prompt)  # and the decoder still works afterwards
        want, _ = await greedy(await decoder(None), prompt)
        assert again == want

    asyncio.run(go())


def test_prompt_progress_counts_tokens_read_after_each_chunk_and_a_stored_start_as_read():
    rng = np.random.default_rng(6)
    first = [int(x) for x in rng.integers(3, 500, 40)]
    longer = first + [int(x) for x in rng.integers(3, 500, 50)]

    async def go() -> tuple[list, list]:
        rt = get_runtime()
        d = Decoder(await rt.session(MODEL, "cpu"), CONFIG, rt, prefill_chunk=16)
        fresh, stored = [], []
        settings = GenerationSettings(max_new_tokens=2)
        async for _ in d.generate(first, settings, [], on_prompt=lambda r, t: fresh.append((r, t))):
            pass
        async for _ in d.generate(longer, settings, [], on_prompt=lambda r, t: stored.append((r, t))):
            pass
        return fresh, stored

    fresh, stored = asyncio.run(go())
    assert fresh == [(16, 40), (32, 40), (40, 40)]
    assert stored == [(56, 90), (72, 90), (88, 90), (90, 90)]  # the 40 stored tokens count as read
