"""Loading a language model from the browser's model store (downloaded or side-loaded).

The small files (config, tokenizer) are read through Python; the ONNX file (a gigabyte) goes from
storage to ONNX Runtime by its "store:" name and never passes through Python's memory. What the
store recorded about the model (`hearth-model.json`: which ONNX file, where it came from) says
which file to run; onnx-community's float16 exports get a float16 KV cache.
"""

from __future__ import annotations

import json
from typing import Any

from hearth.llm.files.model_dir import cache_dtype_for
from hearth.llm.model.generate import LanguageModel, ModelFilesError
from hearth.runtime.browser import StoreError, store_list, store_read


async def stored_entry(model_id: str) -> dict[str, Any]:
    """The store's listing of one model, or ModelFilesError saying what to do."""
    entry = next((m for m in await store_list() if m["id"] == model_id), None)
    if entry is None:
        raise ModelFilesError(f"The model {model_id!r} is not on this device (it may have been deleted). "
                              "Download or side-load it on the Models tab.")
    info = entry.get("info") or {}
    if not info.get("complete") or any(f["partial"] for f in entry["files"]):
        raise ModelFilesError(f"The model {model_id!r} is only partly on this device. Finish its download on the "
                              "Models tab (it resumes where it stopped), or delete it.")
    return entry


async def _read_json(model_id: str, path: str) -> dict[str, Any]:
    try:
        return json.loads(await store_read(model_id, path))
    except StoreError as error:
        raise ModelFilesError(str(error)) from None
    except ValueError as error:
        raise ModelFilesError(f"{path} of {model_id!r} is not valid JSON ({error}); delete the model and get it "
                              "again.") from None


async def load_store_model(model_id: str, provider: str | None = None) -> LanguageModel:
    """A stored model, ready to generate on `provider` ("wasm" or "webgpu")."""
    entry = await stored_entry(model_id)
    info = entry["info"]
    paths = {f["path"] for f in entry["files"]}
    onnx = info.get("onnx")
    if not onnx or onnx not in paths:
        raise ModelFilesError(f"{model_id!r} has no ONNX file {onnx!r} on this device; delete it and get it again.")
    tokenizer_config = await _read_json(model_id, "tokenizer_config.json")
    if "chat_template.jinja" in paths:  # transformers prefers the separate file; so does load_tokenizer_config
        tokenizer_config["chat_template"] = (await store_read(model_id, "chat_template.jinja")).decode()
    generation = await _read_json(model_id, "generation_config.json") if "generation_config.json" in paths else None
    return await LanguageModel.from_files(
        await _read_json(model_id, "config.json"), await _read_json(model_id, "tokenizer.json"), tokenizer_config,
        f"store:{model_id}/{onnx}", generation_config=generation, provider=provider,
        keep_on_gpu=provider == "webgpu", cache_dtype=cache_dtype_for(onnx))
