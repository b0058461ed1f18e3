"""A one-click check that the compute engine works here: runs a small ONNX model and checks its numbers."""

from __future__ import annotations

import time

import numpy as np
import panel as pn

from hearth.graph import Graph
from hearth.i18n import t
from hearth.runtime import get_runtime


def affine_relu_model(seed: int = 0) -> tuple[bytes, np.ndarray, np.ndarray]:
    """y = relu(x @ w + b): small enough to build anywhere, big enough to catch a broken bridge."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((64, 32)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    g = Graph("engine_check")
    x = g.input("x", "float32", ["batch", 64])
    y = g.op("Relu", g.op("Add", g.op("MatMul", x, g.initializer("w", w)), g.initializer("b", b)))
    g.output(y, "float32", ["batch", 32], name="y")
    return g.to_bytes(), w, b


async def check(provider: str | None = None) -> dict:
    """Run the model on `provider` and compare with numpy; returns what a person (or test) needs to see."""
    model, w, b = affine_relu_model()
    x = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    runtime = get_runtime()
    start = time.perf_counter()
    session = await runtime.session(model, provider)
    out = await session.run({"x": x})
    elapsed = time.perf_counter() - start
    session.release()
    error = float(np.abs(out["y"] - np.maximum(x @ w + b, 0)).max())
    return {"provider": session.provider, "max_abs_error": error, "ok": error < 1e-4, "seconds": elapsed,
            "sum": float(out["y"].sum())}


def panel() -> pn.viewable.Viewable:
    result = pn.pane.Markdown("", sizing_mode="stretch_width")
    button = pn.widgets.Button(label=t("Check the compute engine"), color="primary", width=280)

    async def on_click(_event) -> None:
        button.disabled = True
        result.object = t("Running a small ONNX model…")
        try:
            r = await check()
            fields = {"provider": r["provider"], "error": f"{r['max_abs_error']:.2e}",
                      "ms": f"{r['seconds'] * 1000:.0f}"}
            result.object = (t("ONNX Runtime on **{provider}** works: largest error against numpy {error}, {ms} ms "
                               "including loading.", **fields) if r["ok"] else
                             t("ONNX Runtime on **{provider}** gave WRONG numbers: largest error against numpy {error}, "
                               "{ms} ms including loading.", **fields))
        except Exception as error:  # shown to the person, who can report it
            result.object = t("The compute engine failed here: {error}", error=error)
        finally:
            button.disabled = False

    button.on_click(on_click)
    return pn.Column(button, result)
