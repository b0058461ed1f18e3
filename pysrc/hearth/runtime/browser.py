"""Pyodide side of the runtime seam: onnxruntime-web through `web/ort-bridge.js`.

The only module in Hearth that touches `js`. Tensors stay on the JS side (or in GPU buffers)
as `BrowserTensor` handles; their data crosses into Python only when asked for with `.numpy()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from js import hearthOrt  # set on the worker's global scope by web/worker.js
from pyodide.ffi import to_js

from hearth.runtime import Tensor, Value


async def _to_numpy(raw) -> np.ndarray:
    dtype = "uint8" if raw.dtype == "bool" else raw.dtype
    array = np.frombuffer(raw.bytes.to_bytes(), dtype=dtype).reshape(tuple(raw.dims.to_py()))
    return array.astype(bool) if raw.dtype == "bool" else array


class BrowserTensor:
    def __init__(self, js_tensor) -> None:
        self.js = js_tensor
        self.dtype = str(js_tensor.type)
        self.shape = tuple(int(d) for d in js_tensor.dims.to_py())

    async def numpy(self) -> np.ndarray:
        return await _to_numpy(await hearthOrt.read(self.js))

    def dispose(self) -> None:
        if self.js is not None:
            hearthOrt.dispose(self.js)
            self.js.destroy()
            self.js = None


async def _js_tensor(value: Value):
    if isinstance(value, BrowserTensor):
        return value.js
    array = np.ascontiguousarray(value)
    dtype = "bool" if array.dtype == np.bool_ else str(array.dtype)
    data = array.astype(np.uint8) if dtype == "bool" else array
    return await hearthOrt.tensor(dtype, to_js(data.tobytes()), to_js(list(array.shape)))


class BrowserSession:
    def __init__(self, created) -> None:
        self._session = created.session
        self.provider = str(created.provider)
        self.input_names = list(created.inputNames.to_py())
        self.output_names = list(created.outputNames.to_py())

    async def run(
        self, feeds: Mapping[str, Value], *, keep: Sequence[str] = (), fetch: Sequence[str] | None = None
    ) -> dict[str, Value]:
        names = list(fetch) if fetch is not None else list(self.output_names)
        names += [k for k in keep if k not in names]
        tensors = [await _js_tensor(v) for v in feeds.values()]
        outputs = await hearthOrt.run(self._session, to_js(list(feeds)), to_js(tensors), to_js(names))
        result: dict[str, Value] = {}
        for name, js_tensor in zip(names, outputs, strict=True):
            if name in keep:
                result[name] = BrowserTensor(js_tensor)
            else:
                result[name] = await _to_numpy(await hearthOrt.read(js_tensor))
                hearthOrt.dispose(js_tensor)
        return result

    async def run_steps(
        self,
        state: Mapping[str, Value],
        batches: Sequence[Mapping[str, np.ndarray]],
        carry: Mapping[str, str],
        fetch: Sequence[str],
    ) -> tuple[dict[str, Tensor], list[dict[str, np.ndarray]]]:
        batch_names = list(batches[0]) if batches else []
        js_batches = [[await _js_tensor(b[n]) for n in batch_names] for b in batches]
        state_tensors = [await _js_tensor(v) for v in state.values()]
        out = await hearthOrt.runSteps(
            self._session, to_js(list(state)), to_js(state_tensors), to_js(batch_names), to_js(js_batches),
            to_js(list(carry)), to_js(list(carry.values())), to_js(list(fetch)),
        )
        final = {name: BrowserTensor(t) for name, t in zip(carry.values(), out.state, strict=True)}
        steps = [{n: await _to_numpy(raw) for n, raw in zip(fetch, step, strict=True)} for step in out.steps]
        return final, steps

    def release(self) -> None:
        if self._session is not None:
            self._session.release()
            self._session = None


class BrowserRuntime:
    name = "onnxruntime-web"

    def __init__(self) -> None:
        self.providers: list[str] = ["wasm"]

    async def detect(self) -> list[str]:
        """Ask the browser which providers work (WebGPU needs an adapter)."""
        self.providers = list((await hearthOrt.providers()).to_py())
        return self.providers

    async def session(self, model: bytes, provider: str | None = None, *, keep_on_gpu: bool = False):
        provider = provider or "wasm"
        if provider == "webgpu" and "webgpu" not in await self.detect():
            raise RuntimeError("WebGPU is not available in this browser; use provider 'wasm'")
        created = await hearthOrt.createSession(to_js(model), provider, keep_on_gpu)
        return BrowserSession(created)

    async def upload(self, array: np.ndarray) -> BrowserTensor:
        return BrowserTensor(await _js_tensor(array))
