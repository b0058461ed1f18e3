"""The "int8" weights mode: per-channel integer weights on onnxruntime's integer GEMM (DynamicQuantizeMatMul).

Approximate by design (8-bit activations per call, weights rounded to 63 steps a row), so these tests
bound its error against the float graph of the very same block weights instead of asking for equal
bits; models/README.md has what it does to real greedy tokens (SmolLM2) and its speed on wasm.
"""

from __future__ import annotations

import numpy as np
import onnx

from hearth.llm.model.decoder import build_decoder
from hearth.llm.model.layouts import INT8_LEVELS, int8_channels
from tests.llm.model_fixtures import empty_cache, run, session, tiny_hf_config, torch_llama, weights_of
from tests.llm.test_decoder import quantized


def test_codes_stay_within_63_steps_and_round_each_weight_to_its_rows_step():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.02, (40, 64)).astype(np.float32)
    w[3, 5] = 0.5  # an outlier sets its row's step only
    codes, scale = int8_channels(w)
    assert codes.dtype == np.int8 and np.abs(codes).max() == INT8_LEVELS == 63
    np.testing.assert_allclose(scale, np.abs(w).max(axis=1) / 63, rtol=1e-6)
    assert np.all(np.abs(codes * scale[:, None] - w) <= scale[:, None] / 2 * (1 + 1e-6))
    zero_row = int8_channels(np.zeros((2, 64), np.float32))
    assert np.all(zero_row[0] == 0) and np.all(zero_row[1] == 1)


def test_onnxruntime_computes_the_integer_product_without_saturating():
    """x86 kernels without VNNI sum uint8 x int8 pairs in int16: full-range int8 weights came out
    wrong by 10% of the output there; 63 steps keep every pair sum in range, so the kernel's result
    is the integer arithmetic's, whatever the CPU."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    k, n = 256, 48
    w = rng.normal(size=(n, k)).astype(np.float32)
    codes, scale = int8_channels(w)
    x = rng.normal(size=(3, k)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("DynamicQuantizeMatMul", ["x", "B", "s"], ["y"], domain="com.microsoft")], "int8",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ascontiguousarray(codes.T), "B"), numpy_helper.from_array(scale, "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)],
                              ir_version=10)
    y = session(model.SerializeToString()).run(None, {"x": x})[0]
    # DynamicQuantizeLinear's uint8 quantization of x, then exact integer products
    lo, hi = min(x.min(), 0), max(x.max(), 0)
    x_scale = np.float32((hi - lo) / 255)
    zero = np.clip(np.rint(-lo / x_scale), 0, 255)
    xq = np.clip(np.rint(x / x_scale) + zero, 0, 255).astype(np.int64)
    expected = ((xq - int(zero)) @ codes.T.astype(np.int64)).astype(np.float32) * x_scale * scale
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-4 * np.abs(expected).max())


def test_int8_logits_follow_the_float_graph_of_the_same_weights_in_prefill_and_decode():
    model = torch_llama(tiny_hf_config(), seed=3)
    w = quantized(weights_of(model))
    config = w.config
    int8_bytes = build_decoder(w, weights_mode="int8")
    ops = {node.op_type for node in onnx.load_from_string(int8_bytes).graph.node}
    assert "DynamicQuantizeMatMul" in ops and "MatMulNBits" not in ops
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
