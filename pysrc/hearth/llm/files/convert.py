"""Turn a GGUF file or a Hugging Face checkpoint into an onnx-community-style model directory.

    out/config.json, generation_config.json, tokenizer.json, tokenizer_config.json
    out/onnx/model_<quant>.onnx
    out/manifest.json      every file's size and sha256, the source's sha256, the default ONNX file

A build-time tool (CPython): reading GGUF needs the `gguf` package. The decoder graph itself is
built by `decoder.py`, which runs anywhere.

Quantizations (`--quant`):
  q4-unpacked  (default) 4-bit blocks of 32 on disk, expanded to float32 once at session load.
               Exact for GGUF Q4_0/Q4_1/Q8_0 sources; float32 speed on wasm, CPU and WebGPU; but
               4 bytes a weight of memory after loading, and more while onnxruntime-web folds
               them (models/README.md), so not for 1B-class models on wasm (its memory ends at
               4 GB): use q4.
  q4           4-bit blocks run by MatMulNBits: a quarter of the memory, fast on x86 and WebGPU,
               slow on onnxruntime-web's wasm backend (no MatMulNBits kernel there).
  fp32         float32 weights: the reference, 4 bytes a weight on disk too.
  int8         8-bit weights, one scale per output channel, run by onnxruntime's integer GEMM
               (DynamicQuantizeMatMul; WebAssembly SIMD kernels, where MatMulNBits has none).
               Approximate: the activations are quantized to 8 bits on each call.
Attention (`--attention`): "plain" ONNX ops (default; on wasm its prefill is faster than
onnxruntime's GroupQueryAttention kernel, models/README.md) or "gqa" (com.microsoft RotaryEmbedding +
GroupQueryAttention, the kernels onnxruntime's WebGPU backend is tuned for; unpadded batches only).
Float checkpoints are quantized to 4-bit asymmetric blocks (linear layers) and 8-bit symmetric
blocks (embeddings, an untied lm_head) for both q4 kinds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from hearth.llm.files.quantize import quantize as quantize_matrix
from hearth.llm.files.quantize import quantize_q8
from hearth.llm.model.decoder import build_decoder
from hearth.llm.model.weights import EMBED, LM_HEAD, BlockQuantized, LlamaWeights, as_float

QUANTS: dict[str, tuple[str, str]] = {  # name -> (decoder weights mode, file under onnx/)
    "q4-unpacked": ("unpacked", "model_q4_unpacked.onnx"),
    "q4": ("nbits", "model_q4.onnx"),
    "fp32": ("fp32", "model.onnx"),
    "int8": ("int8", "model_int8.onnx"),
}
DEFAULT_QUANT = "q4-unpacked"
MANIFEST_FORMAT = "hearth-llm-1"


class ConvertError(ValueError):
    """A conversion that cannot proceed; the message says what to change."""


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _is_q8_table(m: Any) -> bool:
    return (isinstance(m, BlockQuantized) and m.bits == 8 and m.offset is None
            and bool(np.all(m.zeros() == 128)))


def prepare_weights(weights: LlamaWeights, quant: str) -> LlamaWeights:
    """Bring every matrix into the form `quant` stores: blocks kept exact where they already are."""
    if quant not in QUANTS:
        raise ConvertError(f"unknown quantization {quant!r}; choose one of {', '.join(QUANTS)}")
    if quant == "fp32":
        return weights
    tensors: dict[str, Any] = {}
    for name, matrix in weights.tensors.items():
        if isinstance(matrix, np.ndarray) and matrix.ndim == 1:
            tensors[name] = matrix
        elif name in (EMBED, LM_HEAD):
            tensors[name] = matrix if _is_q8_table(matrix) else quantize_q8(as_float(matrix))
        elif isinstance(matrix, BlockQuantized) and matrix.bits in (4, 8):
            tensors[name] = matrix
        else:
            tensors[name] = quantize_matrix(as_float(matrix), 4)
    return LlamaWeights(weights.config, tensors)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_manifest(out_dir: Path, source: dict[str, Any], default_onnx: str,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """`extra`: more top-level keys (a merged model's one-line card)."""
    files = {}
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name != "manifest.json"):
        rel = path.relative_to(out_dir).as_posix()
        files[rel] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    manifest = {"format": MANIFEST_FORMAT, "source": source, "default_onnx": default_onnx, "files": files,
                **(extra or {})}
    _write_json(out_dir / "manifest.json", manifest)
    return manifest


def onnx_name(quant: str, attention: str = "plain") -> str:
    """onnx/ file name: onnx-community's names, with _gqa when attention uses GroupQueryAttention."""
    filename = QUANTS[quant][1]
    return filename if attention == "plain" else filename.replace(".onnx", f"_{attention}.onnx")


def write_decoder(weights: LlamaWeights, out_dir: Path, quant: str, attention: str = "plain",
                  external_data: bool = False) -> Path:
    """`external_data`: the weights go to FILE.onnx_data beside the graph (onnxruntime-web then holds
    them once while creating a session instead of about three times; see hearth.graph.external)."""
    mode = QUANTS[quant][0]
    onnx_dir = out_dir / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    path = onnx_dir / onnx_name(quant, attention)
    data_path = path.with_name(path.name + "_data")
    model = build_decoder(prepare_weights(weights, quant), weights_mode=mode, attention=attention)
    if external_data:
        from hearth.graph.external import split_external

        model, data = split_external(model, data_path.name)
        data_tmp = data_path.with_suffix(".tmp_data")
        data_tmp.write_bytes(data)
        del data
        data_tmp.replace(data_path)
    else:
        data_path.unlink(missing_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(model)
    tmp.replace(path)
    return path


def generation_config_for(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: config[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if config.get(k) is not None}
    return {**out, "do_sample": False}


# ---------------------------------------------------------------- sources


def convert_gguf(gguf_path: str | Path, out_dir: str | Path, quants: list[str] | tuple[str, ...] = (DEFAULT_QUANT,),
                 generation_config: dict[str, Any] | None = None, attention: str = "plain",
                 adapter: str | Path | None = None, card: str | None = None) -> dict[str, Any]:
    """A llama GGUF file -> model directory. Returns the manifest.

    `adapter`: a peft LoRA adapter folder merged into the weights first (`hearth.llm.files.lora`), each merged
    matrix stored again in its GGUF form; the manifest records the adapter's files and `card` (one line)."""
    from hearth.llm.files.gguf_weights import read_gguf

    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    weights, meta = read_gguf(gguf_path)
    source: dict[str, Any] = {"kind": "gguf", "file": gguf_path.name, "sha256": sha256_file(gguf_path)}
    if adapter is not None:
        from hearth.llm.files.lora import ADAPTER_FILES, merge_quantized, read_adapter

        weights = merge_quantized(weights, read_adapter(adapter))
        source["adapter"] = {name: sha256_file(Path(adapter) / name) for name in ADAPTER_FILES}
    out_dir.mkdir(parents=True, exist_ok=True)
    config = weights.config.to_hf()
    _write_json(out_dir / "config.json", config)
    _write_json(out_dir / "generation_config.json", generation_config or generation_config_for(config))
    if "tokenizer.ggml.model" in meta:  # a GGUF without a tokenizer still converts; add one by hand
        write_gguf_tokenizer(gguf_path, out_dir)
    for quant in quants:
        write_decoder(weights, out_dir, quant, attention)
    return write_manifest(out_dir, source, f"onnx/{onnx_name(quants[0], attention)}",
                          {"card": card} if card else None)


def write_gguf_tokenizer(gguf_path: Path, out_dir: Path) -> None:
    """tokenizer.json + tokenizer_config.json from the GGUF's metadata (the tokenizer helper's converter)."""
    try:
        from hearth.llm.files.gguf_tokenizer import tokenizer_files_from_gguf
    except ImportError:  # TODO(merge llm-tok): gguf_tokenizer lands with the tokenizer branch
        return
    tokenizer_json, tokenizer_config = tokenizer_files_from_gguf(gguf_path)
    _write_json(out_dir / "tokenizer.json", tokenizer_json)
    _write_json(out_dir / "tokenizer_config.json", tokenizer_config)


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json")


def convert_checkpoint(hf_dir: str | Path, out_dir: str | Path, quants: list[str] | tuple[str, ...] = (DEFAULT_QUANT,),
                       attention: str = "plain") -> dict[str, Any]:
    """A Hugging Face Llama checkpoint directory (config.json + safetensors) -> model directory."""
    from hearth.llm.files.safetensors import read_checkpoint

    hf_dir, out_dir = Path(hf_dir), Path(out_dir)
    if hf_dir.resolve() == out_dir.resolve():
        raise ConvertError("the output directory must differ from the checkpoint directory")
    weights, hf_config = read_checkpoint(hf_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "config.json", {**hf_config, **weights.config.to_hf(),
                                          "architectures": hf_config.get("architectures", ["LlamaForCausalLM"])})
    for name in TOKENIZER_FILES:
        if (hf_dir / name).is_file():
            shutil.copyfile(hf_dir / name, out_dir / name)
    if not (out_dir / "generation_config.json").is_file():
        _write_json(out_dir / "generation_config.json", generation_config_for(hf_config))
    for quant in quants:
        write_decoder(weights, out_dir, quant, attention)
    digests = {p.name: sha256_file(p) for p in sorted(hf_dir.glob("*.safetensors"))}
    source = {"kind": "safetensors", "files": digests}
    return write_manifest(out_dir, source, f"onnx/{onnx_name(quants[0], attention)}")
