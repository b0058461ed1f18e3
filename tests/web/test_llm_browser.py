"""The built-in SmolLM2 generating in Chromium (onnxruntime-web, wasm) through Hearth's Python loop:
greedy tokens equal the committed reference (transformers on the dequantized GGUF)."""

import json
from pathlib import Path

import pytest

from tests.conftest import python, wait_ready

pytestmark = pytest.mark.browser

REFERENCE = json.loads((Path(__file__).parents[2] / "models/reference/smollm2_greedy.json").read_text())


def test_builtin_model_greedy_tokens_match_reference(page, site):
    case = next(c for c in REFERENCE["cases"] if c["name"] == "capital")
    wait_ready(page, site.url)
    code = f"""
from hearth.llm.files.site_model import load_site_model
from hearth.llm.model.generate import GenerationSettings
model = await load_site_model("smollm2", provider="wasm")
done = await model.complete({case["messages"]!r}, GenerationSettings(max_new_tokens={case["max_new_tokens"]}))
{{"ids": list(done.token_ids), "text": done.text, "prompt_tokens": done.prompt_tokens,
  "tokens_per_second": done.tokens_per_second}}
"""
    result = python(page, code)
    assert result["prompt_tokens"] == len(case["prompt_ids"])
    assert result["ids"] == case["greedy_ids"][: len(result["ids"])]
    assert result["text"].strip().startswith("The capital of France is Paris.")
