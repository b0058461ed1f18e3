"""How a Llama's weight matrices are stored in its ONNX graph, and how they become graph values.

`decoder.py` describes the model and asks this module for two things: `WeightStore.linear(x, name, w)`
(x @ w.T, whatever form w is stored in) and a `TokenTable` (the embedding's rows for some token ids,
and the logits of the output head, which usually shares the embedding's table). Everything about
bits, blocks, nibbles and chunks stays here.

Storage modes (`mode=`):
  "fp32"      float32 initializers. The reference; 4 bytes a weight on disk and in memory.
  "unpacked"  4-/8-bit block codes and float16 scales on disk, expanded to float32 by plain ops
              (Cast, Sub, Mul, Add) whose inputs are all initializers, so onnxruntime folds them
              once when the session loads. Small download, float32 speed on every backend, and the
              floats equal the source's dequantized weights bit for bit (same operation order).
  "nbits"     com.microsoft MatMulNBits (4-bit blocks of 32). Smallest in memory and fast on x86 and
              WebGPU, but onnxruntime-web's wasm build has no MatMulNBits kernel of its own and expands
              the whole weight to float32 on each call. So each weight is split by output rows into
              MatMulNBits of at most LINEAR_CHUNK_BYTES as float32 (outputs concatenated; the same
              numbers up to float rounding, since a one-token kernel may sum a narrower weight in another
              order): the expansion stays small and in cache.
  "int8"      8-bit integers, a float scale and an integer zero point per output channel (requantized
              from the source's blocks: each weight rounded to the nearest of 255 steps between its
              row's minimum and maximum), multiplied by onnxruntime's integer GEMM (MatMulInteger), which
              has WebAssembly SIMD kernels where MatMulNBits has none. The activations are rounded to 8
              bits with one scale per token (a row of the prompt), by plain ops before the GEMM.
              Approximate; the tied head is the same table, stored [hidden, vocab] and gathered by
              column for the embedding.
GGUF Q4_1 blocks carry a float minimum (w = d*q + m), which MatMulNBits's integer zero points cannot
hold, and its float zero points take a slow path on every backend; so "nbits" runs them as
MatMulNBits(x, q, d) + blocksum(x) @ m, which is exact algebra.

Sections, in the order a graph uses them: packing helpers, row chunks, linear layers, token tables.
"""

from __future__ import annotations

import numpy as np

from hearth.graph import Graph
from hearth.llm.model.weights import EMBED, BlockQuantized, LlamaWeights, Matrix, as_float

MODES = ("fp32", "unpacked", "nbits", "int8")
MS = "com.microsoft"
# Float32 bytes per MatMulNBits of an "nbits" layer. Smaller chunks keep each call's expansion in cache,
# but onnxruntime-web's session creation grows with the node count; 8 MB balances the two (the
# measurements are in models/README.md).
LINEAR_CHUNK_BYTES = 8 << 20
# The same for an "nbits" lm_head, by vocabulary rows. Not smaller than LINEAR_CHUNK_BYTES: a tied
# head's embedding rows are gathered from every chunk (a Gather and a Where each).
HEAD_CHUNK_BYTES = 8 << 20
EMBED_CODES, EMBED_SCALE, EMBED_ZERO = "embed_tokens.codes", "embed_tokens.scale", "embed_tokens.zero"
HI_PLANE, LO_PLANE = "embed_tokens.hi4", "embed_tokens.lo4"


class DecoderError(ValueError):
    """A decoder that cannot be built from these weights with these options."""


# ---------------------------------------------------------------- packing helpers


def fp16_exact(a: np.ndarray) -> np.ndarray:
    """float16 when that loses nothing (GGUF scales are float16 already), else float32."""
    half = a.astype(np.float16)
    return half if np.array_equal(half.astype(np.float32), a.astype(np.float32)) else a.astype(np.float32)


def pack_uint4(codes: np.ndarray) -> bytes:
    """Pairs of 4-bit values into bytes, first value in the low nibble (ONNX uint4 and MatMulNBits order)."""
    flat = codes.reshape(-1)
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.uint8)])
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()


def concat_rows(parts: list[Matrix]) -> Matrix | None:
    """Stack matrices along their output rows so one matmul does the work of several; None if forms differ."""
    if all(not isinstance(p, BlockQuantized) for p in parts):
        return np.concatenate([np.asarray(p, np.float32) for p in parts], axis=0)
    if not all(isinstance(p, BlockQuantized) for p in parts):
        return None
    first = parts[0]
    if any(p.bits != first.bits or p.block != first.block or (p.offset is None) != (first.offset is None)
           for p in parts):
        return None

    def cat(attr: str) -> np.ndarray | None:
        return None if getattr(first, attr) is None else np.concatenate([getattr(p, attr) for p in parts])

    zero = None if first.offset is not None else np.concatenate([p.zeros() for p in parts])
    return BlockQuantized(cat("codes"), cat("scale"), first.bits, first.block, zero=zero, offset=cat("offset"))


# "int8" stores weights as uint8 with a zero point (255 steps a row), not int8 in 63 steps: onnxruntime's x86
# kernels without VNNI multiply uint8 activations by int8 weights in int16 pairs that saturate past
# 255 * 64 * 2, so signed weights had to stay within 7 bits, while uint8 x uint8 is widened before it
# is summed and may use the whole byte. Same speed on wasm, about a third of the logit error
# (models/README.md, "Can 8-bit weights keep the reference's tokens?").
UINT8_STEPS = 255


def uint8_channels(w: Matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uint8 codes [N, K], float32 scales [N], uint8 zero points [N]): each row of w [N, K] rounded to
    the nearest of 255 steps spanning its minimum and maximum (and 0, which stays exact)."""
    f = as_float(w)
    lo, hi = np.minimum(f.min(axis=1), 0), np.maximum(f.max(axis=1), 0)
    scale = ((hi - lo) / np.float32(UINT8_STEPS)).astype(np.float32)
    scale = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)
    zero = np.clip(np.rint(-lo / scale), 0, UINT8_STEPS)
    codes = np.clip(np.rint(f / scale[:, None]) + zero[:, None], 0, UINT8_STEPS).astype(np.uint8)
    return codes, scale, zero.astype(np.uint8)


def _is_q8_0(table: BlockQuantized) -> bool:
    return table.bits == 8 and table.offset is None and bool(np.all(table.zeros() == 128))


def _check_q8_0(table: BlockQuantized) -> None:
    if not _is_q8_0(table):
        raise DecoderError("quantized embeddings must be symmetric 8-bit blocks (Q8_0); requantize with quantize_q8")


# ---------------------------------------------------------------- row chunks


def row_chunks(rows: int, cols: int, budget: int) -> list[tuple[int, int]]:
    """Row ranges [start, end) of a [rows, cols] weight whose float32 expansion is at most `budget` bytes."""
    step = max(1, budget // (cols * 4))
    return [(a, min(a + step, rows)) for a in range(0, rows, step)]


def head_chunks(vocab: int, hidden: int, rows: int | None = None) -> list[tuple[int, int]]:
    """Vocabulary row ranges [start, end) of an "nbits" lm_head, one MatMulNBits each (`rows` per chunk,
    default HEAD_CHUNK_BYTES of float32). Logits are the same numbers whatever the chunks: each
    vocabulary column is its own dot product."""
    return [(a, min(a + rows, vocab)) for a in range(0, vocab, rows)] if rows else row_chunks(
        vocab, hidden, HEAD_CHUNK_BYTES)


def chunk_name(name: str, chunks: list[tuple[int, int]], i: int) -> str:
    """The initializer name of chunk `i`: the plain name when there is one chunk."""
    return name if len(chunks) == 1 else f"{name}.{i}"


# ---------------------------------------------------------------- linear layers


class WeightStore:
    """Turns weight matrices into graph values in one storage mode: `linear(x, name, w)` is x @ w.T."""

    def __init__(self, g: Graph, mode: str, accuracy_level: int = 0, chunk_bytes: int = LINEAR_CHUNK_BYTES) -> None:
        if mode not in MODES:
            raise DecoderError(f"weights mode {mode!r} is not one of {', '.join(MODES)}")
        self.g, self.mode, self.accuracy_level = g, mode, accuracy_level
        self.chunk_bytes = chunk_bytes  # "nbits": float32 bytes per MatMulNBits (see row_chunks)

    def linear(self, x: str, name: str, w: Matrix) -> str:
        """x [..., K] @ w.T, w given [N, K] as in Hugging Face."""
        g = self.g
        if self.mode == "fp32" or not isinstance(w, BlockQuantized):
            return g.op("MatMul", x, g.initializer(name, np.ascontiguousarray(as_float(w).T)))
        if self.mode == "unpacked":
            return g.op("MatMul", x, self.unpacked_kn(name, w))
        if self.mode == "int8":
            codes, scale, zero = uint8_channels(w)
            return self.int8_matmul(x, g.initializer(f"{name}.int8", np.ascontiguousarray(codes.T)),
                                    g.initializer(f"{name}.int8_scale", scale), g.initializer(f"{name}.int8_zero", zero),
                                    w.shape[1])
        return self._nbits(x, name, w)

    # -- "int8"
    def int8_matmul(self, x: str, codes_kn: str, scale: str, zero: str, k: int) -> str:
        """x [..., K] @ ((codes - zero) * scale): each token's x rounded to 8 bits on its own scale
        (max|x| / 127, stored as uint8 around 128), the integer GEMM, then both scales.

        Not DynamicQuantizeMatMul: it takes one scale for the whole input, so while reading a prompt the
        first token's activations, hundreds of times the others' in some layers, set the step for
        every token (its logit error was 3.7x this one's, models/README.md). These five small ops per
        product cost nothing measurable beside the GEMM on wasm."""
        g = self.g
        rows = g.op("Reshape", x, g.const([-1, k], "int64", "rows_shape"))
        biggest = g.op("ReduceMax", g.op("Abs", rows), g.const([1], "int64", "axes"), keepdims=1)
        step = g.op("Div", g.op("Max", biggest, g.const(np.float32(1e-30), hint="tiny")), g.const(np.float32(127), hint="steps"))
        shifted = g.op("Add", g.op("Round", g.op("Div", rows, step)), g.const(np.float32(128), hint="middle"))
        codes_x = g.op("Cast", shifted, to=2)  # uint8; |x| / step <= 127, so 1..255 without clipping
        product = g.op("MatMulInteger", codes_x, codes_kn, g.const(np.uint8(128), hint="x_zero"), zero)
        y = g.op("Mul", g.op("Mul", g.op("Cast", product, to=1), step), scale)
        lead = g.op("Slice", g.op("Shape", x), g.const([0], "int64", "starts"), g.const([-1], "int64", "ends"))
        return g.op("Reshape", y, g.op("Concat", lead, g.op("Shape", scale), axis=0))

    def scale(self, name: str, a: np.ndarray, shape: tuple[int, ...]) -> str:
        """A per-block float array as a float32 value (stored float16 when exact, cast at load)."""
        stored = fp16_exact(a).reshape(shape)
        value = self.g.initializer(name, stored)
        return self.g.op("Cast", value, to=1) if stored.dtype == np.float16 else value

    # -- "unpacked"
    def unpacked_kn(self, name: str, w: BlockQuantized) -> str:
        """float32 [K, N] from codes laid out [K/block, block, N]: folded to one initializer at load."""
        g = self.g
        n, k = w.shape
        kb = k // w.block
        codes = np.ascontiguousarray(w.codes.reshape(n, kb, w.block).transpose(1, 2, 0))
        if w.bits == 4:
            stored = g.packed_initializer(f"{name}.codes", pack_uint4(codes), list(codes.shape), "uint4")
        elif _is_q8_0(w):
            stored = g.initializer(f"{name}.codes", (codes.astype(np.int16) - 128).astype(np.int8))
        else:
            stored = g.initializer(f"{name}.codes", codes)
        x = g.op("Cast", stored, to=1)
        blocks = (kb, 1, n)
        if w.offset is None and not (w.bits == 8 and np.all(w.zeros() == 128)) and np.any(w.zeros()):
            x = g.op("Sub", x, g.op("Cast", g.initializer(f"{name}.zero", w.zeros().T.reshape(blocks)), to=1))
        x = g.op("Mul", x, self.scale(f"{name}.scale", w.scale.T, blocks))
        if w.offset is not None:
            x = g.op("Add", x, self.scale(f"{name}.offset", w.offset.T, blocks))
        return g.op("Reshape", x, g.const([k, n], "int64"))

    # -- "nbits"
    def _nbits(self, x: str, name: str, w: BlockQuantized) -> str:
        """x @ w.T with MatMulNBits; 8-bit blocks as two 4-bit halves, Q4_1 minima as a block-sum matmul."""
        g = self.g
        n, k = w.shape
        kb = k // w.block
        if w.bits == 8:
            hi = BlockQuantized(w.codes >> 4, w.scale * 16, 4, w.block, zero=w.zeros() >> 4)
            lo = BlockQuantized(w.codes & 0x0F, w.scale, 4, w.block, zero=w.zeros() & 0x0F)
            if w.offset is not None:
                raise DecoderError(f"{name}: 8-bit blocks with a float minimum are not supported")
            return g.op("Add", self._nbits(x, f"{name}.hi", hi), self._nbits(x, f"{name}.lo", lo))
        if w.bits != 4:
            raise DecoderError(f"{name}: MatMulNBits mode takes 4- or 8-bit blocks, not {w.bits}-bit")
        chunks = row_chunks(n, k, self.chunk_bytes)
        parts = [self.matmul_nbits(x, chunk_name(name, chunks, i), w.take_rows(np.arange(a, b)))
                 for i, (a, b) in enumerate(chunks)]
        y = parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=-1)
        if w.offset is not None:
            sums = g.op("ReduceSum", g.op("Reshape", x, g.const([0, 0, kb, w.block], "int64")),
                        g.const([-1], "int64"), keepdims=0)
            y = g.op("Add", y, g.op("MatMul", sums, g.initializer(f"{name}.min", w.offset.T.astype(np.float32).copy())))
        return y

    def matmul_nbits(self, x: str, name: str, w: BlockQuantized) -> str:
        """One MatMulNBits over 4-bit blocks (zero points stored only when some differ from 8)."""
        g = self.g
        n, k = w.shape
        kb = k // w.block
        packed = np.frombuffer(pack_uint4(w.codes), np.uint8).reshape(n, kb, w.block // 2)
        scale = g.initializer(f"{name}.scale", w.scale.astype(np.float32).reshape(-1))
        inputs = [x, g.initializer(f"{name}.q4", packed), scale]
        zeros = w.zeros()
        if w.offset is not None or np.any(zeros != 8):
            padded = np.concatenate([zeros, np.zeros((n, kb % 2), np.uint8)], axis=1) if kb % 2 else zeros
            inputs.append(g.initializer(f"{name}.zero", np.frombuffer(pack_uint4(padded), np.uint8).copy()))
        return g.op("MatMulNBits", *inputs, domain=MS, K=k, N=n, bits=4, block_size=w.block,
                    accuracy_level=self.accuracy_level)

    def low_rank(self, x: str, name: str, a: np.ndarray, b: np.ndarray) -> str:
        """x @ a.T @ b.T for a [r, K] and b [N, r] (a LoRA branch, its scaling already in b): two small float32
        MatMuls, stored float16 when that is exact."""
        g = self.g
        down = g.op("MatMul", x, self.scale(f"{name}.lora_A", np.ascontiguousarray(a.T), a.T.shape))
        return g.op("MatMul", down, self.scale(f"{name}.lora_B", np.ascontiguousarray(b.T), b.T.shape))

    def head(self, x: str, head: Matrix, chunks: list[tuple[int, int]]) -> str:
        """Logits through an lm_head stored as its own weight: per vocabulary chunk when "nbits"."""
        if isinstance(head, BlockQuantized) and self.mode == "nbits" and len(chunks) > 1:
            parts = [self.linear(x, f"lm_head.{i}", head.take_rows(np.arange(a, b))) for i, (a, b) in enumerate(chunks)]
            return self.g.op("Concat", *parts, axis=-1)
        return self.linear(x, "lm_head", head)


# ---------------------------------------------------------------- token tables: embedding rows and the lm_head


class TokenTable:
    """A float32 embedding table: rows by Gather; a tied head is its transpose, an untied one its own weight."""

    def __init__(self, store: WeightStore, weights: LlamaWeights, chunks: list[tuple[int, int]]) -> None:
        self.g, self.store, self.chunks = store.g, store, chunks
        self.table, self.head = weights[EMBED], weights.lm_head()
        self.tied = self.head is self.table
        self.hidden = weights.config.hidden_size

    def embed(self, ids: str) -> str:
        """[B, S, hidden] float32 rows of these token ids."""
        return self.g.op("Gather", self.g.initializer(EMBED, as_float(self.table)), ids, axis=0)

    def logits(self, x: str) -> str:
        """[B, 1, vocab] from the last position's hidden state."""
        if self.tied and not isinstance(self.head, BlockQuantized):
            # a transposed copy folded at load: Gemm(transB=1) on the shared table runs slower on wasm
            return self.g.op("MatMul", x, self.g.op("Transpose", EMBED, perm=[1, 0]))
        return self.store.head(x, self.head, self.chunks)


class Q8Rows(TokenTable):
    """An 8-bit block table (Q8_0) kept quantized: only the gathered seq x hidden rows are expanded per call.
    A tied head ("unpacked") is the same codes expanded to float32 once, at load."""

    def embed(self, ids: str) -> str:
        g, table = self.g, self.table
        _check_q8_0(table)
        vocab, kb = table.shape[0], self.hidden // table.block
        signed = (table.codes.astype(np.int16) - 128).astype(np.int8)
        codes = g.initializer(EMBED_CODES, signed.reshape(vocab, kb, table.block))
        stored = fp16_exact(table.scale).reshape(vocab, kb, 1)
        scale = g.initializer(EMBED_SCALE, stored)
        rows = g.op("Cast", g.op("Gather", codes, ids, axis=0), to=1)  # [B, S, kb, block]
        row_scale = g.op("Gather", scale, ids, axis=0)
        if stored.dtype == np.float16:
            row_scale = g.op("Cast", row_scale, to=1)
        return g.op("Reshape", g.op("Mul", rows, row_scale), g.const([0, 0, self.hidden], "int64", "shape"))

    def logits(self, x: str) -> str:
        if not self.tied:
            return self.store.head(x, self.head, self.chunks)
        g = self.g
        table = g.op("Mul", g.op("Cast", EMBED_CODES, to=1), g.op("Cast", EMBED_SCALE, to=1))  # Q8_0's d * q
        table = g.op("Reshape", table, g.const([0, -1], "int64", "shape"))
        return g.op("MatMul", x, g.op("Transpose", table, perm=[1, 0]))


class NibblePlanes(TokenTable):
    """A tied Q8_0 table for "nbits": stored once, as the lm_head's two 4-bit MatMulNBits weights (high and
    low nibbles, packed [V, kb, block/2], one initializer per head chunk); embedding rows are gathered
    from the planes and put back together.

    Stored ready-made: folding the planes from int8 codes at load made int32 intermediates of 4x the
    table, more than wasm can allocate for a 128k-word vocabulary."""

    def _store_planes(self) -> None:
        g, table, chunks = self.g, self.table, self.chunks
        _check_q8_0(table)
        vocab, hidden = table.shape
        kb = hidden // table.block
        for plane, nibbles in ((HI_PLANE, table.codes >> 4), (LO_PLANE, table.codes & 0x0F)):
            packed = np.frombuffer(pack_uint4(nibbles), np.uint8).reshape(vocab, kb, table.block // 2)
            for i, (a, b) in enumerate(chunks):
                g.initializer(chunk_name(plane, chunks, i), packed[a:b])
        g.initializer(EMBED_SCALE, fp16_exact(table.scale).reshape(vocab, kb, 1))

    def embed(self, ids: str) -> str:
        """(code - 128) * scale for these ids. With the planes in chunks, each chunk gathers the ids it holds
        (others clamped to its row 0) and a Where keeps the right rows: small ops on seq rows, where a
        Concat would rebuild the whole table."""
        self._store_planes()
        g, table, chunks, hidden = self.g, self.table, self.chunks, self.hidden
        four = g.const(np.uint8(4), hint="four")
        low = g.const(np.uint8(15), hint="low_nibble")
        picks = []  # per chunk: (ids inside it as its own row numbers, [B, S, 1, 1] mask of those ids)
        for a, b in chunks[1:]:
            local = g.op("Sub", ids, g.const(np.int64(a), hint="chunk_start"))
            inside = g.op("And", g.op("GreaterOrEqual", local, g.const(np.int64(0), hint="zero")),
                          g.op("Less", local, g.const(np.int64(b - a), hint="chunk_rows")))
            safe = g.op("Where", inside, local, g.const(np.int64(0), hint="zero"))
            picks.append((safe, g.op("Unsqueeze", inside, g.const([-1, -2], "int64", "axes"))))

        def gather(plane: str) -> str:  # [B, S, kb, block/2] bytes of each id's row
            rows = g.op("Gather", chunk_name(plane, chunks, 0), ids if len(chunks) == 1 else
                        g.op("Min", ids, g.const(np.int64(chunks[0][1] - 1), hint="chunk_last")), axis=0)
            for i, (safe, mask) in enumerate(picks, start=1):
                rows = g.op("Where", mask, g.op("Gather", chunk_name(plane, chunks, i), safe, axis=0), rows)
            return rows

        def nibbles(plane: str) -> str:  # [B, S, kb, block/2] bytes -> [B, S, kb, block] nibbles, first in the low half
            packed = gather(plane)
            first = g.op("Unsqueeze", g.op("BitwiseAnd", packed, low), g.const([-1], "int64", "axes"))
            second = g.op("Unsqueeze", g.op("BitShift", packed, four, direction="RIGHT"), g.const([-1], "int64", "axes"))
            both = g.op("Concat", first, second, axis=-1)
            return g.op("Reshape", both, g.const([0, 0, hidden // table.block, table.block], "int64", "shape"))

        codes = g.op("BitwiseOr", g.op("BitShift", nibbles(HI_PLANE), four, direction="LEFT"), nibbles(LO_PLANE))
        signed = g.op("Sub", g.op("Cast", codes, to=1), g.const(np.float32(128), hint="q8_zero"))  # exact in float32
        row_scale = g.op("Gather", EMBED_SCALE, ids, axis=0)
        if fp16_exact(table.scale).dtype == np.float16:
            row_scale = g.op("Cast", row_scale, to=1)
        return g.op("Reshape", g.op("Mul", signed, row_scale), g.const([0, 0, hidden], "int64", "shape"))

    def logits(self, x: str) -> str:
        """Two 4-bit MatMulNBits over the planes per vocabulary chunk, logits concatenated."""
        g, table, chunks = self.g, self.table, self.chunks
        vocab, hidden = table.shape
        kb = hidden // table.block
        parts = []
        for i, (a, b) in enumerate(chunks):
            rows = b - a
            scale = EMBED_SCALE if len(chunks) == 1 else g.op(
                "Slice", EMBED_SCALE, g.const([a], "int64", "starts"), g.const([b], "int64", "ends"),
                g.const([0], "int64", "axes"))
            scale = g.op("Cast", g.op("Reshape", scale, g.const([-1], "int64", "shape")), to=1)  # folded at load
            zero_hi = g.initializer(chunk_name("lm_head.hi.zero", chunks, i), np.full(rows * ((kb + 1) // 2), 0x88, np.uint8))
            zero_lo = g.initializer(chunk_name("lm_head.lo.zero", chunks, i), np.zeros(rows * ((kb + 1) // 2), np.uint8))
            attrs = dict(domain=MS, K=hidden, N=rows, bits=4, block_size=table.block,
                         accuracy_level=self.store.accuracy_level)
            # the high nibble weighs 16: applied to the logits rather than folded into a second copy of the
            # scales (memory the size of the scales); exact either way, a power of two
            y_hi = g.op("Mul", g.op("MatMulNBits", x, chunk_name(HI_PLANE, chunks, i), scale, zero_hi, **attrs),
                        g.const(np.float32(16), hint="sixteen"))
            y_lo = g.op("MatMulNBits", x, chunk_name(LO_PLANE, chunks, i), scale, zero_lo, **attrs)
            parts.append(g.op("Add", y_hi, y_lo))
        return parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=-1)


class Int8Columns(TokenTable):
    """A tied table for "int8": one uint8 copy stored [hidden, vocab] (the head's B as the integer GEMM
    takes it) with a scale and a zero point per token; embedding rows are gathered from its columns. One stored copy:
    onnxruntime keeps it for the Gather beside the GEMM's packed copy, but a [vocab, hidden] second
    copy for the Gather would cost another 262 MB for Llama 3."""

    stored = False

    def _codes(self) -> tuple[str, str, str]:
        if not self.stored:
            codes, scale, zero = uint8_channels(self.table)
            self.g.initializer(EMBED_CODES, np.ascontiguousarray(codes.T))
            self.g.initializer(EMBED_SCALE, scale)
            self.g.initializer(EMBED_ZERO, zero)
            self.stored = True
        return EMBED_CODES, EMBED_SCALE, EMBED_ZERO

    def embed(self, ids: str) -> str:
        g = self.g
        codes, scale, zero = self._codes()
        cols = g.op("Cast", g.op("Gather", codes, ids, axis=1), to=1)  # [hidden, B, S]
        cols = g.op("Sub", cols, g.op("Cast", g.op("Gather", zero, ids, axis=0), to=1))
        rows = g.op("Mul", cols, g.op("Gather", scale, ids, axis=0))
        return g.op("Transpose", rows, perm=[1, 2, 0])

    def logits(self, x: str) -> str:
        return self.store.int8_matmul(x, *self._codes(), self.table.shape[1])


def token_table(store: WeightStore, weights: LlamaWeights, chunks: list[tuple[int, int]]) -> TokenTable:
    """The table for these weights in this storage mode: quantized tables stay quantized unless "fp32"."""
    table, tied = weights[EMBED], weights.lm_head() is weights[EMBED]
    if not isinstance(table, BlockQuantized) or store.mode == "fp32":
        return TokenTable(store, weights, chunks)
    if store.mode == "int8" and tied:
        return Int8Columns(store, weights, chunks)
    if store.mode == "nbits" and tied and table.bits == 8:
        return NibblePlanes(store, weights, chunks)
    return Q8Rows(store, weights, chunks)
