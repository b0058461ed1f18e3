"""Reading a model directory in the onnx-community layout from disk, and which ONNX file in it to run.

    config.json, generation_config.json, tokenizer.json, tokenizer_config.json, onnx/model*.onnx

CPython reads it here; the browser reads the same layout from the site (`site_model`) or the model
store (`store_model`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hearth.llm.model.generate import LanguageModel, ModelFilesError

ONNX_PREFERENCE = ("model_q4_unpacked.onnx", "model_q4.onnx", "model.onnx", "model_q4_unpacked_gqa.onnx",
                   "model_q4_gqa.onnx", "model_quantized.onnx", "model_q4f16.onnx", "model_fp16.onnx")


def cache_dtype_for(onnx_file: str) -> str:
    """The KV cache's type from onnx-community's file naming: model_fp16 / model_q4f16 use float16."""
    return "float16" if Path(onnx_file).stem.endswith(("fp16", "f16")) else "float32"


def read_model_dir(model_dir: Path, onnx_file: str | None = None) -> dict[str, Any]:
    """The files `LanguageModel.from_files` takes, read from disk (CPython; the browser reads its cache)."""
    if not model_dir.is_dir():
        raise ModelFilesError(f"no model directory at {model_dir}")

    def need(name: str) -> dict[str, Any]:
        path = model_dir / name
        if not path.is_file():
            raise ModelFilesError(f"{model_dir} has no {name}; a language model directory needs config.json, "
                                  "tokenizer.json, tokenizer_config.json and onnx/model*.onnx")
        return json.loads(path.read_text(encoding="utf-8"))

    files: dict[str, Any] = {
        "config": need("config.json"),
        "tokenizer_json": need("tokenizer.json"),
        "tokenizer_config": need("tokenizer_config.json"),
    }
    generation = model_dir / "generation_config.json"
    files["generation_config"] = json.loads(generation.read_text()) if generation.is_file() else {}
    if onnx_file is None:
        manifest = model_dir / "manifest.json"
        default = json.loads(manifest.read_text()).get("default_onnx") if manifest.is_file() else None
        candidates = ([default] if default else []) + [f"onnx/{n}" for n in ONNX_PREFERENCE]
        onnx_file = next((c for c in candidates if (model_dir / c).is_file()), None)
        if onnx_file is None:
            raise ModelFilesError(f"{model_dir}/onnx holds none of {', '.join(ONNX_PREFERENCE)}")
    path = model_dir / onnx_file
    if not path.is_file():
        raise ModelFilesError(f"{model_dir} has no {onnx_file}")
    # With its weights in FILE.onnx_data the graph must be opened by path, so onnxruntime finds them beside it.
    files["onnx_bytes"] = str(path) if path.with_name(path.name + "_data").is_file() else path.read_bytes()
    files["cache_dtype"] = cache_dtype_for(onnx_file)
    return files


async def load_model_dir(model_dir: str | Path, provider: str | None = None, onnx_file: str | None = None,
                         keep_on_gpu: bool = False) -> LanguageModel:
    """A language model from an onnx-community-style directory on disk (the default ONNX file unless named)."""
    files = read_model_dir(Path(model_dir).expanduser(), onnx_file)
    return await LanguageModel.from_files(**files, provider=provider, keep_on_gpu=keep_on_gpu)
