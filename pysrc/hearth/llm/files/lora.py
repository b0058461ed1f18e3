"""LoRA adapters (peft's saved format) merged into a Llama's weights with numpy: no torch needed.

An adapter folder, as `peft`'s `save_pretrained` writes it (and models/finetune_notes.py makes):

    adapter_config.json         r, lora_alpha, use_rslora, target_modules, ...
    adapter_model.safetensors   base_model.model.<module>.lora_A.weight [r, in], .lora_B.weight [out, r]
    manifest.json               (Hearth's own, optional here) the base the adapter was trained on

The merge is peft's `merge_and_unload()` for a plain LoRA linear layer:
    W' = W + (B @ A) * scaling,   scaling = lora_alpha / r   (lora_alpha / sqrt(r) with use_rslora)
done in float32 on the base's dequantized weights, exactly as peft adds `get_delta_weight` to
`base_layer.weight`. What peft can save but this merge does not do (DoRA, LoRA biases, per-module
alpha patterns, trained embeddings or other `modules_to_save`) is refused by name rather than
silently dropped.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hearth.llm.model.weights import LlamaWeights, WeightsError, as_float

CONFIG_FILE, WEIGHTS_FILE = "adapter_config.json", "adapter_model.safetensors"
ADAPTER_FILES = (CONFIG_FILE, WEIGHTS_FILE)
# peft saves "base_model.model." + the module's name in the base model, then ".lora_A.weight" / ".lora_B.weight"
# (the adapter's own name, "default", is dropped when saving).
_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<part>[AB])\.weight$")


class AdapterError(ValueError):
    """An adapter that cannot be merged into these weights; the message says what is wrong."""


@dataclass
class LoraAdapter:
    config: dict[str, Any]
    pairs: dict[str, tuple[np.ndarray, np.ndarray]]  # base weight name -> (A [r, in], B [out, r]) float32
    source: str = "adapter"  # for messages: the folder it came from

    def scaling(self, r: int) -> float:
        alpha = float(self.config.get("lora_alpha", 8))
        return alpha / math.sqrt(r) if self.config.get("use_rslora") else alpha / r


def read_adapter(folder: str | Path) -> LoraAdapter:
    """A peft LoRA adapter folder, checked for everything the merge does not do."""
    from hearth.llm.files.safetensors import read_safetensors

    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise AdapterError(f"{folder} is not a LoRA adapter folder: it has no {path.name} (peft's "
                               f"save_pretrained writes {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise AdapterError(f"{config_path} is not valid JSON: {error}") from error
    kind = config.get("peft_type", "LORA")
    if kind != "LORA":
        raise AdapterError(f"{config_path}: a {kind} adapter; only LoRA adapters can be merged")
    unsupported = {"use_dora": "DoRA", "lora_bias": "LoRA biases", "fan_in_fan_out": "fan_in_fan_out weights",
                   "alpha_pattern": "per-module alpha (alpha_pattern)", "modules_to_save": "modules_to_save",
                   "trainable_token_indices": "trained token embeddings"}
    for key, what in unsupported.items():
        if config.get(key):
            raise AdapterError(f"{config_path}: {what} are not supported by Hearth's merge")
    try:
        tensors = read_safetensors(np.fromfile(weights_path, np.uint8))
    except (WeightsError, ValueError, json.JSONDecodeError) as error:
        raise AdapterError(f"{weights_path} is not a readable safetensors file: {error}") from error
    parts: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        match = _KEY.match(key)
        if match is None:
            raise AdapterError(f"{weights_path}: tensor {key!r} is not a LoRA A or B weight of a linear layer")
        parts.setdefault(match["module"] + ".weight", {})[match["part"]] = np.asarray(value, np.float32)
    if not parts:
        raise AdapterError(f"{weights_path} holds no LoRA weights")
    pairs = {}
    for name, ab in parts.items():
        if set(ab) != {"A", "B"}:
            missing = ({"A", "B"} - set(ab)).pop()
            raise AdapterError(f"{weights_path}: {name} has no lora_{missing} weight")
        a, b = ab["A"], ab["B"]
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise AdapterError(f"{weights_path}: {name} has lora_A {list(a.shape)} and lora_B {list(b.shape)}, "
                               "which are not [r, in] and [out, r] of one rank r")
        pairs[name] = (a, b)
    return LoraAdapter(config, pairs, str(folder))


def delta(adapter: LoraAdapter, name: str) -> np.ndarray:
    """(B @ A) * scaling for one weight, float32, as peft's `get_delta_weight`."""
    a, b = adapter.pairs[name]
    return (b @ a) * np.float32(adapter.scaling(a.shape[0]))


def branches(adapter: LoraAdapter) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The adapter as `build_decoder(lora=...)` takes it: weight name -> (A, B * scaling), float32."""
    return {name: (a, b * np.float32(adapter.scaling(a.shape[0]))) for name, (a, b) in adapter.pairs.items()}


def merged_matrix(weights: LlamaWeights, adapter: LoraAdapter, name: str) -> np.ndarray:
    """W + delta for one adapted weight, float32, after checking the adapter fits this base."""
    if name not in weights.tensors:
        raise AdapterError(f"{adapter.source} adapts {name!r}, which this base model does not have: "
                           "the adapter was made for another model")
    base = weights.tensors[name]
    a, b = adapter.pairs[name]
    if tuple(base.shape) != (b.shape[0], a.shape[1]):
        raise AdapterError(f"{adapter.source} adapts {name!r} as a {b.shape[0]}x{a.shape[1]} matrix, but the "
                           f"base model's is {base.shape[0]}x{base.shape[1]}: the adapter was made for another model")
    return as_float(base) + delta(adapter, name)


def merge(weights: LlamaWeights, adapter: LoraAdapter) -> LlamaWeights:
    """The base weights with every adapted matrix replaced by W + delta, float32; the rest untouched
    (quantized ones stay in their blocks)."""
    tensors = dict(weights.tensors)
    for name in sorted(adapter.pairs):
        tensors[name] = merged_matrix(weights, adapter, name)
    return LlamaWeights(weights.config, tensors)


def requantize_like(base: Any, merged: np.ndarray) -> Any:
    """A merged float matrix in the base matrix's own storage form, so the merged model is the same size and
    runs the same kernels as its base: GGUF Q4_1 blocks again for a Q4_1 base (which gives back the base's
    exact blocks wherever the adapter changed nothing), Hearth's 4-/8-bit blocks for those, float for float."""
    from hearth.llm.files.quantize import quantize_q4, quantize_q4_1, quantize_q8
    from hearth.llm.model.weights import BlockQuantized

    if not isinstance(base, BlockQuantized):
        return merged
    if base.bits == 4:
        return quantize_q4_1(merged, base.block) if base.offset is not None else quantize_q4(merged, base.block)
    if base.bits == 8 and base.offset is None:
        return quantize_q8(merged, base.block)
    raise AdapterError(f"a {base.bits}-bit base matrix with a float minimum cannot be stored again after merging")


def merge_quantized(weights: LlamaWeights, adapter: LoraAdapter) -> LlamaWeights:
    """`merge`, each merged matrix stored again in its base matrix's form (see `requantize_like`) as soon as it
    is made, so at most one float copy exists at a time."""
    tensors = dict(weights.tensors)
    for name in sorted(adapter.pairs):
        tensors[name] = requantize_like(weights.tensors[name], merged_matrix(weights, adapter, name))
    return LlamaWeights(weights.config, tensors)
