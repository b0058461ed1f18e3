"""A Llama decoder with a KV cache as one ONNX graph, built with `hearth.graph.Graph`.

Read top-down: the I/O contract, how weight matrices become graph values (three storage modes),
then the model itself (embedding, layers of RMSNorm -> attention -> RMSNorm -> SwiGLU MLP, final
norm, logits).

I/O follows the public onnx-community exports so the same generation loop runs either:
  inputs   input_ids int64 [batch, seq], attention_mask int64 [batch, past+seq],
           position_ids int64 [batch, seq], past_key_values.{i}.key/value float32 [batch, kv_heads, past, head_dim]
  outputs  logits float32 [batch, 1, vocab], present.{i}.key/value float32 [batch, kv_heads, past+seq, head_dim]
One deliberate difference: logits are computed for the LAST position only (onnx-community returns
[batch, seq, vocab]). Generation only ever reads the last row, and in a 1,000-token prefill the
other 999 rows cost a 1,000 x vocab x hidden matmul and a 200 MB output for nothing. The graph says
so in its metadata (`hearth.logits = last`).

Weight storage modes (`weights=`):
  "fp32"      float32 initializers. The reference; 4 bytes a weight on disk and in memory.
  "unpacked"  4-/8-bit block codes and float16 scales on disk, expanded to float32 by plain ops
              (Cast, Sub, Mul, Add) whose inputs are all initializers, so onnxruntime folds them
              once when the session loads. Small download, float32 speed on every backend, and the
              floats equal the source's dequantized weights bit for bit (same operation order).
  "nbits"     com.microsoft MatMulNBits (4-bit blocks of 32). Smallest in memory and fast on x86 and
              WebGPU, but onnxruntime-web's wasm build has no MatMulNBits kernel of its own and
              dequantizes each call (measured ~4x slower than float32 there). So each weight is
              split by output rows into MatMulNBits of at most LINEAR_CHUNK_BYTES as float32
              (outputs concatenated; the same numbers up to float rounding, since a one-token
              kernel may sum a narrower weight in another order): the expansion stays small.
GGUF Q4_1 blocks carry a float minimum (w = d*q + m), which MatMulNBits's integer zero points cannot
hold, and its float zero points take a slow path on every backend; so "nbits" runs them as
MatMulNBits(x, q, d) + blocksum(x) @ m, which is exact algebra.
"""

from __future__ import annotations

import numpy as np

from hearth.graph import Graph
from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.weights import EMBED, FINAL_NORM, BlockQuantized, LlamaWeights, Matrix, as_float, layer_names

OPSET = 21  # Cast from uint4 needs 21
WEIGHT_MODES = ("fp32", "unpacked", "nbits")
ATTENTION_KINDS = ("plain", "gqa")
# "nbits" rows per MatMulNBits. On onnxruntime-web's wasm (Node, 1 thread) a 2,048 x 16,384 MatMulNBits
# for one token took 101 ms whole (128 MB expanded per call), 65 ms as 16 of 8 MB, 60 ms as 64 of 2 MB;
# but session creation grows with the node count (1B-shaped: 2.6 s whole, 2.9 s at 8 MB, 8.2 s at 2 MB).
LINEAR_CHUNK_BYTES = 8 << 20
MS = "com.microsoft"
FLOAT_MIN = float(np.finfo(np.float32).min)


class DecoderError(ValueError):
    """A decoder that cannot be built from these weights with these options."""


def io_names(config: LlamaConfig) -> tuple[list[str], list[str]]:
    """Input and output names, in graph order."""
    inputs = ["input_ids", "attention_mask", "position_ids"]
    outputs = ["logits"]
    for i in range(config.num_hidden_layers):
        inputs += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outputs += [f"present.{i}.key", f"present.{i}.value"]
    return inputs, outputs


# ---------------------------------------------------------------- weights as graph values


def _fp16_exact(a: np.ndarray) -> np.ndarray:
    """float16 when that loses nothing (GGUF scales are float16 already), else float32."""
    half = a.astype(np.float16)
    return half if np.array_equal(half.astype(np.float32), a.astype(np.float32)) else a.astype(np.float32)


def _pack_uint4(codes: np.ndarray) -> bytes:
    """Pairs of 4-bit values into bytes, first value in the low nibble (ONNX uint4 and MatMulNBits order)."""
    flat = codes.reshape(-1)
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.uint8)])
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()


class _Weights:
    """Turns weight matrices into graph values in the chosen storage mode."""

    def __init__(self, g: Graph, mode: str, accuracy_level: int, chunk_bytes: int = LINEAR_CHUNK_BYTES) -> None:
        if mode not in WEIGHT_MODES:
            raise DecoderError(f"weights mode {mode!r} is not one of {', '.join(WEIGHT_MODES)}")
        self.g, self.mode, self.accuracy_level = g, mode, accuracy_level
        self.chunk_bytes = chunk_bytes  # "nbits": rows per MatMulNBits (see row_chunks)

    def _scale(self, name: str, a: np.ndarray, shape: tuple[int, ...]) -> str:
        """A per-block float array as a float32 value (stored float16 when exact, cast at load)."""
        stored = _fp16_exact(a).reshape(shape)
        value = self.g.initializer(name, stored)
        return self.g.op("Cast", value, to=1) if stored.dtype == np.float16 else value

    def _unpacked_kn(self, name: str, w: BlockQuantized) -> str:
        """float32 [K, N] from codes laid out [K/block, block, N]: folded to one initializer at load."""
        g = self.g
        n, k = w.shape
        kb = k // w.block
        codes = np.ascontiguousarray(w.codes.reshape(n, kb, w.block).transpose(1, 2, 0))
        if w.bits == 4:
            stored = g.packed_initializer(f"{name}.codes", _pack_uint4(codes), list(codes.shape), "uint4")
        elif w.bits == 8 and w.offset is None and np.all(w.zeros() == 128):
            stored = g.initializer(f"{name}.codes", (codes.astype(np.int16) - 128).astype(np.int8))
        else:
            stored = g.initializer(f"{name}.codes", codes)
        x = g.op("Cast", stored, to=1)
        blocks = (kb, 1, n)
        if w.offset is None and not (w.bits == 8 and np.all(w.zeros() == 128)) and np.any(w.zeros()):
            x = g.op("Sub", x, g.op("Cast", g.initializer(f"{name}.zero", w.zeros().T.reshape(blocks)), to=1))
        x = g.op("Mul", x, self._scale(f"{name}.scale", w.scale.T, blocks))
        if w.offset is not None:
            x = g.op("Add", x, self._scale(f"{name}.offset", w.offset.T, blocks))
        return g.op("Reshape", x, g.const([k, n], "int64"))

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
        parts = [self._matmul_nbits(x, _chunk_name(name, chunks, i), w.take_rows(np.arange(a, b)))
                 for i, (a, b) in enumerate(chunks)]
        y = parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=-1)
        if w.offset is not None:
            sums = g.op("ReduceSum", g.op("Reshape", x, g.const([0, 0, kb, w.block], "int64")),
                        g.const([-1], "int64"), keepdims=0)
            y = g.op("Add", y, g.op("MatMul", sums, g.initializer(f"{name}.min", w.offset.T.astype(np.float32).copy())))
        return y

    def _matmul_nbits(self, x: str, name: str, w: BlockQuantized) -> str:
        """One MatMulNBits over 4-bit blocks (zero points stored only when some differ from 8)."""
        g = self.g
        n, k = w.shape
        kb = k // w.block
        packed = np.frombuffer(_pack_uint4(w.codes), np.uint8).reshape(n, kb, w.block // 2)
        scale = g.initializer(f"{name}.scale", w.scale.astype(np.float32).reshape(-1))
        inputs = [x, g.initializer(f"{name}.q4", packed), scale]
        zeros = w.zeros()
        if w.offset is not None or np.any(zeros != 8):
            padded = np.concatenate([zeros, np.zeros((n, kb % 2), np.uint8)], axis=1) if kb % 2 else zeros
            inputs.append(g.initializer(f"{name}.zero", np.frombuffer(_pack_uint4(padded), np.uint8).copy()))
        return g.op("MatMulNBits", *inputs, domain=MS, K=k, N=n, bits=4, block_size=w.block,
                    accuracy_level=self.accuracy_level)

    def linear(self, x: str, name: str, w: Matrix) -> str:
        """x [..., K] @ w.T, w given [N, K] as in Hugging Face."""
        g = self.g
        if self.mode == "fp32" or not isinstance(w, BlockQuantized):
            return g.op("MatMul", x, g.initializer(name, np.ascontiguousarray(as_float(w).T)))
        if self.mode == "unpacked":
            return g.op("MatMul", x, self._unpacked_kn(name, w))
        return self._nbits(x, name, w)


def _concat_rows(parts: list[Matrix]) -> Matrix | None:
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


# ---------------------------------------------------------------- the model


def build_decoder(weights: LlamaWeights, *, weights_mode: str = "unpacked", accuracy_level: int = 0,
                  fuse: bool = True, attention: str = "plain", head_chunk_rows: int | None = None,
                  linear_chunk_bytes: int = LINEAR_CHUNK_BYTES) -> bytes:
    """The decoder as ONNX bytes, ready for `hearth.runtime`.

    attention="plain": standard ONNX ops (any backend, any padding). attention="gqa": onnxruntime's
    com.microsoft RotaryEmbedding + GroupQueryAttention kernels (wasm, CPU and WebGPU have them);
    they read the attention mask as per-row lengths, so batches must be unpadded or right-padded.
    head_chunk_rows: vocabulary rows per MatMulNBits of an "nbits" lm_head (default: see `head_chunks`);
    linear_chunk_bytes: the float32 size of each other "nbits" layer's MatMulNBits (see `row_chunks`).
    """
    if attention not in ATTENTION_KINDS:
        raise DecoderError(f"attention {attention!r} is not one of {', '.join(ATTENTION_KINDS)}")
    c = weights.config
    g = Graph("llama_decoder")
    w = _Weights(g, weights_mode, accuracy_level, linear_chunk_bytes)
    heads, kv_heads, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
    def i64(values: list[int], hint: str = "shape") -> str:
        return g.const(values, "int64", hint)

    input_ids = g.input("input_ids", "int64", ["batch_size", "sequence_length"])
    attention_mask = g.input("attention_mask", "int64", ["batch_size", "total_sequence_length"])
    position_ids = g.input("position_ids", "int64", ["batch_size", "sequence_length"])
    past = []
    for i in range(c.num_hidden_layers):
        shape = ["batch_size", kv_heads, "past_sequence_length", hd]
        past.append((g.input(f"past_key_values.{i}.key", "float32", shape),
                     g.input(f"past_key_values.{i}.value", "float32", shape)))

    # -- embedding: a row gather; quantized tables stay quantized (only seq rows are expanded per call)
    embed = weights[EMBED]
    head = weights.lm_head()
    nibble_planes = (isinstance(embed, BlockQuantized) and weights_mode == "nbits" and head is embed
                     and embed.bits == 8)
    chunks = head_chunks(c.vocab_size, c.hidden_size, head_chunk_rows)
    if nibble_planes:  # the tied table stored once, as the lm_head's two 4-bit planes; rows gathered from them
        h = _nibble_plane_gather(g, embed, input_ids, c.hidden_size, chunks)
    elif isinstance(embed, BlockQuantized) and weights_mode != "fp32":
        h = _quantized_gather(g, embed, input_ids, c.hidden_size)
    else:
        table = g.initializer(EMBED, as_float(embed))
        h = g.op("Gather", table, input_ids, axis=0)

    # -- shared per call: RoPE angles for these positions, and the causal + padding mask
    inv_freq = g.initializer("rope.inv_freq", c.inv_freq())
    seq = g.op("Shape", input_ids, start=1, end=2)
    total = g.op("Shape", attention_mask, start=1, end=2)

    def scalar(v: str) -> str:
        return g.op("Squeeze", v, i64([0], "axes"))

    key_pos = g.op("Range", g.const(0, "int64", "zero"), scalar(total), g.const(1, "int64", "one"))
    if attention == "plain":
        freqs = g.op("Mul", g.op("Unsqueeze", g.op("Cast", position_ids, to=1), i64([-1], "axes")), inv_freq)
        angles = g.op("Concat", freqs, freqs, axis=-1)  # [B, S, hd], rotate-half layout
        cos = g.op("Unsqueeze", g.op("Cos", angles), i64([1], "axes"), name="rope.cos")  # [B, 1, S, hd]
        sin = g.op("Unsqueeze", g.op("Sin", angles), i64([1], "axes"), name="rope.sin")
        past_len = g.op("Sub", total, seq)
        query_pos = g.op("Unsqueeze", g.op("Range", scalar(past_len), scalar(total), g.const(1, "int64", "one")),
                         i64([1], "axes"))
        causal = g.op("LessOrEqual", key_pos, query_pos)  # [S, T]
        padding = g.op("Unsqueeze", g.op("Cast", attention_mask, to=9), i64([1, 2, 3], "axes"))  # [B,1,1,1,T]
        allowed = g.op("And", causal, padding, name="attention.allowed")  # [B, 1, 1, S, T]
        masked = g.const(np.float32(FLOAT_MIN), hint="masked")
        scale = g.const(np.float32(hd ** -0.5), hint="attention.scale")
    else:  # cos/sin tables for positions 0..T-1, and each row's key count - 1, as GroupQueryAttention takes them
        table_pos = g.op("Unsqueeze", g.op("Cast", key_pos, to=1), i64([1], "axes"))  # [T, 1]
        angles_table = g.op("Mul", table_pos, inv_freq)  # [T, hd/2]
        cos_cache, sin_cache = g.op("Cos", angles_table), g.op("Sin", angles_table)
        lengths = g.op("ReduceSum", attention_mask, i64([1], "axes"), keepdims=0)
        seqlens_k = g.op("Cast", g.op("Sub", lengths, g.const(1, "int64", "one")), to=6)
        total_len = g.op("Cast", scalar(total), to=6)

    def rms_norm(x: str, weight: Matrix, name: str) -> str:
        """In the exact pattern onnxruntime fuses into one SimplifiedLayerNormalization kernel."""
        var = g.op("ReduceMean", g.op("Pow", x, g.const(np.float32(2.0), hint="two")), i64([-1], "axes"), keepdims=1)
        rms = g.op("Sqrt", g.op("Add", var, g.const(np.float32(c.rms_norm_eps), hint="eps")))
        return g.op("Mul", g.op("Div", x, rms), g.initializer(name, as_float(weight)))

    def heads_first(x: str, n: int) -> str:
        """[B, S, n*hd] -> [B, n, S, hd]"""
        return g.op("Transpose", g.op("Reshape", x, i64([0, 0, n, hd])), perm=[0, 2, 1, 3])

    def rope(x: str) -> str:
        half = hd // 2
        x1 = g.op("Slice", x, i64([0], "starts"), i64([half], "ends"), i64([-1], "axes"))
        x2 = g.op("Slice", x, i64([half], "starts"), i64([hd], "ends"), i64([-1], "axes"))
        rotated = g.op("Concat", g.op("Neg", x2), x1, axis=-1)
        return g.op("Add", g.op("Mul", x, cos), g.op("Mul", rotated, sin))

    presents: list[tuple[str, str]] = []

    def plain_attention(q: str, k: str, v: str, i: int) -> str:
        """[B, S, heads*hd] out of q, k, v [B, S, n*hd]; appends this layer's present key/value."""
        q = rope(heads_first(q, heads))
        k = g.op("Concat", past[i][0], rope(heads_first(k, kv_heads)), axis=2, name=f"present.{i}.key")
        v = g.op("Concat", past[i][1], heads_first(v, kv_heads), axis=2, name=f"present.{i}.value")
        presents.append((k, v))
        # grouped-query attention by broadcasting: q [B, kv, groups, S, hd] against k, v [B, kv, 1, T, hd]
        q5 = g.op("Reshape", q, i64([0, kv_heads, c.groups, -1, hd]))
        k5 = g.op("Unsqueeze", g.op("Transpose", k, perm=[0, 1, 3, 2]), i64([2], "axes"))
        v5 = g.op("Unsqueeze", v, i64([2], "axes"))
        scores = g.op("Mul", g.op("MatMul", q5, k5), scale)
        probs = g.op("Softmax", g.op("Where", allowed, scores, masked), axis=-1)
        attn = g.op("Reshape", g.op("MatMul", probs, v5), i64([0, heads, -1, hd]))
        return g.op("Reshape", g.op("Transpose", attn, perm=[0, 2, 1, 3]), i64([0, 0, heads * hd]))

    for i in range(c.num_hidden_layers):
        n = layer_names(i)
        p = f"layers.{i}"
        # -- attention
        x = rms_norm(h, weights[n["attn_norm"]], f"{p}.input_layernorm")
        qkv = _concat_rows([weights[n["q"]], weights[n["k"]], weights[n["v"]]]) if fuse else None
        if qkv is not None:
            sizes = [heads * hd, kv_heads * hd, kv_heads * hd]
            q, k, v = g.op("Split", w.linear(x, f"{p}.qkv_proj", qkv), i64(sizes, "split"), axis=-1, outputs=3)
        else:
            q, k, v = (w.linear(x, f"{p}.{r}_proj", weights[n[r]]) for r in ("q", "k", "v"))
        if attention == "gqa":
            rotary = dict(domain=MS, interleaved=0)
            q = g.op("RotaryEmbedding", q, position_ids, cos_cache, sin_cache, num_heads=heads, **rotary)
            k = g.op("RotaryEmbedding", k, position_ids, cos_cache, sin_cache, num_heads=kv_heads, **rotary)
            attn, k, v = g.op("GroupQueryAttention", q, k, v, past[i][0], past[i][1], seqlens_k, total_len,
                              domain=MS, num_heads=heads, kv_num_heads=kv_heads, scale=float(hd ** -0.5),
                              outputs=3, name=[f"{p}.attention", f"present.{i}.key", f"present.{i}.value"])
            presents.append((k, v))
        else:
            attn = plain_attention(q, k, v, i)
        h = g.op("Add", h, w.linear(attn, f"{p}.o_proj", weights[n["o"]]))
        # -- SwiGLU MLP
        x = rms_norm(h, weights[n["mlp_norm"]], f"{p}.post_attention_layernorm")
        gate_up = _concat_rows([weights[n["gate"]], weights[n["up"]]]) if fuse else None
        if gate_up is not None:
            sizes = [c.intermediate_size, c.intermediate_size]
            gate, up = g.op("Split", w.linear(x, f"{p}.gate_up_proj", gate_up), i64(sizes, "split"), axis=-1,
                            outputs=2)
        else:
            gate, up = w.linear(x, f"{p}.gate_proj", weights[n["gate"]]), w.linear(x, f"{p}.up_proj", weights[n["up"]])
        act = g.op("Mul", g.op("Mul", gate, g.op("Sigmoid", gate)), up)
        h = g.op("Add", h, w.linear(act, f"{p}.down_proj", weights[n["down"]]))

    # -- logits for the last position only
    last = g.op("Slice", h, i64([-1], "starts"), i64([np.iinfo(np.int64).max], "ends"), i64([1], "axes"))
    last = rms_norm(last, weights[FINAL_NORM], "norm")
    if isinstance(head, BlockQuantized) and weights_mode == "unpacked" and head is embed:
        logits = g.op("MatMul", last, _tied_unpacked_kn(g, w))
    elif nibble_planes:
        logits = _tied_nbits(g, w, last, head, chunks)
    elif head is embed and not isinstance(head, BlockQuantized):
        # a transposed copy folded at load: Gemm(transB=1) on the shared table ran ~3x slower on wasm
        logits = g.op("MatMul", last, g.op("Transpose", table, perm=[1, 0]))
    elif isinstance(head, BlockQuantized) and weights_mode == "nbits" and len(chunks) > 1:
        parts = [w.linear(last, f"lm_head.{i}", head.take_rows(np.arange(a, b))) for i, (a, b) in enumerate(chunks)]
        logits = g.op("Concat", *parts, axis=-1)
    else:
        logits = w.linear(last, "lm_head", head)
    g.output(logits, "float32", ["batch_size", 1, c.vocab_size], name="logits")
    for k, v in presents:
        shape = ["batch_size", kv_heads, "total_sequence_length", hd]
        g.output(k, "float32", shape)
        g.output(v, "float32", shape)
    metadata = {"hearth.logits": "last", "hearth.weights": weights_mode, "hearth.architecture": "llama"}
    return g.to_bytes(opset=OPSET, metadata=metadata)


# ---------------------------------------------------------------- quantized embedding tables

EMBED_CODES, EMBED_SCALE = "embed_tokens.codes", "embed_tokens.scale"


def _quantized_gather(g: Graph, table: BlockQuantized, ids: str, hidden: int) -> str:
    """Rows of an 8-bit block table, expanded after the gather: only seq x hidden floats per call."""
    if table.bits != 8 or table.offset is not None or not np.all(table.zeros() == 128):
        raise DecoderError("quantized embeddings must be symmetric 8-bit blocks (Q8_0); requantize with quantize_q8")
    vocab = table.shape[0]
    kb = hidden // table.block
    signed = (table.codes.astype(np.int16) - 128).astype(np.int8)
    codes = g.initializer(EMBED_CODES, signed.reshape(vocab, kb, table.block))
    stored = _fp16_exact(table.scale).reshape(vocab, kb, 1)
    scale = g.initializer(EMBED_SCALE, stored)
    rows = g.op("Cast", g.op("Gather", codes, ids, axis=0), to=1)  # [B, S, kb, block]
    row_scale = g.op("Gather", scale, ids, axis=0)
    if stored.dtype == np.float16:
        row_scale = g.op("Cast", row_scale, to=1)
    return g.op("Reshape", g.op("Mul", rows, row_scale), g.const([0, 0, hidden], "int64", "shape"))


def _tied_unpacked_kn(g: Graph, w: _Weights) -> str:
    """The tied lm_head [hidden, vocab] in float32, folded at load from the embedding's own codes."""
    codes = g.op("Cast", EMBED_CODES, to=1)
    scale = g.op("Cast", EMBED_SCALE, to=1)
    table = g.op("Mul", codes, scale)  # [V, kb, block], same order as Q8_0's d * q
    table = g.op("Reshape", table, g.const([0, -1], "int64", "shape"))
    return g.op("Transpose", table, perm=[1, 0])


HI_PLANE, LO_PLANE = "embed_tokens.hi4", "embed_tokens.lo4"
HEAD_CHUNK_BYTES = 8 << 20


def row_chunks(rows: int, cols: int, budget: int) -> list[tuple[int, int]]:
    """Row ranges [start, end) of a [rows, cols] weight whose float32 expansion is at most `budget` bytes."""
    step = max(1, budget // (cols * 4))
    return [(a, min(a + step, rows)) for a in range(0, rows, step)]


def head_chunks(vocab: int, hidden: int, rows: int | None = None) -> list[tuple[int, int]]:
    """Vocabulary row ranges [start, end) of an "nbits" lm_head, one MatMulNBits each.

    onnxruntime-web's wasm MatMulNBits expands its whole weight to float32 on every call: 1.05 GB for
    Llama 3's 128,256 x 2,048 head. In chunks of HEAD_CHUNK_BYTES (1,024 rows there) one chunk is
    expanded at a time, in cache; logits are the same numbers (each vocabulary column is its own dot
    product). Larger than LINEAR_CHUNK_BYTES because a tied head's embedding rows are gathered from
    every chunk (a Gather and a Where each). SmolLM2's head: 14 chunks."""
    return [(a, min(a + rows, vocab)) for a in range(0, vocab, rows)] if rows else row_chunks(
        vocab, hidden, HEAD_CHUNK_BYTES)


def _chunk_name(name: str, chunks: list[tuple[int, int]], i: int) -> str:
    """The initializer name of chunk `i`: the plain name when the head is one chunk."""
    return name if len(chunks) == 1 else f"{name}.{i}"


def _check_q8_0(table: BlockQuantized) -> None:
    if table.bits != 8 or table.offset is not None or not np.all(table.zeros() == 128):
        raise DecoderError("quantized embeddings must be symmetric 8-bit blocks (Q8_0); requantize with quantize_q8")


def _nibble_planes(g: Graph, table: BlockQuantized, chunks: list[tuple[int, int]]) -> None:
    """The 8-bit codes as two MatMulNBits weights (high and low nibbles, packed [V, kb, block/2]),
    one initializer per lm_head chunk.

    Stored ready-made: folding them from int8 codes at load made int32 intermediates of 4x the
    table (over 2 GB for a 128k x 2048 table, more than wasm can allocate)."""
    _check_q8_0(table)
    vocab, hidden = table.shape
    kb = hidden // table.block
    for plane, nibbles in ((HI_PLANE, table.codes >> 4), (LO_PLANE, table.codes & 0x0F)):
        packed = np.frombuffer(_pack_uint4(nibbles), np.uint8).reshape(vocab, kb, table.block // 2)
        for i, (a, b) in enumerate(chunks):
            g.initializer(_chunk_name(plane, chunks, i), packed[a:b])
    g.initializer(EMBED_SCALE, _fp16_exact(table.scale).reshape(vocab, kb, 1))


def _nibble_plane_gather(g: Graph, table: BlockQuantized, ids: str, hidden: int,
                         chunks: list[tuple[int, int]]) -> str:
    """Embedding rows out of the two nibble planes: gather seq rows, unpack, (code - 128) * scale.
    With the planes in chunks, each chunk gathers the ids it holds (others clamped to its row 0) and
    a Where keeps the right rows: small ops on seq rows, where a Concat would rebuild the whole table."""
    _nibble_planes(g, table, chunks)
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
        rows = g.op("Gather", _chunk_name(plane, chunks, 0), ids if len(chunks) == 1 else
                    g.op("Min", ids, g.const(np.int64(chunks[0][1] - 1), hint="chunk_last")), axis=0)
        for i, (safe, mask) in enumerate(picks, start=1):
            rows = g.op("Where", mask, g.op("Gather", _chunk_name(plane, chunks, i), safe, axis=0), rows)
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
    if _fp16_exact(table.scale).dtype == np.float16:
        row_scale = g.op("Cast", row_scale, to=1)
    return g.op("Reshape", g.op("Mul", signed, row_scale), g.const([0, 0, hidden], "int64", "shape"))


def _tied_nbits(g: Graph, w: _Weights, x: str, table: BlockQuantized, chunks: list[tuple[int, int]]) -> str:
    """The tied 8-bit lm_head as two 4-bit MatMulNBits over the nibble planes the embedding is gathered
    from, per vocabulary chunk, logits concatenated."""
    vocab, hidden = table.shape
    kb = hidden // table.block
    parts = []
    for i, (a, b) in enumerate(chunks):
        rows = b - a
        scale = EMBED_SCALE if len(chunks) == 1 else g.op(
            "Slice", EMBED_SCALE, g.const([a], "int64", "starts"), g.const([b], "int64", "ends"),
            g.const([0], "int64", "axes"))
        scale = g.op("Cast", g.op("Reshape", scale, g.const([-1], "int64", "shape")), to=1)  # folded at load
        zero_hi = g.initializer(_chunk_name("lm_head.hi.zero", chunks, i), np.full(rows * ((kb + 1) // 2), 0x88, np.uint8))
        zero_lo = g.initializer(_chunk_name("lm_head.lo.zero", chunks, i), np.zeros(rows * ((kb + 1) // 2), np.uint8))
        attrs = dict(domain=MS, K=hidden, N=rows, bits=4, block_size=table.block, accuracy_level=w.accuracy_level)
        # the high nibble weighs 16: applied to the logits, not folded into a second copy of the scales
        # (32 MB for Llama 3's head); exact either way, a power of two
        y_hi = g.op("Mul", g.op("MatMulNBits", x, _chunk_name(HI_PLANE, chunks, i), scale, zero_hi, **attrs),
                    g.const(np.float32(16), hint="sixteen"))
        y_lo = g.op("MatMulNBits", x, _chunk_name(LO_PLANE, chunks, i), scale, zero_lo, **attrs)
        parts.append(g.op("Add", y_hi, y_lo))
    return parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=-1)
