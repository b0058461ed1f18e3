"""Read a llama.cpp GGUF file into `LlamaWeights`, keeping Q4_0/Q4_1/Q8_0 blocks exact.

A build-time tool (CPython, the `gguf` package). Two things differ from a Hugging Face checkpoint:
tensor names (`blk.0.attn_q.weight`), and the rows of the query/key projections, which llama.cpp's
converter permutes so that its RoPE can rotate adjacent pairs; we undo that permutation so the
decoder's rotate-half RoPE (the Hugging Face convention) sees the original order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.weights import EMBED, FINAL_NORM, LM_HEAD, BlockQuantized, LlamaWeights, WeightsError, layer_names

_ROLE_BY_GGUF = {
    "attn_q": "q", "attn_k": "k", "attn_v": "v", "attn_output": "o",
    "ffn_gate": "gate", "ffn_up": "up", "ffn_down": "down",
    "attn_norm": "attn_norm", "ffn_norm": "mlp_norm",
}
BLOCK = 32


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Every key/value of the GGUF header (token lists included), as Python values."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    return {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}


def config_from_metadata(meta: dict[str, Any]) -> LlamaConfig:
    arch = meta.get("general.architecture")
    if arch != "llama":
        raise WeightsError(f"this GGUF holds a {arch!r} model; Hearth converts 'llama' GGUF files only")
    a = "llama."
    heads = int(meta[a + "attention.head_count"])
    hidden = int(meta[a + "embedding_length"])
    vocab = int(meta.get(a + "vocab_size") or len(meta["tokenizer.ggml.tokens"]))
    config: dict[str, Any] = {
        "model_type": "llama",
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": int(meta[a + "feed_forward_length"]),
        "num_hidden_layers": int(meta[a + "block_count"]),
        "num_attention_heads": heads,
        "num_key_value_heads": int(meta.get(a + "attention.head_count_kv", heads)),
        "head_dim": int(meta.get(a + "attention.key_length", hidden // heads)),
        "rms_norm_eps": float(meta.get(a + "attention.layer_norm_rms_epsilon", 1e-5)),
        "rope_theta": float(meta.get(a + "rope.freq_base", 10000.0)),
        "max_position_embeddings": int(meta.get(a + "context_length", 2048)),
        "bos_token_id": meta.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": meta.get("tokenizer.ggml.eos_token_id"),
        "pad_token_id": meta.get("tokenizer.ggml.padding_token_id"),
    }
    scaling = meta.get(a + "rope.scaling.type")
    if scaling == "linear":
        config["rope_scaling"] = {"rope_type": "linear", "factor": float(meta[a + "rope.scaling.factor"])}
    elif scaling not in (None, "none"):
        raise WeightsError(f"GGUF rope scaling {scaling!r} is not supported; convert the Hugging Face checkpoint")
    return LlamaConfig.from_hf(config)


# ---------------------------------------------------------------- block formats


def _blocks(raw: np.ndarray, rows: int, block_bytes: int) -> np.ndarray:
    return np.ascontiguousarray(raw).reshape(rows, -1, block_bytes)


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """[rows, blocks, 16] packed bytes -> [rows, blocks * 32] codes: low nibbles are elements 0-15."""
    codes = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)
    return codes.reshape(qs.shape[0], -1)


def _fp16(raw: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(raw).view(np.float16)[..., 0].astype(np.float32)


def decode_q4_1(raw: np.ndarray, rows: int) -> BlockQuantized:
    b = _blocks(raw, rows, 20)  # d fp16, m fp16, 16 bytes of nibbles
    return BlockQuantized(_nibbles(b[..., 4:]), _fp16(b[..., 0:2]), 4, BLOCK, offset=_fp16(b[..., 2:4]))


def decode_q4_0(raw: np.ndarray, rows: int) -> BlockQuantized:
    b = _blocks(raw, rows, 18)  # d fp16, 16 bytes of nibbles; w = d * (q - 8)
    scale = _fp16(b[..., 0:2])
    return BlockQuantized(_nibbles(b[..., 2:]), scale, 4, BLOCK, zero=np.full(scale.shape, 8, np.uint8))


def decode_q8_0(raw: np.ndarray, rows: int) -> BlockQuantized:
    b = _blocks(raw, rows, 34)  # d fp16, 32 int8; stored as uint8 = q + 128 with zero point 128
    scale = _fp16(b[..., 0:2])
    codes = (b[..., 2:].view(np.int8).astype(np.int16) + 128).astype(np.uint8).reshape(rows, -1)
    return BlockQuantized(codes, scale, 8, BLOCK, zero=np.full(scale.shape, 128, np.uint8))


def _tensor(t: Any) -> np.ndarray | BlockQuantized:
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import dequantize

    shape = tuple(int(n) for n in reversed(t.shape))  # GGUF lists dims innermost first
    kind = t.tensor_type
    if kind == Q.F32:
        return np.asarray(t.data, np.float32).reshape(shape)
    if kind in (Q.F16, Q.BF16):
        return dequantize(np.asarray(t.data), kind).astype(np.float32).reshape(shape)
    rows = shape[0] if len(shape) == 2 else 1
    if kind == Q.Q4_1:
        return decode_q4_1(t.data, rows)
    if kind == Q.Q4_0:
        return decode_q4_0(t.data, rows)
    if kind == Q.Q8_0:
        return decode_q8_0(t.data, rows)
    return dequantize(np.asarray(t.data), kind).astype(np.float32).reshape(shape)


def unpermute_rows(matrix: np.ndarray | BlockQuantized, heads: int) -> np.ndarray | BlockQuantized:
    """Undo llama.cpp's q/k row permutation (pairs -> halves within each head)."""
    rows = matrix.shape[0]
    index = np.arange(rows).reshape(heads, rows // heads // 2, 2).swapaxes(1, 2).reshape(-1)
    if isinstance(matrix, BlockQuantized):
        return matrix.take_rows(index)
    return matrix[index]


def read_gguf(path: str | Path) -> tuple[LlamaWeights, dict[str, Any]]:
    """The weights (Hugging Face names and row order) and the raw metadata of a llama GGUF file."""
    from gguf import GGUFReader

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"no GGUF file at {path}")
    reader = GGUFReader(str(path))
    meta = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    config = config_from_metadata(meta)
    tensors: dict[str, Any] = {}
    for t in reader.tensors:
        name = t.name
        if name == "rope_freqs.weight":
            raise WeightsError("this GGUF has llama3 rope scaling (rope_freqs); convert the Hugging Face checkpoint")
        if name == "token_embd.weight":
            tensors[EMBED] = _tensor(t)
        elif name == "output_norm.weight":
            tensors[FINAL_NORM] = _tensor(t)
        elif name == "output.weight":
            tensors[LM_HEAD] = _tensor(t)
        elif name.startswith("blk."):
            _, layer, role, _ = name.split(".")
            if role not in _ROLE_BY_GGUF:
                raise WeightsError(f"GGUF tensor {name!r} has no place in a Llama model")
            value = _tensor(t)
            if role == "attn_q":
                value = unpermute_rows(value, config.num_attention_heads)
            elif role == "attn_k":
                value = unpermute_rows(value, config.num_key_value_heads)
            tensors[layer_names(int(layer))[_ROLE_BY_GGUF[role]]] = value
    if LM_HEAD not in tensors:
        config = LlamaConfig(**{**config.__dict__, "tie_word_embeddings": True})
    return LlamaWeights(config, tensors).validate(), meta
