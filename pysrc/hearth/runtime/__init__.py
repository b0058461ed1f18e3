"""One async interface to ONNX Runtime, on whichever side of the browser we run.

CPython uses the `onnxruntime` package (`native.py`); Pyodide uses onnxruntime-web through the
JS bridge (`browser.py` + `web/ort-bridge.js`). Every call is async because the browser's are,
so the same training and generation loops run unchanged in both places.

Values that should stay on the runtime side between calls (weights, optimizer state, KV caches)
come back as `Tensor` handles when named in `keep=`; everything else comes back as numpy.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

IN_BROWSER = sys.platform == "emscripten"


class Tensor(Protocol):
    """A tensor that lives on the runtime side (JS heap or GPU in the browser)."""

    dtype: str
    shape: tuple[int, ...]

    async def numpy(self) -> np.ndarray: ...

    def dispose(self) -> None: ...


Value = np.ndarray | Tensor


class Session(Protocol):
    """A loaded ONNX model."""

    provider: str
    input_names: list[str]
    output_names: list[str]

    async def run(
        self, feeds: Mapping[str, Value], *, keep: Sequence[str] = (), fetch: Sequence[str] | None = None
    ) -> dict[str, Value]:
        """Run once. Outputs named in `keep` return as Tensor handles, the rest (or only `fetch`) as numpy."""
        ...

    async def run_steps(
        self,
        state: Mapping[str, Value],
        batches: Sequence[Mapping[str, np.ndarray]],
        carry: Mapping[str, str],
        fetch: Sequence[str],
    ) -> tuple[dict[str, Tensor], list[dict[str, np.ndarray]]]:
        """Run one step per batch without returning to Python in between.

        `state` feeds the first step; after each step, output `o` becomes input `carry[o]` of the next.
        Returns the final carried state (as handles, keyed by input name) and the `fetch`ed outputs of
        every step as numpy. This is how training hands many steps to the runtime at once.
        """
        ...

    def release(self) -> None: ...


class Runtime(Protocol):
    name: str
    providers: list[str]

    async def session(self, model: bytes, provider: str | None = None, *, keep_on_gpu: bool = False,
                      threads: int | None = None) -> Session:
        """Load a model. `provider` is one of `providers` (default: the first); `keep_on_gpu` keeps
        kept outputs in GPU buffers on WebGPU (KV caches); `threads` asks for that many CPU threads
        for this session (None: the runtime's default; small graphs run faster on one)."""
        ...

    async def upload(self, array: np.ndarray) -> Tensor:
        """Upload an array once so later runs can use it without copying it again."""
        ...


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """The runtime for this interpreter: onnxruntime-web in Pyodide, onnxruntime on CPython."""
    global _runtime
    if _runtime is None:
        if IN_BROWSER:
            from hearth.runtime.browser import BrowserRuntime

            _runtime = BrowserRuntime()
        else:
            from hearth.runtime.native import NativeRuntime

            _runtime = NativeRuntime()
    return _runtime


async def to_numpy(value: Value) -> np.ndarray:
    """numpy for either kind of value."""
    if isinstance(value, np.ndarray):
        return value
    return await value.numpy()


def dispose_all(values: Sequence[Value]) -> None:
    """Free the runtime-side tensors among `values` (numpy arrays are skipped), in one call where the
    runtime has one (a decode step supersedes 2 x layers cache tensors at once)."""
    handles = [v for v in values if v is not None and not isinstance(v, np.ndarray)]
    if not handles:
        return
    batch = getattr(type(handles[0]), "dispose_many", None)
    if batch is not None and all(type(h) is type(handles[0]) for h in handles):
        batch(handles)
    else:
        for h in handles:
            h.dispose()


async def site_file(path: str) -> bytes:
    """A file the site ships (e.g. "data/digits.npz"): fetched from the site in the browser (the
    service worker serves it offline), read from static/ or dist/ on CPython."""
    if IN_BROWSER:
        from hearth.runtime.browser import fetch_bytes

        return await fetch_bytes(path)
    import os
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    for root in (os.environ.get("HEARTH_SITE_DIR"), repo / "static", repo / "dist"):
        if root and (Path(root) / path).is_file():
            return (Path(root) / path).read_bytes()
    raise FileNotFoundError(f"{path} is not among the site's files (looked in static/ and dist/)")
