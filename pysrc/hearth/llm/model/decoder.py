"""A Llama decoder with a KV cache as one ONNX graph, built with `hearth.graph.Graph`.

Read top-down, as the model computes: its inputs, RMSNorm, rotary position embedding, attention, the
SwiGLU MLP, a block, then the whole model (embedding, blocks, final norm, logits). How each weight
matrix is stored (float32, 4-/8-bit blocks, MatMulNBits) is `layouts.py`'s business: this file asks it
for `store.linear(x, name, w)` and for the token table (embedding rows and the output head).

I/O follows the public onnx-community exports so the same generation loop runs either:
  inputs   input_ids int64 [batch, seq], attention_mask int64 [batch, past+seq],
           position_ids int64 [batch, seq], past_key_values.{i}.key/value float32 [batch, kv_heads, past, head_dim]
  outputs  logits float32 [batch, 1, vocab], present.{i}.key/value float32 [batch, kv_heads, past+seq, head_dim]
One deliberate difference: logits are computed for the LAST position only (onnx-community returns
[batch, seq, vocab]). Generation only ever reads the last row, and in a long prefill the other rows
would cost a seq x vocab x hidden matmul and a large output for nothing. The graph says so in its
metadata (`hearth.logits = last`).

The graph's bytes depend on the order values are created in (names are numbered as they are made), so
each function below creates them in the model's own order; tests/llm/test_decoder.py pins the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hearth.graph import Graph
from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.layouts import (
    LINEAR_CHUNK_BYTES,
    MS,
    DecoderError,
    WeightStore,
    concat_rows,
    head_chunks,
    token_table,
)
from hearth.llm.model.weights import FINAL_NORM, LlamaWeights, Matrix, as_float, layer_names

OPSET = 21  # Cast from uint4 needs 21
FLOAT_MIN = float(np.finfo(np.float32).min)


def io_names(config: LlamaConfig) -> tuple[list[str], list[str]]:
    """Input and output names, in graph order."""
    inputs = ["input_ids", "attention_mask", "position_ids"]
    outputs = ["logits"]
    for i in range(config.num_hidden_layers):
        inputs += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outputs += [f"present.{i}.key", f"present.{i}.value"]
    return inputs, outputs


def i64(g: Graph, values: list[int], hint: str = "shape") -> str:
    return g.const(values, "int64", hint)


def scalar(g: Graph, v: str) -> str:
    """A [1] value as a scalar."""
    return g.op("Squeeze", v, i64(g, [0], "axes"))


# ---------------------------------------------------------------- inputs, and what every layer shares per call


@dataclass
class Inputs:
    """The graph's inputs, and the per-call values every layer reads."""

    input_ids: str
    attention_mask: str
    position_ids: str
    past: list[tuple[str, str]]  # per layer: (key, value) [B, kv_heads, past, head_dim]
    inv_freq: str = ""  # rotary frequencies [head_dim / 2]
    seq: str = ""  # [1]: positions in this call
    total: str = ""  # [1]: past + seq
    key_pos: str = ""  # [T]: 0 .. total - 1


def declare_inputs(g: Graph, c: LlamaConfig) -> Inputs:
    input_ids = g.input("input_ids", "int64", ["batch_size", "sequence_length"])
    attention_mask = g.input("attention_mask", "int64", ["batch_size", "total_sequence_length"])
    position_ids = g.input("position_ids", "int64", ["batch_size", "sequence_length"])
    past = []
    for i in range(c.num_hidden_layers):
        shape = ["batch_size", c.num_key_value_heads, "past_sequence_length", c.head_dim]
        past.append((g.input(f"past_key_values.{i}.key", "float32", shape),
                     g.input(f"past_key_values.{i}.value", "float32", shape)))
    return Inputs(input_ids, attention_mask, position_ids, past)


def call_positions(g: Graph, c: LlamaConfig, x: Inputs) -> None:
    """The rotary frequencies, this call's lengths and its key positions, into `x`."""
    x.inv_freq = g.initializer("rope.inv_freq", c.inv_freq())
    x.seq = g.op("Shape", x.input_ids, start=1, end=2)
    x.total = g.op("Shape", x.attention_mask, start=1, end=2)
    x.key_pos = g.op("Range", g.const(0, "int64", "zero"), scalar(g, x.total), g.const(1, "int64", "one"))


# ---------------------------------------------------------------- RMSNorm


def rms_norm(g: Graph, x: str, weight: Matrix, eps: float, name: str) -> str:
    """x / sqrt(mean(x^2) + eps) * weight, in the exact pattern onnxruntime fuses into one
    SimplifiedLayerNormalization kernel."""
    var = g.op("ReduceMean", g.op("Pow", x, g.const(np.float32(2.0), hint="two")), i64(g, [-1], "axes"), keepdims=1)
    rms = g.op("Sqrt", g.op("Add", var, g.const(np.float32(eps), hint="eps")))
    return g.op("Mul", g.op("Div", x, rms), g.initializer(name, as_float(weight)))


# ---------------------------------------------------------------- attention (with its rotary embedding)


class PlainAttention:
    """Standard ONNX ops: any backend, any padding. RoPE in the rotate-half layout (Hugging Face's), a causal
    + padding mask, and grouped-query attention by broadcasting query groups against shared keys/values.

    Built once per graph: the constructor makes this call's cos/sin and mask, shared by every layer."""

    def __init__(self, g: Graph, c: LlamaConfig, x: Inputs) -> None:
        self.g, self.c = g, c
        freqs = g.op("Mul", g.op("Unsqueeze", g.op("Cast", x.position_ids, to=1), i64(g, [-1], "axes")), x.inv_freq)
        angles = g.op("Concat", freqs, freqs, axis=-1)  # [B, S, hd], rotate-half layout
        self.cos = g.op("Unsqueeze", g.op("Cos", angles), i64(g, [1], "axes"), name="rope.cos")  # [B, 1, S, hd]
        self.sin = g.op("Unsqueeze", g.op("Sin", angles), i64(g, [1], "axes"), name="rope.sin")
        past_len = g.op("Sub", x.total, x.seq)
        query_pos = g.op("Unsqueeze", g.op("Range", scalar(g, past_len), scalar(g, x.total), g.const(1, "int64", "one")),
                         i64(g, [1], "axes"))
        causal = g.op("LessOrEqual", x.key_pos, query_pos)  # [S, T]
        padding = g.op("Unsqueeze", g.op("Cast", x.attention_mask, to=9), i64(g, [1, 2, 3], "axes"))  # [B,1,1,1,T]
        self.allowed = g.op("And", causal, padding, name="attention.allowed")  # [B, 1, 1, S, T]
        self.masked = g.const(np.float32(FLOAT_MIN), hint="masked")
        self.scale = g.const(np.float32(c.head_dim ** -0.5), hint="attention.scale")

    def heads_first(self, x: str, n: int) -> str:
        """[B, S, n*hd] -> [B, n, S, hd]"""
        return self.g.op("Transpose", self.g.op("Reshape", x, i64(self.g, [0, 0, n, self.c.head_dim])), perm=[0, 2, 1, 3])

    def rope(self, x: str) -> str:
        g, hd = self.g, self.c.head_dim
        half = hd // 2
        x1 = g.op("Slice", x, i64(g, [0], "starts"), i64(g, [half], "ends"), i64(g, [-1], "axes"))
        x2 = g.op("Slice", x, i64(g, [half], "starts"), i64(g, [hd], "ends"), i64(g, [-1], "axes"))
        rotated = g.op("Concat", g.op("Neg", x2), x1, axis=-1)
        return g.op("Add", g.op("Mul", x, self.cos), g.op("Mul", rotated, self.sin))

    def __call__(self, q: str, k: str, v: str, past: tuple[str, str], i: int) -> tuple[str, str, str]:
        """(output [B, S, heads*hd], present key, present value) from q, k, v [B, S, n*hd]."""
        g, c = self.g, self.c
        heads, kv_heads, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        q = self.rope(self.heads_first(q, heads))
        k = g.op("Concat", past[0], self.rope(self.heads_first(k, kv_heads)), axis=2, name=f"present.{i}.key")
        v = g.op("Concat", past[1], self.heads_first(v, kv_heads), axis=2, name=f"present.{i}.value")
        # q [B, kv, groups, S, hd] against k, v [B, kv, 1, T, hd]
        q5 = g.op("Reshape", q, i64(g, [0, kv_heads, c.groups, -1, hd]))
        k5 = g.op("Unsqueeze", g.op("Transpose", k, perm=[0, 1, 3, 2]), i64(g, [2], "axes"))
        v5 = g.op("Unsqueeze", v, i64(g, [2], "axes"))
        scores = g.op("Mul", g.op("MatMul", q5, k5), self.scale)
        probs = g.op("Softmax", g.op("Where", self.allowed, scores, self.masked), axis=-1)
        attn = g.op("Reshape", g.op("MatMul", probs, v5), i64(g, [0, heads, -1, hd]))
        out = g.op("Reshape", g.op("Transpose", attn, perm=[0, 2, 1, 3]), i64(g, [0, 0, heads * hd]))
        return out, k, v


class GroupQueryAttention:
    """onnxruntime's com.microsoft RotaryEmbedding + GroupQueryAttention kernels (wasm, CPU and WebGPU have
    them, and WebGPU's are tuned). They read the attention mask as per-row lengths, so batches must be
    unpadded or right-padded.

    Built once per graph: the constructor makes the cos/sin tables for positions 0..T-1 and each row's
    key count - 1, as the kernels take them."""

    def __init__(self, g: Graph, c: LlamaConfig, x: Inputs) -> None:
        self.g, self.c, self.position_ids = g, c, x.position_ids
        table_pos = g.op("Unsqueeze", g.op("Cast", x.key_pos, to=1), i64(g, [1], "axes"))  # [T, 1]
        angles_table = g.op("Mul", table_pos, x.inv_freq)  # [T, hd/2]
        self.cos_cache, self.sin_cache = g.op("Cos", angles_table), g.op("Sin", angles_table)
        lengths = g.op("ReduceSum", x.attention_mask, i64(g, [1], "axes"), keepdims=0)
        self.seqlens_k = g.op("Cast", g.op("Sub", lengths, g.const(1, "int64", "one")), to=6)
        self.total_len = g.op("Cast", scalar(g, x.total), to=6)

    def __call__(self, q: str, k: str, v: str, past: tuple[str, str], i: int) -> tuple[str, str, str]:
        g, c = self.g, self.c
        rotary = dict(domain=MS, interleaved=0)
        tables = (self.position_ids, self.cos_cache, self.sin_cache)
        q = g.op("RotaryEmbedding", q, *tables, num_heads=c.num_attention_heads, **rotary)
        k = g.op("RotaryEmbedding", k, *tables, num_heads=c.num_key_value_heads, **rotary)
        return g.op("GroupQueryAttention", q, k, v, past[0], past[1], self.seqlens_k, self.total_len,
                    domain=MS, num_heads=c.num_attention_heads, kv_num_heads=c.num_key_value_heads,
                    scale=float(c.head_dim ** -0.5), outputs=3,
                    name=[f"layers.{i}.attention", f"present.{i}.key", f"present.{i}.value"])


ATTENTION = {"plain": PlainAttention, "gqa": GroupQueryAttention}


# ---------------------------------------------------------------- the MLP, a block


@dataclass
class Layers:
    """What every block reads: the graph, the shape, the weights and their storage, the attention."""

    g: Graph
    c: LlamaConfig
    weights: LlamaWeights
    store: WeightStore
    inputs: Inputs
    attend: PlainAttention | GroupQueryAttention
    fuse: bool = True  # q/k/v and gate/up as one matmul each, split after
    presents: list[tuple[str, str]] = field(default_factory=list)
    # LoRA branches kept beside the base weights: weight name -> (A [r, in], B [out, r] with the scaling in it)
    lora: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def linear(self, x: str, name: str, names: list[str], w: Matrix) -> str:
        """x through one stored matrix (the stacked rows of `names`), plus the LoRA branches of those weights:
        their A stacked into one down-projection, their B block-diagonal into one up-projection."""
        y = self.store.linear(x, name, w)
        pairs = [self.lora.get(n) for n in names]
        if not any(pairs):
            return y
        rows = [self.weights[n].shape[0] for n in names]
        k = self.weights[names[0]].shape[1]
        ranks = [p[0].shape[0] if p else 0 for p in pairs]
        a = np.zeros((sum(ranks), k), np.float32)
        b = np.zeros((sum(rows), sum(ranks)), np.float32)
        r0 = n0 = 0
        for p, r, n in zip(pairs, ranks, rows, strict=True):
            if p:
                a[r0:r0 + r], b[n0:n0 + n, r0:r0 + r] = p
            r0, n0 = r0 + r, n0 + n
        return self.g.op("Add", y, self.store.low_rank(x, name, a, b))

    def project(self, x: str, i: int, roles: tuple[str, ...], fused_name: str, sizes: list[int]) -> tuple[str, ...]:
        """x through layer i's `roles` projections: one matmul over their stacked rows when they are
        stored alike (then split), else one each."""
        n, p = layer_names(i), f"layers.{i}"
        mats = [self.weights[n[r]] for r in roles]
        joined = concat_rows(mats) if self.fuse else None
        if joined is not None:
            fused = self.linear(x, f"{p}.{fused_name}", [n[r] for r in roles], joined)
            return self.g.op("Split", fused, i64(self.g, sizes, "split"), axis=-1, outputs=len(roles))
        return tuple(self.linear(x, f"{p}.{r}_proj", [n[r]], w) for r, w in zip(roles, mats, strict=True))

    def mlp(self, x: str, i: int) -> str:
        """SwiGLU: down(silu(gate(x)) * up(x))."""
        g, inner = self.g, self.c.intermediate_size
        gate, up = self.project(x, i, ("gate", "up"), "gate_up_proj", [inner, inner])
        act = g.op("Mul", g.op("Mul", gate, g.op("Sigmoid", gate)), up)
        name = layer_names(i)["down"]
        return self.linear(act, f"layers.{i}.down_proj", [name], self.weights[name])

    def block(self, h: str, i: int) -> str:
        """h + attention(norm(h)), then + mlp(norm(h)); this layer's present key/value into `presents`."""
        g, c, n, p = self.g, self.c, layer_names(i), f"layers.{i}"
        x = rms_norm(g, h, self.weights[n["attn_norm"]], c.rms_norm_eps, f"{p}.input_layernorm")
        kv = c.num_key_value_heads * c.head_dim
        q, k, v = self.project(x, i, ("q", "k", "v"), "qkv_proj", [c.num_attention_heads * c.head_dim, kv, kv])
        attn, key, value = self.attend(q, k, v, self.inputs.past[i], i)
        self.presents.append((key, value))
        h = g.op("Add", h, self.linear(attn, f"{p}.o_proj", [n["o"]], self.weights[n["o"]]))
        x = rms_norm(g, h, self.weights[n["mlp_norm"]], c.rms_norm_eps, f"{p}.post_attention_layernorm")
        return g.op("Add", h, self.mlp(x, i))


# ---------------------------------------------------------------- the model


def build_decoder(weights: LlamaWeights, *, weights_mode: str = "unpacked", accuracy_level: int = 0,
                  fuse: bool = True, attention: str = "plain", head_chunk_rows: int | None = None,
                  linear_chunk_bytes: int = LINEAR_CHUNK_BYTES,
                  lora: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> bytes:
    """The decoder as ONNX bytes, ready for `hearth.runtime`.

    weights_mode: how weight matrices are stored ("fp32", "unpacked", "nbits"; see layouts.py).
    attention: "plain" ONNX ops or "gqa" kernels (see PlainAttention, GroupQueryAttention).
    head_chunk_rows: vocabulary rows per MatMulNBits of an "nbits" lm_head (default: see `head_chunks`);
    linear_chunk_bytes: the float32 size of each other "nbits" layer's MatMulNBits (see `row_chunks`).
    lora: LoRA branches run beside the base weights, y = x W^T + (x A^T) B^T, by weight name -> (A [r, in],
    B [out, r] already multiplied by the adapter's scaling); `hearth.llm.files.lora.branches` makes them.
    """
    if attention not in ATTENTION:
        raise DecoderError(f"attention {attention!r} is not one of {', '.join(ATTENTION)}")
    c = weights.config
    g = Graph("llama_decoder")
    store = WeightStore(g, weights_mode, accuracy_level, linear_chunk_bytes)
    inputs = declare_inputs(g, c)

    tokens = token_table(store, weights, head_chunks(c.vocab_size, c.hidden_size, head_chunk_rows))
    h = tokens.embed(inputs.input_ids)
    call_positions(g, c, inputs)
    layers = Layers(g, c, weights, store, inputs, ATTENTION[attention](g, c, inputs), fuse, lora=lora or {})
    for i in range(c.num_hidden_layers):
        h = layers.block(h, i)

    # logits for the last position only
    last = g.op("Slice", h, i64(g, [-1], "starts"), i64(g, [np.iinfo(np.int64).max], "ends"), i64(g, [1], "axes"))
    logits = tokens.logits(rms_norm(g, last, weights[FINAL_NORM], c.rms_norm_eps, "norm"))

    g.output(logits, "float32", ["batch_size", 1, c.vocab_size], name="logits")
    for k, v in layers.presents:
        shape = ["batch_size", c.num_key_value_heads, "total_sequence_length", c.head_dim]
        g.output(k, "float32", shape)
        g.output(v, "float32", shape)
    metadata = {"hearth.logits": "last", "hearth.weights": weights_mode, "hearth.architecture": "llama"}
    return g.to_bytes(opset=OPSET, metadata=metadata)
