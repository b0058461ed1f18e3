"""Pyodide side of the runtime seam: onnxruntime-web through `web/ort-bridge.js`.

The only module in Hearth that touches `js`. Tensors stay on the JS side (or in GPU buffers)
as `BrowserTensor` handles; their data crosses into Python only when asked for with `.numpy()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from js import hearthModels, hearthOffline, hearthOrt  # set on the worker's global scope by web/worker.js
from pyodide.ffi import JsException, create_proxy, to_js

from hearth.i18n import t
from hearth.runtime import Tensor, Value


async def _to_numpy(raw) -> np.ndarray:
    dtype = "uint8" if raw.dtype == "bool" else raw.dtype
    array = np.frombuffer(raw.bytes.to_bytes(), dtype=dtype).reshape(tuple(raw.dims.to_py()))
    return array.astype(bool) if raw.dtype == "bool" else array


class BrowserTensor:
    def __init__(self, js_tensor) -> None:
        self.js = js_tensor
        self._dtype: str | None = None
        self._shape: tuple[int, ...] | None = None

    # Read from JS on first use: a decode step keeps 2 x layers tensors, and every attribute read
    # through a JsProxy costs time that most handles never need.
    @property
    def dtype(self) -> str:
        if self._dtype is None:
            self._dtype = str(self.js.type)
        return self._dtype

    @property
    def shape(self) -> tuple[int, ...]:
        if self._shape is None:
            self._shape = tuple(int(d) for d in self.js.dims.to_py())
        return self._shape

    async def numpy(self) -> np.ndarray:
        return await _to_numpy(await hearthOrt.read(self.js))

    def dispose(self) -> None:
        if self.js is not None:
            hearthOrt.dispose(self.js)
            self.js = None

    @staticmethod
    def dispose_many(tensors: Sequence[BrowserTensor]) -> None:
        """Free many handles with one call into JS (see hearth.runtime.dispose_all)."""
        live = [tensor.js for tensor in tensors if tensor.js is not None]
        if live:
            hearthOrt.disposeAll(to_js(live))
        for tensor in tensors:
            tensor.js = None


def _dtype_name(array: np.ndarray) -> str:
    return "bool" if array.dtype == np.bool_ else str(array.dtype)


def _raw_bytes(array: np.ndarray):
    data = array.astype(np.uint8) if array.dtype == np.bool_ else np.ascontiguousarray(array)
    return to_js(data.tobytes())


async def _js_tensor(value: Value):
    if isinstance(value, BrowserTensor):
        return value.js
    array = np.asarray(value)
    return await hearthOrt.tensor(_dtype_name(array), _raw_bytes(array), to_js(list(array.shape)))


def _same_shape_runs(batches: Sequence[Mapping[str, np.ndarray]]) -> list[list[Mapping[str, np.ndarray]]]:
    runs: list[list[Mapping[str, np.ndarray]]] = []
    key = None
    for batch in batches:
        k = tuple((n, np.shape(v), np.asarray(v).dtype.str) for n, v in batch.items())
        if k != key:
            runs.append([])
            key = k
        runs[-1].append(batch)
    return runs


class BrowserSession:
    def __init__(self, created) -> None:
        self._session = created.session
        self.provider = str(created.provider)
        self.threads = int(created.threads)  # the wasm threads of the onnxruntime-web copy it runs on
        # how its external data (FILE.onnx_data) reached onnxruntime: "by range", "whole" or "" (none)
        self.external_data = str(created.externalData or "")
        self.input_names = list(created.inputNames.to_py())
        self.output_names = list(created.outputNames.to_py())
        self.last_run_ms = 0.0

    async def run(
        self, feeds: Mapping[str, Value], *, keep: Sequence[str] = (), fetch: Sequence[str] | None = None
    ) -> dict[str, Value]:
        names = list(fetch) if fetch is not None else list(self.output_names)
        names += [k for k in keep if k not in names]
        kept = [n for n in names if n in keep]
        handles = {n: v for n, v in feeds.items() if isinstance(v, BrowserTensor)}
        arrays = {n: np.asarray(v) for n, v in feeds.items() if not isinstance(v, BrowserTensor)}
        out = await hearthOrt.run(
            self._session, to_js(list(handles)), to_js([h.js for h in handles.values()]),
            to_js(list(arrays)), to_js([_dtype_name(a) for a in arrays.values()]),
            to_js([_raw_bytes(a) for a in arrays.values()]), to_js([list(a.shape) for a in arrays.values()]),
            to_js(names), to_js(kept))
        self.last_run_ms = float(out.runMs)  # inside onnxruntime-web's session.run: what the bridge did not add
        result: dict[str, Value] = {}
        read = iter(out.read)
        for name in names:
            if name not in keep:
                result[name] = await _to_numpy(next(read))
        for name, js_tensor in zip(kept, out.kept, strict=True):
            result[name] = BrowserTensor(js_tensor)
        return {name: result[name] for name in names}

    async def run_steps(
        self,
        state: Mapping[str, Value],
        batches: Sequence[Mapping[str, np.ndarray]],
        carry: Mapping[str, str],
        fetch: Sequence[str],
    ) -> tuple[dict[str, Tensor], list[dict[str, np.ndarray]]]:
        # Each run of same-shaped batches crosses into JS once, stacked; JS slices it per step.
        names = list(fetch)
        current = dict(state)
        made_here: set[str] = set()  # names whose current value is a state between two runs
        steps: list[dict[str, np.ndarray]] = []
        for group in _same_shape_runs(batches):
            batch_names = list(group[0])
            stacks = [np.ascontiguousarray(np.stack([b[n] for b in group])) for n in batch_names]
            out = await hearthOrt.runSteps(
                self._session, to_js(list(current)), to_js([await _js_tensor(v) for v in current.values()]),
                to_js(batch_names), to_js([_dtype_name(a) for a in stacks]),
                to_js([_raw_bytes(a) for a in stacks]), to_js([list(a.shape) for a in stacks]),
                to_js(list(carry)), to_js(list(carry.values())), to_js(names),
            )
            for name, tensor in zip(carry.values(), out.state, strict=True):
                if name in made_here:  # nobody else holds it
                    current[name].dispose()
                current[name] = BrowserTensor(tensor)
                made_here.add(name)
            steps += [{n: await _to_numpy(raw) for n, raw in zip(names, step, strict=True)} for step in out.steps]
        return {name: current[name] for name in carry.values()}, steps

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

    async def session(self, model: bytes | str, provider: str | None = None, *, keep_on_gpu: bool = False,
                      options: dict | None = None, threads: int | None = None):
        """`model`: bytes, a URL of the site, or "store:MODEL_ID/PATH" for a file in the model store
        (large models then go from storage to ONNX Runtime without passing through Python).
        `options`: onnxruntime-web session options over Hearth's, e.g. {"enableCpuMemArena": False}.
        `threads`: wasm threads for this session (None: the app's default; see web/ort-bridge.js)."""
        provider = provider or "wasm"
        if provider == "webgpu" and "webgpu" not in await self.detect():
            raise RuntimeError(t("WebGPU is not available in this browser; use provider 'wasm'"))
        if isinstance(model, str) and model.startswith("store:"):
            model_id, _, path = model.removeprefix("store:").partition("/")
            source = to_js({"modelId": model_id, "path": path}, dict_converter=_object)
        else:
            source = model if isinstance(model, str) else to_js(model)
        js_options = to_js(options, dict_converter=_object) if options else None
        created = await hearthOrt.createSession(source, provider, keep_on_gpu, js_options, threads)
        return BrowserSession(created)

    async def gpu_features(self) -> list[str]:
        """The WebGPU adapter's optional features ("shader-f16": float16 maths); [] without WebGPU."""
        return list((await hearthOrt.gpuFeatures()).to_py())

    async def threads(self) -> int:
        """WebAssembly threads onnxruntime-web uses (1 without cross-origin isolation)."""
        return int(await hearthOrt.threads())

    async def upload(self, array: np.ndarray) -> BrowserTensor:
        return BrowserTensor(await _js_tensor(array))


async def fetch_bytes(path: str) -> bytes:
    """A file of the site, relative to the site's root (the worker's folder)."""
    from js import fetch

    response = await fetch(path)
    if not response.ok:
        raise FileNotFoundError(f"{path}: HTTP {response.status} from the site")
    return (await response.arrayBuffer()).to_bytes()


# ---------------------------------------------------------------- parts of the site kept offline (web/offline.js)

class SitePartError(RuntimeError):
    """A part of the site could not be kept; `kind` is offline, quota, integrity, version or unsupported."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


async def site_part(name: str) -> dict:
    """How much of a part of the site (sitebuild/site.py PARTS) is on this device: bytes, storedBytes, complete."""
    return (await hearthOffline.part(name)).to_py()


async def keep_site_part(name: str, on_progress: Callable[[int, int], None] | None = None) -> None:
    """Download what this device lacks of part `name` (once, however many ask) and keep it for offline use.

    `on_progress(done, total)` in bytes. Raises SitePartError with a message for the visitor.
    """
    import js

    callback = create_proxy(lambda p: on_progress and on_progress(int(p.done), int(p.total)))
    try:
        await hearthOffline.keep(name, callback, getattr(js, "hearthVersion", None))
    except JsException as error:
        js_error = error.js_error
        raise SitePartError(str(getattr(js_error, "kind", "") or "error"), str(js_error.message)) from None
    finally:
        callback.destroy()


# ---------------------------------------------------------------- model store (web/model-store.js)

def _object(entries):
    from js import Object

    return Object.fromEntries(entries)


class StoreError(RuntimeError):
    """A model store operation failed; `kind` is quota, integrity, network, missing or aborted."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _store_error(error: JsException) -> StoreError:
    js_error = error.js_error
    return StoreError(str(getattr(js_error, "kind", "") or "error"), str(js_error.message))


class Download:
    """A download the user can stop; `await run()` finishes it (or resumes it after a stop)."""

    def __init__(self, model_id: str, base_url: str, files: list[dict], on_progress=None) -> None:
        self.model_id, self.base_url, self.files, self.on_progress = model_id, base_url, files, on_progress
        self._controller = None

    async def run(self) -> list[dict]:
        from js import AbortController

        self._controller = AbortController.new()
        callback = create_proxy(lambda p: self.on_progress and self.on_progress(p.to_py()))
        try:
            stored = await hearthModels.download(self.model_id, self.base_url,
                                                 to_js(self.files, dict_converter=_object), callback,
                                                 self._controller.signal)
            return stored.to_py()
        except JsException as error:
            raise _store_error(error) from None
        finally:
            callback.destroy()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.abort()


async def store_list() -> list[dict]:
    return (await hearthModels.list()).to_py()


async def store_remove(model_id: str) -> None:
    await hearthModels.remove(model_id)


async def store_read(model_id: str, path: str) -> bytes:
    try:
        return (await hearthModels.read(model_id, path)).to_bytes()
    except JsException as error:
        raise _store_error(error) from None


async def store_free_space() -> int | None:
    free = await hearthModels.freeSpace()
    return None if free is None else int(free)


async def store_write_info(model_id: str, info: dict) -> None:
    """Record what a stored model is; `store_list()` returns it as each entry's `info`."""
    await hearthModels.writeInfo(model_id, to_js(info, dict_converter=_object))


# ---------------------------------------------------------------- files the user picked on the page (boot.js)

def on_files_picked(callback) -> None:
    """Call `callback(kind, paths, sizes)` when the user picks files in an input marked `data-hearth-pick=kind`."""
    import js

    js.hearthOnPicked = create_proxy(lambda kind, paths, sizes: callback(str(kind), list(paths.to_py()),
                                                                         [int(s) for s in sizes.to_py()]))


def _picked_index(path: str) -> int:
    import js

    paths = list(js.hearthPicked.paths.to_py())
    if path not in paths:
        raise StoreError("missing", t("{path} is not among the picked files; pick the folder again", path=path))
    return paths.index(path)


async def picked_text(path: str) -> str:
    """The text of one picked file (config and tokenizer JSON, to check a folder before copying it)."""
    import js

    return str(await js.hearthPicked.files[_picked_index(path)].text())


async def store_sideload_picked(model_id: str, wanted: dict[str, str], on_progress=None) -> list[dict]:
    """Copy picked files into the store: `wanted` maps each path in the model to a picked file's path."""
    import js

    picked = js.hearthPicked
    sources = [picked.files[_picked_index(src)] for src in wanted.values()]
    expected = [{"path": dest, "size": int(f.size)} for dest, f in zip(wanted, sources, strict=True)]
    callback = create_proxy(lambda p: on_progress and on_progress(p.to_py()))
    try:
        stored = await hearthModels.sideload(model_id, to_js(sources), to_js(expected, dict_converter=_object),
                                             to_js(list(wanted)), callback)
        return stored.to_py()
    except JsException as error:
        raise _store_error(error) from None
    finally:
        callback.destroy()
