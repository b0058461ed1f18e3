"""Read Hugging Face checkpoints (config.json + model.safetensors[.index.json]) with json and numpy.

The safetensors format is an 8-byte little-endian header length, a JSON header mapping each tensor
to its dtype, shape and byte range, then the raw bytes. Reading it ourselves needs no extension
module, so the same code can convert a checkpoint inside Pyodide.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.weights import EMBED, FINAL_NORM, LM_HEAD, LlamaWeights, WeightsError, layer_names

_DTYPES = {
    "F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


def _to_float32(array: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":  # bfloat16 is the top half of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(np.float32) if array.dtype != np.float32 else array


def read_safetensors(data: bytes | memoryview | np.ndarray, *, floats: bool = True) -> dict[str, np.ndarray]:
    """All tensors of one .safetensors file's bytes; float types come back as float32 when `floats`."""
    buf = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data
    if buf.size < 8:
        raise WeightsError("not a safetensors file: shorter than its 8-byte header length")
    (header_len,) = struct.unpack("<Q", buf[:8].tobytes())
    if header_len > buf.size - 8:
        raise WeightsError("not a safetensors file (or a truncated one): its header runs past the end")
    header = json.loads(buf[8 : 8 + header_len].tobytes())
    body = buf[8 + header_len :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        if dtype not in _DTYPES:
            raise WeightsError(f"tensor {name!r} has dtype {dtype}, which Hearth cannot read")
        start, end = info["data_offsets"]
        array = body[start:end].view(_DTYPES[dtype]).reshape(info["shape"])
        if floats and dtype in ("F32", "F16", "BF16", "F64"):
            array = _to_float32(array, dtype)
        out[name] = array
    return out


def _load_file(path: Path) -> dict[str, np.ndarray]:
    return read_safetensors(np.memmap(path, np.uint8, mode="r"))


def read_checkpoint(directory: str | Path) -> tuple[LlamaWeights, dict[str, Any]]:
    """The weights and config.json of a Hugging Face Llama checkpoint directory."""
    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise WeightsError(f"{directory} has no config.json; point at a Hugging Face model directory")
    hf_config = json.loads(config_path.read_text())
    config = LlamaConfig.from_hf(hf_config)
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (directory / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        found = sorted(p.name for p in directory.glob("*.safetensors"))
        if not found:
            raise WeightsError(f"{directory} has no model.safetensors (pytorch .bin checkpoints are not supported)")
        files = found
    tensors: dict[str, np.ndarray] = {}
    for name in files:
        tensors.update(_load_file(directory / name))
    expected = {EMBED, FINAL_NORM, LM_HEAD}
    for i in range(config.num_hidden_layers):
        expected.update(layer_names(i).values())
    weights = {k: v for k, v in tensors.items() if k in expected}
    return LlamaWeights(config, weights).validate(), hf_config
