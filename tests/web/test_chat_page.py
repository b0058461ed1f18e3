"""The Chat tab in Chromium with the built-in SmolLM2: a streamed answer equal to the greedy reference
(transformers on the same weights), Stop mid-answer, and the same greedy tokens on WebGPU as on wasm."""

import csv
import json
import re
from pathlib import Path

import pytest

from tests.conftest import wait_ready
from tests.web.ui_steps import WAIT_MS, open_tab, python, see, set_number, shot, wait_python

pytestmark = pytest.mark.browser

REFERENCE = json.loads((Path(__file__).parents[2] / "models/reference/smollm2_greedy.json").read_text())
CAPITAL = next(c for c in REFERENCE["cases"] if c["name"] == "capital")
TIPS = next(c for c in REFERENCE["cases"] if c["name"] == "health_tips")
MEASURED = Path(__file__).parents[2] / "test-results" / "chat_speed.json"


def settings(page, temperature: float, max_tokens: int) -> None:
    set_number(page, "Temperature (0: always the likeliest word)", temperature)
    set_number(page, "Longest answer (tokens)", max_tokens)
    wait_python(page, f"from hearth.app.shell import APP\nAPP.chat.max_tokens.value == {max_tokens} and "
                      f"APP.chat.temperature.value == {temperature}", "the settings to arrive")


def send(page, text: str) -> None:
    box = page.get_by_label("Your message")
    box.fill(text)
    box.press("Tab")  # the box's value reaches Python on blur
    page.get_by_role("button", name="Send").click()


def answered(page) -> dict:
    """Wait until the answer is finished; the app's own record of it."""
    wait_python(page, "from hearth.app.shell import APP\nAPP.chat.last is not None and not APP.chat.generating",
                "the answer to finish")
    return python(page, "from hearth.app.shell import APP\nd = APP.chat.last\n"
                        "{'ids': list(d.token_ids), 'text': d.text, 'reason': d.finish_reason, "
                        "'tps': d.tokens_per_second, 'ttft': d.time_to_first_token, 'runs_on': APP.chat.runs_on}")


def record(name: str, result: dict) -> None:
    MEASURED.parent.mkdir(parents=True, exist_ok=True)
    seen = json.loads(MEASURED.read_text()) if MEASURED.exists() else {}
    seen[name] = {k: result[k] for k in ("tps", "ttft", "runs_on")} | {"tokens": len(result["ids"])}
    MEASURED.write_text(json.dumps(seen, indent=1))


def test_chat_streams_the_reference_answer_and_stop_works(page, site):
    wait_ready(page, site.url)
    open_tab(page, "Chat")
    see(page, "SmolLM2-135M-Instruct (built in): 98.9 MB")
    settings(page, 0, CAPITAL["max_new_tokens"])
    shot(page, "chat-1-empty")
    send(page, CAPITAL["messages"][0]["content"])
    # The answer streams: the app shows part of it while it is still generating.
    wait_python(page, "from hearth.app.shell import APP\nAPP.chat.generating and len(APP.chat.answer) > 0",
                "the first words of the answer")
    result = answered(page)
    assert result["ids"] == CAPITAL["greedy_ids"][: len(result["ids"])]
    assert result["reason"] == "stop" and result["text"].strip() == "The capital of France is Paris."
    assert re.fullmatch(r"WebAssembly, \d+ threads?", result["runs_on"])
    see(page, "The capital of France is Paris.")
    stats = see(page, "tokens/s").inner_text()
    assert "first token after" in stats and result["runs_on"] in stats
    shot(page, "chat-2-answer")
    record("wasm", result)

    page.get_by_role("button", name="Clear chat").click()  # a new conversation, as in the reference
    see(page, "No messages yet.")
    settings(page, 0, 400)
    send(page, TIPS["messages"][0]["content"])
    wait_python(page, "from hearth.app.shell import APP\nlen(APP.chat.answer) > 20", "part of a long answer")
    page.get_by_role("button", name="Stop").click()
    stopped = answered(page)
    assert stopped["reason"] == "cancelled" and 0 < len(stopped["ids"]) < 400
    assert stopped["ids"] == TIPS["greedy_ids"][: len(stopped["ids"])]  # the stopped part is what it was writing
    see(page, "(stopped)")
    assert "stopped" in see(page, "tokens/s").inner_text()
    shot(page, "chat-3-stopped")
    assert python(page, "from hearth.app.shell import APP\nAPP.models.busy") == ""  # the model is free again


def test_stop_while_the_model_is_still_reading_a_long_message(page, site):
    """Two visit transcripts, ~2,000 tokens, is read in chunks; Stop between two of them ends it at once."""
    with (Path(__file__).parents[2] / "tests/fixtures/notes/aci_bench_two_visits.csv").open(newline="") as f:
        dialogue = "\n\n".join(row["dialogue"] for row in csv.DictReader(f))  # two visits
    wait_ready(page, site.url)
    open_tab(page, "Chat")
    settings(page, 0, 50)
    send(page, "Summarize this visit:\n" + dialogue)
    wait_python(page, "from hearth.app.shell import APP\nAPP.chat.prompt_read[0] > 0", "the first chunk to be read")
    see(page, "Reading your message…")
    page.get_by_role("button", name="Stop").click()
    stopped = answered(page)
    read, total = python(page, "from hearth.app.shell import APP\nlist(APP.chat.prompt_read)")
    assert stopped["reason"] == "cancelled" and stopped["ids"] == []
    assert total > 1500 and 0 < read < total  # stopped part-way: the rest of the message was never read
    see(page, f"Stopped while reading your message ({read:,} of {total:,} tokens read)")
    shot(page, "chat-stopped-while-reading")
    assert python(page, "from hearth.app.shell import APP\nAPP.models.busy") == ""


def test_empty_message_is_refused_and_typed_text_survives_an_error(page, site):
    wait_ready(page, site.url)
    open_tab(page, "Chat")
    page.get_by_role("button", name="Send").click()
    see(page, "Type a message first.")
    settings(page, 0, 8)
    python(page, "from hearth.app.shell import APP\nAPP.models.busy = 'Notes'")  # the Notes page is generating
    send(page, "Hello there")
    see(page, "the Notes page is using the model; stop it there first")
    assert page.get_by_label("Your message").input_value() == "Hello there"
    shot(page, "chat-busy-refused")


@pytest.fixture(scope="module")
def float32_model(dist, tmp_path_factory) -> Path:
    """A small float32 Llama (random weights, 2 layers, SmolLM2's vocabulary and tokenizer) in the onnx-community
    layout, made with Hearth's own converter. Float32 because Chromium's SwiftShader WebGPU adapter has no
    shader-f16, which the built-in model's float16 scales need."""
    import shutil

    from hearth.llm.cli import register
    from tests.llm.model_fixtures import tiny_hf_config, torch_llama

    checkpoint = tmp_path_factory.mktemp("checkpoint")
    torch_llama(tiny_hf_config(vocab_size=49152, max_position_embeddings=2048, bos_token_id=1, eos_token_id=2),
                seed=3).save_pretrained(checkpoint)
    builtin = dist / "models" / "smollm2-135m-instruct"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(builtin / name, checkpoint / name)
    out = tmp_path_factory.mktemp("tiny-float32")
    parser = __import__("argparse").ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["convert-model", str(checkpoint), str(out), "--quant", "fp32"])
    assert args.run(args) == 0
    for name in ("tokenizer.json",):  # the converter writes the config files; the tokenizer comes along
        shutil.copy(builtin / name, out / name)
    return out


def cpython_greedy(model_dir: Path, messages: list, n: int) -> list[int]:
    import asyncio

    from hearth.llm.files.model_dir import load_model_dir
    from hearth.llm.model.generate import GenerationSettings

    async def go():
        model = await load_model_dir(model_dir)
        return (await model.complete(messages, GenerationSettings(max_new_tokens=n))).token_ids

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        return pool.submit(asyncio.run, go()).result()


def test_webgpu_gives_the_same_greedy_tokens_as_wasm(page, site, float32_model):
    """WebGPU here is Chromium's SwiftShader adapter (software): slow, but the same numbers. The model is
    side-loaded through the Models tab, so this is also the path of a user's own model."""
    prompt = [{"role": "user", "content": "Hi"}]
    expected = cpython_greedy(float32_model, prompt, 4)
    wait_ready(page, site.url)
    page.locator("html[data-backends*='webgpu']").wait_for(state="attached", timeout=WAIT_MS)
    open_tab(page, "Chat")
    # The built-in model's float16 parts cannot run on this adapter: said up front, not answered with nonsense.
    page.get_by_label("Runs on").select_option(label="WebGPU (graphics card)")
    send(page, "Hi")
    see(page, "lacks the shader-f16 feature")
    shot(page, "chat-webgpu-float16-refused")

    open_tab(page, "Models")
    page.locator("input[data-hearth-pick='folder']").set_input_files(float32_model)
    see(page, "Found a model folder with 1 ONNX file")
    page.get_by_label("Name", exact=True).fill("Tiny float32")
    page.get_by_label("Name", exact=True).press("Tab")
    page.get_by_role("button", name="Add to my models").click()
    see(page, "Tiny float32 is on this device")

    open_tab(page, "Chat")
    page.get_by_role("button", name="Clear chat").click()
    page.get_by_label("Model", exact=True).select_option(label="Tiny float32 (side-loaded)")
    page.get_by_label("Runs on").select_option(label="WebAssembly (CPU)")
    settings(page, 0, 4)
    send(page, "Hi")
    wasm = answered(page)
    assert wasm["ids"] == expected
    page.get_by_role("button", name="Clear chat").click()
    page.get_by_label("Runs on").select_option(label="WebGPU (graphics card)")
    wait_python(page, "from hearth.app.shell import APP\nAPP.chat.backend.value == 'webgpu'", "WebGPU chosen")
    python(page, "from hearth.app.shell import APP\nAPP.chat.last = None")
    send(page, "Hi")
    gpu = answered(page)
    assert gpu["runs_on"] == "WebGPU"
    assert gpu["ids"] == wasm["ids"] == expected
    record("webgpu_tiny_float32", gpu)
    record("wasm_tiny_float32", wasm)
    assert "tokens/s" in see(page, "· WebGPU").inner_text()
    shot(page, "chat-webgpu")
