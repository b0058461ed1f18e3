"""Loading a language model that the site ships (the built-in SmolLM2) in the browser.

The small files (config, tokenizer) come through Python; the ONNX file goes from the site (or the
service worker's cache) straight to ONNX Runtime by URL, never through Python's memory.
"""

from __future__ import annotations

import json

from hearth.llm.model.generate import LanguageModel
from hearth.runtime import site_file

BUILTIN_DIR = {"smollm2": "models/smollm2-135m-instruct/", "note": "models/smollm2-135m-notes/"}


async def load_site_model(name: str = "smollm2", provider: str | None = None, keep_on_gpu: bool = False
                          ) -> LanguageModel:
    """A built-in model by name, from the site's files (`keep_on_gpu`: the KV cache stays on WebGPU)."""
    if name not in BUILTIN_DIR:
        raise ValueError(f"no built-in model {name!r}; built-in: {', '.join(BUILTIN_DIR)}")
    base = BUILTIN_DIR[name]

    async def read_json(path: str) -> dict:
        return json.loads(await site_file(base + path))

    manifest = await read_json("manifest.json")
    generation = await read_json("generation_config.json") if "generation_config.json" in manifest["files"] else None
    onnx = manifest["default_onnx"]
    options = None
    if f"{onnx}_data" in manifest["files"]:  # weights beside the graph: onnxruntime-web fetches them by URL
        data_name = onnx.rsplit("/", 1)[-1] + "_data"
        options = {"externalData": [{"path": data_name, "data": data_name}]}
    return await LanguageModel.from_files(
        await read_json("config.json"), await read_json("tokenizer.json"), await read_json("tokenizer_config.json"),
        base + onnx, generation_config=generation, provider=provider, keep_on_gpu=keep_on_gpu, session_options=options,
    )
