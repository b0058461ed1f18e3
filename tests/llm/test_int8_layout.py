"""The "int8" weights mode: uint8 weights with a scale and zero point per row, 8-bit activations per token,
onnxruntime's integer GEMM (MatMulInteger).

Approximate by design, so these tests bound its error against the float graph of the very same block
weights instead of asking for equal bits; models/README.md has what it does to real greedy tokens
(SmolLM2, `models/int8_fidelity.py`) and its speed on wasm.
"""

from __future__ import annotations

import numpy as np
import onnx

from hearth.graph import Graph
from hearth.llm.model.decoder import OPSET, build_decoder
from hearth.llm.model.layouts import UINT8_STEPS, WeightStore, uint8_channels
from tests.llm.model_fixtures import empty_cache, run, session, tiny_hf_config, torch_llama, weights_of
from tests.llm.test_decoder import quantized


def test_codes_use_255_steps_between_each_rows_minimum_and_maximum():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.02, (40, 64)).astype(np.float32)
    w[3, 5] = 0.5  # an outlier sets its row's step only
    codes, scale, zero = uint8_channels(w)
    assert codes.dtype == zero.dtype == np.uint8 and codes.max() == UINT8_STEPS == 255 and codes.min() == 0
    span = np.maximum(w.max(axis=1), 0) - np.minimum(w.min(axis=1), 0)
    np.testing.assert_allclose(scale, span / 255, rtol=1e-6)
    back = (codes.astype(np.float32) - zero[:, None]) * scale[:, None]
    assert np.all(np.abs(back - w) <= scale[:, None] * (0.5 + 1e-3))  # half a step, and a zero point's rounding
    np.testing.assert_array_equal(uint8_channels(np.zeros((2, 8), np.float32))[0], 0)
    positive = uint8_channels(np.full((1, 8), 0.25, np.float32))
    assert positive[2][0] == 0 and np.allclose((positive[0] - 0.0) * positive[1][0], 0.25, rtol=1e-2)


def test_onnxruntime_computes_each_tokens_integer_product_exactly():
    """Every code is 0..255 on both sides (no int16 pair sums to saturate on x86 without VNNI), and each
    token is rounded on its own scale: a token a thousand times larger leaves the others' steps alone."""
    rng = np.random.default_rng(1)
    k, n = 256, 48
    w = rng.normal(size=(n, k)).astype(np.float32)
    codes, scale, zero = uint8_channels(w)
    x = rng.normal(size=(1, 3, k)).astype(np.float32)
    x[0, 0] *= 1000  # the first token of a prompt often is
    g = Graph("int8")
    xin = g.input("x", "float32", [1, 3, k])
    y = WeightStore(g, "int8").int8_matmul(xin, g.initializer("B", np.ascontiguousarray(codes.T)),
                                           g.initializer("s", scale), g.initializer("z", zero), k)
    g.output(y, "float32", [1, 3, n], name="y")
    got = session(g.to_bytes(opset=OPSET)).run(None, {"x": x})[0]
    rows = x.reshape(3, k)
    step = np.abs(rows).max(axis=1, keepdims=True) / 127
    xq = np.rint(rows / step).astype(np.int64)
    expected = (xq @ (codes.astype(np.int64) - zero[:, None]).T) * step * scale
    np.testing.assert_allclose(got.reshape(3, n), expected, rtol=1e-5, atol=1e-4 * np.abs(expected).max())
    exact = rows @ ((codes.astype(np.float32) - zero[:, None]) * scale[:, None]).T
    for t in (1, 2):  # the small tokens keep their own precision beside the huge one
        assert np.abs(got.reshape(3, n)[t] - exact[t]).max() < 0.02 * np.abs(exact[t]).max()


def test_int8_logits_follow_the_float_graph_of_the_same_weights_in_prefill_and_decode():
    model = torch_llama(tiny_hf_config(), seed=3)
    w = quantized(weights_of(model))
    config = w.config
    int8_bytes = build_decoder(w, weights_mode="int8")
    ops = {node.op_type for node in onnx.load_from_string(int8_bytes).graph.node}
    assert "MatMulInteger" in ops and not {"MatMulNBits", "DynamicQuantizeMatMul"} & ops
    exact, approx = session(build_decoder(w, weights_mode="fp32")), session(int8_bytes)
    ids = np.array([[1, 17, 42, 99, 5, 250, 31, 7]], np.int64)
    n = ids.shape[1]
    start = (ids, np.ones((1, n), np.int64), np.arange(n)[None])
    a, cache_a = run(exact, config, *start, empty_cache(config))
    b, cache_b = run(approx, config, *start, empty_cache(config))
    for step, token in enumerate([3, 299, 0]):
        spread = np.abs(a).max()
        assert np.abs(a - b).max() < 0.05 * spread
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.998
        feed = (np.array([[token]], np.int64), np.ones((1, n + step + 1), np.int64), np.array([[n + step]]))
        a, cache_a = run(exact, config, *feed, cache_a)
        b, cache_b = run(approx, config, *feed, cache_b)
