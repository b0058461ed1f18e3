"""The number guard: a generation writes only numbers from a given set, on real tokenizers.

SmolLM2's tokenizer writes digits one at a time, Llama 3's up to three a token ("120"), so both
paths of the guard run. The scripted runs rank the tokens of a wanted text first at every step (what
a model that "wants" to write it does) and run the real sampler and guard over those logits; the
last test asks the real SmolLM2 for a prescription.
"""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest

from hearth.llm.model.generate import GenerationSettings
from hearth.llm.model.grounding import MARKER_DIGITS, DigitTokens, NumberGuard
from hearth.llm.model.sampling import Sampler
from hearth.notes.facts import stated_numbers

TRANSCRIPT = ("[doctor] so you're fifty-six ? [patient] yes . [doctor] you take lisinopril twenty milligrams . "
              "your blood pressure today is one twenty over eighty , and take two point five of the other one .")
WANTED = "The patient is 56 years old, takes lisinopril 20 mg daily; BP 120/80. Other: 2.5 mg."


def numbers_in(text: str) -> list[str]:
    """The numbers a reader sees, except list numbers opening a line ("1. ...")."""
    out = []
    for line in text.splitlines():
        for m in re.finditer(r"\d+(?:\.\d+)?", line):
            if m.start() == len(line) - len(line.lstrip()) and len(m.group()) <= MARKER_DIGITS:
                continue
            out.append(m.group())
    return out


def scripted(tokenizer, wanted: str, allowed: frozenset[str] | None, temperature: float = 0.0,
             seed: int = 0) -> str:
    """Generate len(tokens) steps from logits that put `wanted`'s next token first, then noise."""
    ids = tokenizer.encode(wanted, add_special_tokens=False)
    rng = np.random.default_rng(seed)
    sampler = Sampler(temperature=temperature, seed=seed)
    guard = NumberGuard(DigitTokens.of(tokenizer), allowed) if allowed is not None else None
    out: list[int] = []
    for step in range(len(ids) + 4):
        logits = rng.normal(0, 1, tokenizer.vocab_size).astype(np.float32)
        k = min(step, len(ids) - 1)  # follow the wanted text by position; past its end, keep to its last token
        logits[ids[k]] = 30.0 if temperature == 0 else 12.0
        token = sampler.pick(logits, out, guard.restrict if guard else None)
        if guard:
            guard.advance(token)
        out.append(token)
        if step + 1 >= len(ids):
            break
    return tokenizer.decode(out)


@pytest.fixture(params=["smollm2", "llama3.2"])
def tokenizer(request, loaded):
    return loaded(request.param)[0]


def test_numbers_the_transcript_states_pass_untouched(tokenizer):
    allowed = stated_numbers(TRANSCRIPT)
    assert {"56", "20", "120", "80", "2.5"} <= allowed
    assert scripted(tokenizer, WANTED, allowed) == WANTED
    assert scripted(tokenizer, WANTED, None) == WANTED


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_a_number_nobody_said_is_never_written(tokenizer, temperature):
    said = TRANSCRIPT.replace("fifty-six", "fifty").replace("twenty milligrams", "ten milligrams")
    allowed = stated_numbers(said.replace("one twenty", "one thirty"))
    assert not {"56", "20", "120"} & allowed
    for seed in range(3):
        text = scripted(tokenizer, WANTED, allowed, temperature, seed)
        assert "56" not in text and "20" not in text, text
        assert set(numbers_in(text)) <= allowed, text


def test_list_numbers_and_sentence_ends_are_not_facts(tokenizer):
    wanted = "1. Hypertension, dose 20.\n2. Diabetes.\n10. Follow up."
    assert scripted(tokenizer, wanted, frozenset({"20"})) == wanted
    assert "20" not in numbers_in(scripted(tokenizer, wanted, frozenset()))


def test_a_decimal_must_be_stated_whole(tokenizer):
    assert scripted(tokenizer, "Take 2.5 mg.", frozenset({"2.5"})) == "Take 2.5 mg."
    text = scripted(tokenizer, "Take 2.5 mg.", frozenset({"2"}))
    assert "2.5" not in text and set(numbers_in(text)) <= {"2"}, text


def test_digit_tokens_are_found_once_per_tokenizer(tokenizer):
    digits = DigitTokens.of(tokenizer)
    assert DigitTokens.of(tokenizer) is digits
    assert all(re.search(r"\d", text) for text in digits.texts)
    assert {str(d) for d in range(10)} <= set(digits.texts)


def test_the_real_model_doses_only_from_the_visit():
    """SmolLM2 left alone invents a dose and a weight for this request; guarded, it states only
    numbers it was given."""
    from hearth.llm.files.builtin_models import ensure_smollm2
    from hearth.llm.files.model_dir import load_model_dir

    model = asyncio.run(load_model_dir(ensure_smollm2()))
    prompt = [{"role": "user", "content": "Write a prescription for amoxicillin 250 mg three times a day for a "
                                          "7 year old child, with the dose in mg and the weight in kg."}]
    free = asyncio.run(model.complete(prompt, GenerationSettings(max_new_tokens=64)))
    allowed = stated_numbers(prompt[0]["content"])
    guarded = asyncio.run(model.complete(prompt, GenerationSettings(max_new_tokens=64, allowed_numbers=allowed)))
    assert not set(numbers_in(free.text)) <= allowed, free.text  # the reason for the guard
    stated = numbers_in(guarded.text)
    if guarded.finish_reason == "length" and guarded.text[-1:].isdigit():
        stated = stated[:-1]  # cut off by max_new_tokens while writing an allowed number's first digits
    assert stated and set(stated) <= allowed, guarded.text
