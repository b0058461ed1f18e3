"""The runtime side of one model: its graphs' sessions, and its weights kept as runtime handles.

Python hands the engine whole chunks of batches (`train`); the weights, batchnorm statistics and
optimizer slots go from one step to the next inside the runtime (`Session.run_steps`) and only the
per-step loss and correct count come back. In the browser this is what keeps a step near the cost
of the graph itself rather than of copying every weight through Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from hearth.runtime import Runtime, Session, Value, get_runtime, to_numpy
from hearth.train.losses import Loss, get_loss
from hearth.train.optimizers import Optimizer, get_optimizer
from hearth.train.spec import ModelSpec, TrainConfig
from hearth.train.step_graph import TrainStep, build_activations, build_eval, build_predict, build_train_step


class Engine:
    def __init__(self, spec: ModelSpec, config: TrainConfig, weights: Mapping[str, np.ndarray],
                 optimizer_state: Mapping[str, np.ndarray] | None = None, step: int = 0,
                 runtime: Runtime | None = None, provider: str | None = None) -> None:
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
        self._step_graph: TrainStep | None = None
        self._sessions: dict[str, Session] = {}
        self._activation_names: list[str] = []

    # ------------------------------------------------------------------ graphs
    @property
    def step_graph(self) -> TrainStep:
        if self._step_graph is None:
            self._step_graph = build_train_step(self.spec, self.loss, self.optimizer, self.config.l2)
        return self._step_graph

    async def _session(self, kind: str) -> Session:
        if kind not in self._sessions:
            if kind == "train":
                model = self.step_graph.model
            elif kind == "eval":
                model = build_eval(self.spec, self.loss)
            elif kind == "predict":
                model = build_predict(self.spec, self.loss)
            else:
                model, self._activation_names = build_activations(self.spec)
            self._sessions[kind] = await self.runtime.session(model, self.provider)
        return self._sessions[kind]

    def _weight_feeds(self) -> dict[str, Value]:
        return {k: self.state[k] for k in self.weight_names}

    # ------------------------------------------------------------------ training
    async def train(self, batches: Sequence[Mapping[str, np.ndarray]], lr: float | Sequence[float]) -> list[dict]:
        """Run one optimizer step per batch (x, y and any dropout masks) in a single runtime call.

        Returns each step's fetched outputs (loss, correct) as numpy scalars."""
        session = await self._session("train")
        graph = self.step_graph
        rates = [lr] * len(batches) if isinstance(lr, int | float) else list(lr)
        feeds = []
        for i, batch in enumerate(batches):
            feeds.append({**batch, "schedule": np.asarray([rates[i], self.step + i + 1], np.float32)})
        previous = self.state
        final, per_step = await session.run_steps({k: previous[k] for k in graph.state}, feeds,
                                                  graph.carry, graph.fetch)
        self.state = {**previous, **final}
        self.step += len(batches)
        for key, value in previous.items():
            if not isinstance(value, np.ndarray) and self.state[key] is not value:
                value.dispose()
        return per_step

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
