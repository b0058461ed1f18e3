"""Weights moved to FILE.onnx_data: the real `onnx` package reads them back and onnxruntime gives the same outputs."""

import numpy as np
import onnx
import onnxruntime as ort

from hearth.graph import Graph
from hearth.graph.external import ALIGN, split_external


def _model() -> tuple[bytes, dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    weights = {"big": rng.standard_normal((64, 48)).astype(np.float32),
               "big2": rng.standard_normal((48, 8)).astype(np.float32),
               "small": rng.standard_normal(8).astype(np.float32)}
    g = Graph("ext")
    x = g.input("x", "float32", ["batch", 64])
    h = g.op("MatMul", x, g.initializer("big", weights["big"]))
    y = g.op("Add", g.op("MatMul", h, g.initializer("big2", weights["big2"])), g.initializer("small", weights["small"]))
    g.output(y, "float32", ["batch", 8], name="y")
    return g.to_bytes(), weights


def test_large_initializers_move_out_and_give_the_same_outputs(tmp_path):
    inline, weights = _model()
    graph, data = split_external(inline, "m.onnx_data")
    assert len(graph) < 1000 < len(inline)  # the graph no longer carries the weights
    (tmp_path / "m.onnx").write_bytes(graph)
    (tmp_path / "m.onnx_data").write_bytes(data)

    model = onnx.load(str(tmp_path / "m.onnx"))  # resolves the external data beside the file
    onnx.checker.check_model(str(tmp_path / "m.onnx"), full_check=True)
    for t in model.graph.initializer:
        assert np.array_equal(onnx.numpy_helper.to_array(t), weights[t.name])
    by_name = {t.name: t for t in onnx.load(str(tmp_path / "m.onnx"), load_external_data=False).graph.initializer}
    assert by_name["small"].data_location == onnx.TensorProto.DEFAULT  # 32 bytes stay inline
    for name in ("big", "big2"):
        entries = {e.key: e.value for e in by_name[name].external_data}
        assert entries["location"] == "m.onnx_data" and int(entries["offset"]) % ALIGN == 0

    x = np.random.default_rng(2).standard_normal((3, 64)).astype(np.float32)
    want = ort.InferenceSession(inline).run(None, {"x": x})[0]
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x})[0]
    assert np.array_equal(want, got)
