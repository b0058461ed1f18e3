"""The decoder's stored prompt: a prompt that starts like the last one reads only what differs, and
writes exactly what reading it whole writes."""

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


def tiny_model(mode: str) -> tuple[bytes, LlamaConfig]:
    return build_decoder(random_quantized_weights(HF, 7), weights_mode=mode), LlamaConfig.from_hf(HF)


async def tokens(decoder: Decoder, prompt: list[int], n: int = 16) -> tuple[list[int], GenerationStats]:
    stats = GenerationStats()
    out = [t async for t in decoder.generate(prompt, GenerationSettings(max_new_tokens=n), stop_ids=[], stats=stats)]
    return out, stats


@pytest.mark.parametrize("mode", ["unpacked", "nbits"])
def test_prompts_sharing_a_start_reuse_it_and_write_the_same_tokens(mode):
    model, config = tiny_model(mode)
    rng = np.random.default_rng(0)
    a = [1, *map(int, rng.integers(3, 500, 59))]
    b = a[:40] + [int(x) for x in rng.integers(3, 500, 20)]  # shares 40 tokens, then differs
    c = a + [int(x) for x in rng.integers(3, 500, 10)]  # goes on from the whole of a
    short = a[:5] + [7, 8, 9]  # shares too little to be worth it

    async def go() -> None:
        rt = get_runtime()
        cached = Decoder(await rt.session(model, "cpu"), config, rt)
        fresh = Decoder(await rt.session(model, "cpu"), config, rt, reuse_prompt=False)
        for prompt, reused in [(a, 0), (b, 40), (a, 40), (a, 59), (c, 60), (short, 0)]:
            got, stats = await tokens(cached, prompt)
            want, fresh_stats = await tokens(fresh, prompt)
            assert got == want, (len(prompt), reused)
            assert stats.reused_prompt_tokens == reused and fresh_stats.reused_prompt_tokens == 0
            assert cached.stored_prompt_tokens == len(prompt) and fresh.stored_prompt_tokens == 0
        cached.forget()
        assert cached.stored_prompt_tokens == 0
        _, stats = await tokens(cached, a)
        assert stats.reused_prompt_tokens == 0

    asyncio.run(go())


def test_a_stopped_generation_keeps_the_stored_prompt_usable():
    model, config = tiny_model("unpacked")
    prompt = list(range(3, 60))

    async def go() -> None:
        rt = get_runtime()
        decoder = Decoder(await rt.session(model, "cpu"), config, rt)
        whole, _ = await tokens(decoder, prompt, 12)
        stop = asyncio.Event()
        got = []
        async for t in decoder.generate(prompt + [5], GenerationSettings(max_new_tokens=12), stop_ids=[], cancel=stop):
            got.append(t)
            stop.set()
        assert len(got) == 1
        again, stats = await tokens(decoder, prompt, 12)
        assert again == whole and stats.reused_prompt_tokens == len(prompt) - 1

    asyncio.run(go())
