"""CPython side of the runtime seam: the `onnxruntime` package.

Kept values are plain numpy arrays here (CPU memory is already "the runtime side"), so handles
cost nothing; the async methods simply do the work and return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from hearth.runtime import Tensor, Value


class NativeTensor:
    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.dtype = str(array.dtype)
        self.shape = tuple(array.shape)

    async def numpy(self) -> np.ndarray:
        return self.array

    def dispose(self) -> None:
        self.array = None  # type: ignore[assignment]


def _host(value: Value) -> np.ndarray:
    return value.array if isinstance(value, NativeTensor) else np.asarray(value)


class NativeSession:
    def __init__(self, model: bytes, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.provider = "cpu"
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]

    def _run(self, feeds: Mapping[str, Value], names: Sequence[str]) -> list[np.ndarray]:
        return self._session.run(list(names), {k: _host(v) for k, v in feeds.items()})

    async def run(
        self, feeds: Mapping[str, Value], *, keep: Sequence[str] = (), fetch: Sequence[str] | None = None
    ) -> dict[str, Value]:
        names = list(fetch) if fetch is not None else list(self.output_names)
        names += [k for k in keep if k not in names]
        outputs = dict(zip(names, self._run(feeds, names), strict=True))
        return {k: NativeTensor(v) if k in keep else v for k, v in outputs.items()}

    async def run_steps(
        self,
        state: Mapping[str, Value],
        batches: Sequence[Mapping[str, np.ndarray]],
        carry: Mapping[str, str],
        fetch: Sequence[str],
    ) -> tuple[dict[str, Tensor], list[dict[str, np.ndarray]]]:
        current = {k: _host(v) for k, v in state.items()}
        names = list(fetch) + [o for o in carry if o not in fetch]
        per_step = []
        for batch in batches:
            outputs = dict(zip(names, self._run({**current, **batch}, names), strict=True))
            for out_name, in_name in carry.items():
                current[in_name] = outputs[out_name]
            per_step.append({k: outputs[k] for k in fetch})
        return {k: NativeTensor(current[k]) for k in carry.values()}, per_step

    def release(self) -> None:
        self._session = None


class NativeRuntime:
    name = "onnxruntime"
    providers = ["cpu"]

    async def session(self, model: bytes, provider: str | None = None, *, keep_on_gpu: bool = False,
                      threads: int | None = None):
        if provider not in (None, "cpu", "wasm"):
            raise ValueError(f"provider {provider!r} is not available on CPython; use 'cpu'")
        return NativeSession(model, threads or 0)

    async def upload(self, array: np.ndarray) -> NativeTensor:
        return NativeTensor(np.ascontiguousarray(array))

    def tensor(self, array: np.ndarray) -> NativeTensor:
        return NativeTensor(np.ascontiguousarray(array))
