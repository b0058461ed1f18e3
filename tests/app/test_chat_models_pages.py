"""The Chat and Models pages' logic on CPython with the real built-in SmolLM2 (onnxruntime)."""

import asyncio
import json
from pathlib import Path

import pytest

from hearth.app.language_models import ModelBusyError
from hearth.app.models_page import progress_text
from hearth.app.shell import build_app
from hearth.app.tasks import settle
from hearth.llm.files import catalog
from hearth.llm.files.model_folder import FolderError, read_picked, store_id

REFERENCE = json.loads((Path(__file__).parents[2] / "models/reference/smollm2_greedy.json").read_text())
CASES = {c["name"]: c for c in REFERENCE["cases"]}


def run(coro):
    async def go():
        result = await coro
        await settle()
        return result

    return asyncio.run(go())


@pytest.fixture(scope="module")
def app():
    return run(build_app())


def ask(chat, text: str, temperature: float = 0.0, max_tokens: int = 32) -> None:
    chat.temperature.value, chat.max_tokens.value = temperature, max_tokens
    chat.prompt.value = text
    run(chat.send())


def test_greedy_answer_matches_the_reference_and_reports_speed(app):
    chat = app.chat
    chat.clear()
    case = CASES["capital"]
    ask(chat, case["messages"][0]["content"], max_tokens=case["max_new_tokens"])
    assert chat.last.token_ids == case["greedy_ids"][: len(chat.last.token_ids)]
    assert chat.history[-1] == {"role": "assistant", "content": "The capital of France is Paris."}
    assert "The capital of France is Paris." in chat.transcript.object
    stats = chat.stats.object
    assert "tokens/s" in stats and "first token after" in stats and "CPU (onnxruntime)" in stats
    assert chat.last.tokens_per_second > 0 and chat.last.time_to_first_token > 0
    assert chat.prompt.value == "" and not chat.generating


def test_follow_up_keeps_the_conversation_and_clear_starts_over(app):
    chat = app.chat
    chat.clear()
    ask(chat, "What is the capital of France?", max_tokens=16)
    ask(chat, "And of Italy?", max_tokens=16)
    assert [m["role"] for m in chat.history] == ["user", "assistant", "user", "assistant"]
    assert "Rome" in chat.history[-1]["content"]
    chat.clear()
    assert chat.history == [] and "No messages yet." in chat.transcript.object


def test_stop_ends_the_answer_between_tokens(app):
    chat = app.chat
    chat.clear()
    chat.temperature.value, chat.max_tokens.value = 0.0, 200
    chat.prompt.value = CASES["health_tips"]["messages"][0]["content"]

    async def stop_soon():
        task = asyncio.ensure_future(chat.send())
        while len(chat.answer) < 10:
            await asyncio.sleep(0.01)
        chat.stop()
        await task

    run(stop_soon())
    assert chat.last.finish_reason == "cancelled" and 0 < len(chat.last.token_ids) < 200
    assert chat.last.token_ids == CASES["health_tips"]["greedy_ids"][: len(chat.last.token_ids)]
    assert "(stopped)" in chat.transcript.object and "stopped" in chat.stats.object


def test_bad_input_is_explained_and_nothing_typed_is_lost(app):
    chat = app.chat
    chat.clear()
    chat.prompt.value = "   "
    run(chat.send())
    assert "Type a message first." in chat.message.object and chat.history == []
    chat.prompt.value = "Hello"
    chat.temperature.value = 5.0
    run(chat.send())
    assert "Temperature must be between 0 and 2" in chat.message.object
    assert chat.prompt.value == "Hello" and chat.history == []
    chat.temperature.value = 0.0
    app.models.busy = "Notes"
    try:
        run(chat.send())
    finally:
        app.models.busy = ""
    assert "the Notes page is using the model" in chat.message.object
    assert chat.prompt.value == "Hello" and chat.history == []


def test_language_models_lend_the_model_to_one_page_at_a_time(app):
    async def both():
        async with app.models.use("Notes"):
            with pytest.raises(ModelBusyError, match="Notes"):
                async with app.models.use("Chat"):
                    pass

    run(both())
    assert app.models.busy == ""


def test_models_page_lists_the_builtin_and_the_catalog_honestly(app):
    page = app.models_page
    run(page.refresh())
    assert "SmolLM2-135M-Instruct (built in)" in page.listing.object and "98.9 MB" in page.listing.object
    assert list(page.entry.options.values()) == ["llama-3.2-1b-instruct-q4", "llama-3.2-1b-instruct-q4f16"]
    page.entry.value = "llama-3.2-1b-instruct-q4f16"
    info = page.entry_info.object
    assert "about 1.00 GB" in info and "WebGPU" in info
    assert "https://huggingface.co/onnx-community/Llama-3.2-1B-Instruct/resolve/main" in info
    assert "not pinned yet" in info  # no pins could be verified here; the page says so
    assert not page.delete_choice.options  # the built-in model cannot be deleted


def test_catalog_entries_point_at_onnx_community_files():
    q4 = catalog.find("llama-3.2-1b-instruct-q4")
    assert [f["path"] for f in q4.manifest()] == ["config.json", "generation_config.json", "tokenizer.json",
                                                  "tokenizer_config.json", "onnx/model_q4.onnx"]
    assert q4.info()["onnx"] == "onnx/model_q4.onnx" and q4.info()["complete"]
    assert "/" not in q4.id  # the store keeps one folder per model


def test_progress_text_says_bytes_speed_and_time_left():
    text = progress_text({"done": 312_400_000, "total": 1_100_000_000, "bytesPerSecond": 11_200_000,
                          "secondsLeft": 70})
    assert text == "312.4 MB of 1.10 GB (28%) · 11.2 MB/s · 1 min 10 s left"
    assert progress_text({"done": 0, "total": 5_000_000}) == "0.0 MB of 5.0 MB (0%)"


CLONE = {  # a `git clone` of an onnx-community repository: many exports, .git, a README
    "Llama-3.2-1B-Instruct/.git/config": 200, "Llama-3.2-1B-Instruct/README.md": 9000,
    "Llama-3.2-1B-Instruct/config.json": 900, "Llama-3.2-1B-Instruct/generation_config.json": 180,
    "Llama-3.2-1B-Instruct/tokenizer.json": 9_000_000, "Llama-3.2-1B-Instruct/tokenizer_config.json": 54_000,
    "Llama-3.2-1B-Instruct/onnx/model.onnx": 300_000, "Llama-3.2-1B-Instruct/onnx/model.onnx_data": 4_900_000_000,
    "Llama-3.2-1B-Instruct/onnx/model_q4.onnx": 1_100_000_000,
    "Llama-3.2-1B-Instruct/onnx/model_q4f16.onnx": 1_000_000_000,
}


def test_picked_clone_keeps_only_what_one_export_needs():
    picked = read_picked(list(CLONE), list(CLONE.values()))
    assert picked.name == "Llama-3.2-1B-Instruct"
    assert picked.onnx == {"onnx/model.onnx": 4_900_300_000, "onnx/model_q4.onnx": 1_100_000_000,
                           "onnx/model_q4f16.onnx": 1_000_000_000}
    assert picked.default_onnx(["wasm"]) == "onnx/model_q4.onnx"
    assert picked.default_onnx(["wasm", "webgpu"]) == "onnx/model_q4f16.onnx"
    assert picked.wanted("onnx/model.onnx") == {
        "config.json": "Llama-3.2-1B-Instruct/config.json", "tokenizer.json": "Llama-3.2-1B-Instruct/tokenizer.json",
        "tokenizer_config.json": "Llama-3.2-1B-Instruct/tokenizer_config.json",
        "generation_config.json": "Llama-3.2-1B-Instruct/generation_config.json",
        "onnx/model.onnx": "Llama-3.2-1B-Instruct/onnx/model.onnx",
        "onnx/model.onnx_data": "Llama-3.2-1B-Instruct/onnx/model.onnx_data"}
    assert picked.size("onnx/model_q4.onnx") == 900 + 180 + 9_000_000 + 54_000 + 1_100_000_000


def test_picked_single_files_land_where_a_download_puts_them():
    picked = read_picked(["config.json", "tokenizer.json", "tokenizer_config.json", "model_q4.onnx"], [1, 2, 3, 4])
    assert picked.wanted("onnx/model_q4.onnx")["onnx/model_q4.onnx"] == "model_q4.onnx"


@pytest.mark.parametrize(("paths", "says"), [
    ([], "No files were picked"),
    (["photos/cat.jpg"], "no config.json"),
    (["m/config.json", "m/onnx/model.onnx"], "no tokenizer.json, tokenizer_config.json"),
    (["m/config.json", "m/tokenizer.json", "m/tokenizer_config.json", "m/model.safetensors"], "no ONNX model"),
])
def test_pick_that_is_not_a_model_says_what_is_missing(paths, says):
    with pytest.raises(FolderError, match=says):
        read_picked(paths, [1] * len(paths))


def test_store_ids_are_folder_names_and_unique():
    assert store_id("Llama 3.2/1B Instruct", []) == "llama-3.2-1b-instruct"
    assert store_id("SmolLM2", ["smollm2"]) == "smollm2-2"
