"""A Llama model's weights, float or block-quantized, under Hugging Face tensor names.

Readers (`gguf_weights.py`, `safetensors.py`) produce a `LlamaWeights`; `decoder.py` turns one into an
ONNX graph. Quantized matrices stay in their blocks end to end, so a GGUF's Q4_1/Q8_0 weights reach
the ONNX file without a lossy round trip through float and back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from hearth.llm.model.config import LlamaConfig


class WeightsError(ValueError):
    """A checkpoint whose tensors do not fit the model its config describes."""


@dataclass
class BlockQuantized:
    """A [rows, cols] matrix quantized in blocks of `block` along each row (the input dimension).

    w = scale * (codes - zero)       when `offset` is None (Q4_0, Q8_0, our own quantizer)
    w = scale * codes + offset       when `offset` is given (GGUF Q4_1: zero point is a float)
    codes are uint8 holding `bits`-bit values; scale/zero/offset are [rows, cols // block].
    """

    codes: np.ndarray
    scale: np.ndarray
    bits: int
    block: int
    zero: np.ndarray | None = None
    offset: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.codes.shape)  # type: ignore[return-value]

    def zeros(self) -> np.ndarray:
        """Integer zero points (uint8 [rows, blocks]); 0 for the float-offset form."""
        if self.zero is not None:
            return self.zero
        return np.zeros(self.scale.shape, np.uint8)

    def dequantize(self) -> np.ndarray:
        """float32 [rows, cols], in the same operation order as gguf-py, so the floats match it bit for bit."""
        rows, cols = self.codes.shape
        codes = self.codes.reshape(rows, cols // self.block, self.block).astype(np.float32)
        scale = self.scale.astype(np.float32)[..., None]
        if self.offset is not None:
            w = scale * codes + self.offset.astype(np.float32)[..., None]
        else:
            w = scale * (codes - self.zeros().astype(np.float32)[..., None])
        return w.reshape(rows, cols).astype(np.float32)

    def take_rows(self, index: np.ndarray) -> BlockQuantized:
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[index]

        return BlockQuantized(self.codes[index], self.scale[index], self.bits, self.block,
                              pick(self.zero), pick(self.offset))


Matrix = np.ndarray | BlockQuantized


def as_float(matrix: Matrix) -> np.ndarray:
    return matrix.dequantize() if isinstance(matrix, BlockQuantized) else np.asarray(matrix, np.float32)


def layer_names(i: int) -> dict[str, str]:
    """Hugging Face names of layer i's tensors, by role."""
    p = f"model.layers.{i}."
    return {
        "q": p + "self_attn.q_proj.weight", "k": p + "self_attn.k_proj.weight",
        "v": p + "self_attn.v_proj.weight", "o": p + "self_attn.o_proj.weight",
        "gate": p + "mlp.gate_proj.weight", "up": p + "mlp.up_proj.weight", "down": p + "mlp.down_proj.weight",
        "attn_norm": p + "input_layernorm.weight", "mlp_norm": p + "post_attention_layernorm.weight",
    }


EMBED, FINAL_NORM, LM_HEAD = "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"


@dataclass
class LlamaWeights:
    config: LlamaConfig
    tensors: dict[str, Matrix]

    def __getitem__(self, name: str) -> Matrix:
        return self.tensors[name]

    def lm_head(self) -> Matrix:
        """The output projection: the embedding itself when tied."""
        if self.config.tie_word_embeddings or LM_HEAD not in self.tensors:
            return self.tensors[EMBED]
        return self.tensors[LM_HEAD]

    def expected_shapes(self) -> Iterator[tuple[str, tuple[int, ...]]]:
        c = self.config
        q_out, kv_out = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim
        yield EMBED, (c.vocab_size, c.hidden_size)
        yield FINAL_NORM, (c.hidden_size,)
        if not c.tie_word_embeddings:
            yield LM_HEAD, (c.vocab_size, c.hidden_size)
        for i in range(c.num_hidden_layers):
            n = layer_names(i)
            yield n["q"], (q_out, c.hidden_size)
            yield n["k"], (kv_out, c.hidden_size)
            yield n["v"], (kv_out, c.hidden_size)
            yield n["o"], (c.hidden_size, q_out)
            yield n["gate"], (c.intermediate_size, c.hidden_size)
            yield n["up"], (c.intermediate_size, c.hidden_size)
            yield n["down"], (c.hidden_size, c.intermediate_size)
            yield n["attn_norm"], (c.hidden_size,)
            yield n["mlp_norm"], (c.hidden_size,)

    def validate(self) -> LlamaWeights:
        """Check every tensor the config implies is present with its shape; say which is not."""
        for name, shape in self.expected_shapes():
            if name not in self.tensors:
                raise WeightsError(f"the checkpoint has no tensor {name!r}, which config.json implies")
            got = tuple(self.tensors[name].shape)
            if got != shape:
                raise WeightsError(f"tensor {name!r} has shape {got}, but config.json implies {shape}")
        return self
