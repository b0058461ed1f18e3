"""Block quantization of float weight matrices (for checkpoints that arrive as float).

Blocks of 32 along each row, as in GGUF and onnxruntime's MatMulNBits, so every quantized matrix in
Hearth has one layout whatever its source. 4-bit blocks are asymmetric with an integer zero point
(what MatMulNBits runs fastest); 8-bit blocks are symmetric (GGUF's Q8_0), used for embeddings.
"""

from __future__ import annotations

import numpy as np

from hearth.llm.model.weights import BlockQuantized, Matrix

BLOCK = 32


def _blocked(w: np.ndarray, block: int) -> np.ndarray:
    rows, cols = w.shape
    if cols % block:
        raise ValueError(f"a {rows}x{cols} matrix cannot be split into blocks of {block} along its rows")
    return np.asarray(w, np.float32).reshape(rows, cols // block, block)


def quantize_q4(w: np.ndarray, block: int = BLOCK) -> BlockQuantized:
    """4-bit asymmetric: w ~ scale * (q - zero), q and zero in 0..15; the block's range always holds 0."""
    b = _blocked(w, block)
    lo = np.minimum(b.min(axis=-1), 0.0)
    hi = np.maximum(b.max(axis=-1), 0.0)
    scale = (hi - lo) / 15.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    zero = np.clip(np.round(-lo / scale), 0, 15).astype(np.uint8)
    q = np.clip(np.round(b / scale[..., None]) + zero[..., None], 0, 15).astype(np.uint8)
    return BlockQuantized(q.reshape(w.shape), scale, 4, block, zero=zero)


def quantize_q8(w: np.ndarray, block: int = BLOCK) -> BlockQuantized:
    """8-bit symmetric (Q8_0): w ~ scale * (q - 128), q in 1..255."""
    b = _blocked(w, block)
    scale = (np.abs(b).max(axis=-1) / 127.0).astype(np.float32)
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    q = (np.clip(np.round(b / scale[..., None]), -127, 127) + 128).astype(np.uint8)
    return BlockQuantized(q.reshape(w.shape), scale, 8, block, zero=np.full(scale.shape, 128, np.uint8))


def quantize(matrix: Matrix, bits: int) -> Matrix:
    """Quantize a float matrix to `bits` (4 or 8); an already-quantized one is kept as it is."""
    if isinstance(matrix, BlockQuantized):
        return matrix
    if bits == 4:
        return quantize_q4(matrix)
    if bits == 8:
        return quantize_q8(matrix)
    raise ValueError(f"{bits}-bit blocks are not supported; use 4 or 8")


def quantize_q4_1(w: np.ndarray, block: int = BLOCK) -> BlockQuantized:
    """GGUF's Q4_1 (llama.cpp's reference quantizer): w ~ d * q + m per block, m the block's minimum,
    d = (max - min) / 15, both stored as float16, q = round((w - min) / d) in 0..15 computed from the
    unrounded d and min, as llama.cpp does. Re-quantizing a dequantized Q4_1 matrix gives back its blocks,
    so a model merged from a Q4_1 base changes only where its weights changed."""
    b = _blocked(w, block)
    lo, hi = b.min(axis=-1), b.max(axis=-1)
    d = (hi - lo) / np.float32(15)
    inverse = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    q = np.minimum(15, ((b - lo[..., None]) * inverse[..., None] + np.float32(0.5)).astype(np.int8)).astype(np.uint8)
    scale = d.astype(np.float16).astype(np.float32)
    offset = lo.astype(np.float16).astype(np.float32)
    return BlockQuantized(q.reshape(w.shape), scale, 4, block, offset=offset)
