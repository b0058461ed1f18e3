"""Our hand-written ONNX encoder against the real `onnx` package and onnxruntime."""

import asyncio

import numpy as np
import onnx
import onnxruntime as ort

from hearth.graph import Graph
from hearth.runtime import get_runtime


def _mlp() -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    g = Graph("mlp")
    x = g.input("x", "float32", ["batch", 4])
    h = g.op("Gemm", x, g.initializer("w", w), g.initializer("b", b), alpha=1.0, transB=0)
    y = g.op("LeakyRelu", h, alpha=0.1)
    idx = g.op("ArgMax", y, axis=1, keepdims=0)
    g.output(y, "float32", ["batch", 3], name="y")
    g.output(idx, "int64", ["batch"], name="label")
    s = g.op("Reshape", y, g.const([-1], "int64"))
    g.output(g.op("ReduceSum", s, g.const([0], "int64"), keepdims=1), "float32", [1], name="total")
    return g.to_bytes(metadata={"hearth.kind": "test"}), w, b


def test_parses_and_passes_checker():
    data, w, _ = _mlp()
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["x"]
    assert [o.name for o in model.graph.output] == ["y", "label", "total"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert np.array_equal(onnx.numpy_helper.to_array(model.graph.initializer[0]), w)
    assert model.metadata_props[0].key == "hearth.kind"
    node = [n for n in model.graph.node if n.op_type == "LeakyRelu"][0]
    assert abs(node.attribute[0].f - 0.1) < 1e-7


def test_runs_in_onnxruntime_with_right_numbers():
    data, w, b = _mlp()
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    h = x @ w + b
    expected = np.where(h > 0, h, 0.1 * h)
    y, label, total = ort.InferenceSession(data).run(None, {"x": x})
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    assert np.array_equal(label, expected.argmax(1))
    np.testing.assert_allclose(total, [expected.sum()], rtol=1e-5)


def test_negative_ints_and_int_lists_roundtrip():
    g = Graph()
    x = g.input("x", "float32", [2, 3, 4])
    g.output(g.op("Transpose", x, perm=[2, 0, 1]), "float32", [4, 2, 3], name="t")
    g.output(g.op("Flatten", x, axis=-1), "float32", [6, 4], name="f")
    model = onnx.load_from_string(g.to_bytes())
    onnx.checker.check_model(model)
    attrs = {n.op_type: n.attribute[0] for n in model.graph.node if n.attribute}
    assert list(attrs["Transpose"].ints) == [2, 0, 1]
    assert attrs["Flatten"].i == -1


def test_runtime_seam_run_and_run_steps():
    """`run_steps` carries outputs into inputs without Python per step, like training does."""
    g = Graph("acc")
    s = g.input("s", "float32", [2])
    x = g.input("x", "float32", [2])
    g.output(g.op("Add", s, x), "float32", [2], name="s_next")
    g.output(g.op("ReduceSum", x, keepdims=0), "float32", [], name="xsum")

    async def go():
        rt = get_runtime()
        sess = await rt.session(g.to_bytes(opset=18))
        batches = [{"x": np.array([i, 2 * i], np.float32)} for i in range(1, 5)]
        state, steps = await sess.run_steps({"s": np.zeros(2, np.float32)}, batches, {"s_next": "s"}, ["xsum"])
        return await state["s"].numpy(), [float(st["xsum"]) for st in steps]

    final, sums = asyncio.run(go())
    assert final.tolist() == [10.0, 20.0]
    assert sums == [3.0, 6.0, 9.0, 12.0]
