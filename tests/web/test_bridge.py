"""The Python ↔ onnxruntime-web seam in Chromium, against onnxruntime on CPython."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.conftest import python, wait_ready

pytestmark = pytest.mark.browser

ACCUMULATE = """
import numpy as np
from hearth.graph import Graph
from hearth.runtime import get_runtime

g = Graph("acc")
s = g.input("s", "float32", [3])
x = g.input("x", "float32", [3])
g.output(g.op("Add", s, g.op("Mul", x, x)), "float32", [3], name="s_next")
g.output(g.op("ReduceSum", x, keepdims=0), "float32", [], name="xsum")
rt = get_runtime()
sess = await rt.session(g.to_bytes(opset=17), PROVIDER)
once = await sess.run({"s": np.ones(3, np.float32), "x": np.arange(3, dtype=np.float32)}, keep=["s_next"])
kept = once["s_next"]
batches = [{"x": np.full(3, i, np.float32)} for i in range(1, 6)]
state, steps = await sess.run_steps({"s": kept}, batches, {"s_next": "s"}, ["xsum"])
result = {"provider": sess.provider, "kept_is_handle": not isinstance(kept, np.ndarray),
          "once": (await kept.numpy()).tolist(), "final": (await state["s"].numpy()).tolist(),
          "sums": [float(st["xsum"]) for st in steps]}
result
"""


def _expected():
    """The same Python on CPython's onnxruntime (in a thread: Playwright's loop owns this one)."""
    code = ACCUMULATE.replace("PROVIDER", "None")
    namespace: dict = {}
    body = "async def _go():\n" + "\n".join("    " + line for line in code.strip().splitlines()[:-1])
    exec(body + "\n    return result", namespace)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, namespace["_go"]()).result()


@pytest.mark.parametrize("provider", ["wasm", "webgpu"])
def test_bridge_keeps_tensors_and_runs_steps(page, site, provider):
    wait_ready(page, site.url)
    if provider == "webgpu":
        page.locator("html[data-backends]").wait_for(state="attached")
        assert "webgpu" in page.evaluate("document.documentElement.dataset.backends"), "no WebGPU adapter"
    got = python(page, ACCUMULATE.replace("PROVIDER", repr(provider)))
    want = _expected()
    assert got["provider"] == provider
    assert got["kept_is_handle"] is True
    np.testing.assert_allclose(got["once"], want["once"], rtol=1e-6)
    np.testing.assert_allclose(got["final"], want["final"], rtol=1e-6)
    np.testing.assert_allclose(got["sums"], want["sums"], rtol=1e-6)
    assert want["final"] == [1 + 0 + 55, 1 + 1 + 55, 1 + 4 + 55]


def test_engine_check_on_webgpu(page, site):
    wait_ready(page, site.url)
    result = python(page, "from hearth.app.engine_check import check\nawait check('webgpu')")
    assert result["provider"] == "webgpu"
    assert result["max_abs_error"] < 1e-4
