"""The runtime side of one model: its graphs' sessions, and its weights kept as runtime handles.

Python hands the engine whole chunks of batches (`train`); the weights, batchnorm statistics and
optimizer slots go from one step to the next inside the runtime and only the per-step loss and
correct count come back. On CPU (CPython, wasm) a chunk is one run of a Loop graph
(`build_train_chunk`): onnxruntime-web copies every input and output between JS and wasm memory on
each run, so this pays that copy of the weights once per chunk instead of once per step. On WebGPU
it is one `Session.run_steps` call over the single-step graph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from hearth.runtime import Runtime, Session, Value, get_runtime, to_numpy
from hearth.train.gradcam import build_gradcam
from hearth.train.losses import Loss, get_loss
from hearth.train.optimizers import Optimizer, get_optimizer
from hearth.train.spec import ModelSpec, TrainConfig
from hearth.train.step_graph import (
    TrainStep,
    build_activations,
    build_eval,
    build_predict,
    build_train_chunk,
    build_train_step,
)
from hearth.train.threads import training_threads


class Engine:
    def __init__(self, spec: ModelSpec, config: TrainConfig, weights: Mapping[str, np.ndarray],
                 optimizer_state: Mapping[str, np.ndarray] | None = None, step: int = 0,
                 runtime: Runtime | None = None, provider: str | None = None, threads: int | None = None) -> None:
        spec.check_weights(dict(weights))
        self.spec = spec
        self.config = config
        self.runtime = runtime or get_runtime()
        self.provider = provider
        self.loss: Loss = get_loss(config.loss, spec.units_out)
        self.optimizer: Optimizer = get_optimizer(config.optimizer, config.optimizer_options)
        self.step = step  # optimizer steps taken so far; Adam's bias correction counts from here
        self.weight_names = [*spec.param_names(), *spec.buffer_names()]
        state: dict[str, Value] = {k: np.asarray(weights[k], np.float32) for k in self.weight_names}
        for name in spec.param_names():
            for slot, value in self.optimizer.init_state(state[name]).items():
                key = f"{name}.{slot}"
                given = None if optimizer_state is None else optimizer_state.get(key)
                if given is not None and tuple(given.shape) != value.shape:
                    raise ValueError(f"optimizer state {key!r} has shape {tuple(given.shape)}, expected {value.shape}; "
                                     "was it saved with another optimizer or model?")
                state[key] = value if given is None else np.asarray(given, np.float32)
        self.state = state
        # CPU threads of this model's sessions: by default one for small models, which train faster so
        # (hearth.train.threads); WebGPU has none to pick
        self.threads = None if provider == "webgpu" else threads or training_threads(spec, config.batch_size)
        self._step_graph: TrainStep | None = None
        self._sessions: dict[str, Session] = {}
        self._activation_names: list[str] = []

    # ------------------------------------------------------------------ graphs
    @property
    def step_graph(self) -> TrainStep:
        if self._step_graph is None:
            build = build_train_step if self.provider == "webgpu" else build_train_chunk
            self._step_graph = build(self.spec, self.loss, self.optimizer, self.config.l2)
        return self._step_graph

    async def _session(self, kind: str) -> Session:
        if kind not in self._sessions:
            if kind == "train":
                model = self.step_graph.model
            elif kind == "eval":
                model = build_eval(self.spec, self.loss)
            elif kind == "predict":
                model = build_predict(self.spec, self.loss)
            elif kind == "gradcam":
                model = build_gradcam(self.spec, self.loss)
            else:
                model, self._activation_names = build_activations(self.spec)
            self._sessions[kind] = await self.runtime.session(model, self.provider, threads=self.threads)
        return self._sessions[kind]

    def _weight_feeds(self) -> dict[str, Value]:
        return {k: self.state[k] for k in self.weight_names}

    # ------------------------------------------------------------------ training
    async def train(self, batches: Sequence[Mapping[str, np.ndarray]], lr: float | Sequence[float]) -> list[dict]:
        """Run one optimizer step per batch (x, y and any dropout masks): on CPU in one runtime call,
        on WebGPU in one `run_steps` call per run of same-shaped batches.

        Returns each step's fetched outputs (loss, correct) as numpy scalars."""
        session = await self._session("train")
        graph = self.step_graph
        rates = [lr] * len(batches) if isinstance(lr, int | float) else list(lr)
        if not batches:
            return []
        if not graph.stacked:
            feeds = [{**batch, "schedule": np.asarray([rates[i], self.step + i + 1], np.float32)}
                     for i, batch in enumerate(batches)]
            final, per_step = await session.run_steps({k: self.state[k] for k in graph.state}, feeds,
                                                      graph.carry, graph.fetch)
            self._replace_state(final)
            self.step += len(batches)
            return per_step
        # one run for the whole chunk: batches end to end, each step's rows named in its schedule
        ends = np.cumsum([len(batch["x"]) for batch in batches])
        schedule = np.asarray([[rates[i], self.step + i + 1, ends[i] - len(batch["x"]), ends[i]]
                               for i, batch in enumerate(batches)], np.float32)
        joined = {name: np.concatenate([batch[name] for batch in batches]) for name in batches[0]}
        out = await session.run({**{k: self.state[k] for k in graph.state}, **joined, "schedule": schedule},
                                keep=list(graph.carry), fetch=graph.fetch)
        self._replace_state({graph.carry[o]: out[o] for o in graph.carry})
        self.step += len(batches)
        return [{name: out[name][i] for name in graph.fetch} for i in range(len(batches))]

    def _replace_state(self, new: Mapping[str, Value]) -> None:
        """Take the next carried values; runtime handles they replace are released at once."""
        for key, value in new.items():
            old = self.state[key]
            if not isinstance(old, np.ndarray) and old is not value:
                old.dispose()
            self.state[key] = value

    # ------------------------------------------------------------------ inference
    async def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> tuple[float, float | None,
                                                                                          np.ndarray]:
        """(mean loss, correct count or None, probabilities) over all of x, in runtime-sized chunks."""
        session = await self._session("eval")
        weights = self._weight_feeds()
        total, correct, probs = 0.0, 0.0, []
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            out = await session.run({**weights, "x": xb, "y": yb})
            total += float(out["loss"]) * len(xb)
            if "correct" in out:
                correct += float(out["correct"])
            probs.append(out["probabilities"])
        n = max(len(x), 1)
        return total / n, (correct if self.loss.has_accuracy else None), np.concatenate(probs) if probs else \
            np.zeros((0, self.spec.units_out), np.float32)

    async def predict(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        session = await self._session("predict")
        weights = self._weight_feeds()
        chunks = [(await session.run({**weights, "x": x[s:s + batch_size]}))["probabilities"]
                  for s in range(0, len(x), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.spec.units_out), np.float32)

    async def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """Each spec layer's output for x, in the user's layout: (N, H, W, C) feature maps or (N, F)."""
        session = await self._session("activations")
        out = await session.run({**self._weight_feeds(), "x": x})
        return [out[name] for name in self._activation_names]

    async def grad_cam(self, x: np.ndarray, direction: np.ndarray) -> dict[str, np.ndarray]:
        """The Grad-CAM graph's outputs (heatmap, channel_weights, probabilities) for images x and
        d score / d outputs `direction` (`hearth.train.gradcam`)."""
        session = await self._session("gradcam")
        out = await session.run({**self._weight_feeds(), "x": x, "direction": direction})
        return {name: np.asarray(value) for name, value in out.items()}

    # ------------------------------------------------------------------ reading state back
    async def weights(self) -> dict[str, np.ndarray]:
        return {k: np.array(await to_numpy(self.state[k])) for k in self.weight_names}

    async def optimizer_state(self) -> dict[str, np.ndarray]:
        names = set(self.weight_names)
        return {k: np.array(await to_numpy(v)) for k, v in self.state.items() if k not in names}

    def release(self) -> None:
        for session in self._sessions.values():
            session.release()
        self._sessions.clear()

