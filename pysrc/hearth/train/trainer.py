"""The training loop: epochs, shuffling, validation, progress, pause/stop, and picking up again.

    trainer = Trainer(spec, dataset)                 # or Trainer.from_project(project, dataset)
    async for epoch in trainer.fit(10, on_batch=show_progress):
        print(epoch.to_dict())
    report = await trainer.evaluate()                # confusion matrix for the validation split

Batches go to the runtime `steps_per_call` at a time (one `run_steps` call); between those chunks
the loop yields to the event loop and honours pause()/stop(), so a UI stays responsive. Every
random choice (initial weights, split, shuffling, dropout masks, image augmentation) comes from numpy
generators seeded by `config.seed`, so a run is the same on CPython and in the browser.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hearth.i18n import t
from hearth.runtime import Runtime
from hearth.train.augment import Augmentation
from hearth.train.data import DataError, Dataset
from hearth.train.engine import Engine
from hearth.train.spec import LayerInfo, ModelSpec, TrainConfig


class TrainingError(ValueError):
    """Data and model that do not fit together; the message says which setting to change."""


@dataclass
class BatchProgress:
    epoch: int  # 1-based, counting epochs trained before a reload too
    batch: int  # 1-based within the epoch
    batches: int
    loss: float
    accuracy: float | None  # of this batch


@dataclass
class EpochMetrics:
    epoch: int
    loss: float
    accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    samples_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evaluation:
    loss: float
    accuracy: float | None
    probabilities: np.ndarray  # (N, outputs)
    confusion: np.ndarray | None  # (K, K) counts, rows = true class, columns = predicted
    classes: list[str]


async def _call(callback: Callable | None, *args: Any) -> None:
    if callback is not None:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result


class Trainer:
    def __init__(self, spec: ModelSpec | Mapping[str, Any], data: Dataset, config: TrainConfig | None = None, *,
                 validation: Dataset | None = None, weights: Mapping[str, np.ndarray] | None = None,
                 optimizer_state: Mapping[str, np.ndarray] | None = None, step: int = 0,
                 history: list[dict[str, Any]] | None = None, rng_state: dict[str, Any] | None = None,
                 runtime: Runtime | None = None, provider: str | None = None, steps_per_call: int = 32,
                 threads: int | None = None) -> None:
        self.spec = spec if isinstance(spec, ModelSpec) else ModelSpec(dict(spec))
        self.config = config or self.spec.training
        self.data = data
        data = data.for_input(self.spec.input_shape)
        if validation is None:
            self.train_data, self.val_data = data.split(self.config.validation_split, self.config.seed)
        else:
            self.train_data, self.val_data = data, validation.for_input(self.spec.input_shape)
        if len(self.train_data) == 0:
            raise TrainingError(t("there is no data left to train on; lower the validation split or add data"))
        self.classes = list(data.classes)
        self._augmentation()  # refused now rather than at the first batch
        self._y_train = self._targets(self.train_data)
        self._y_val = self._targets(self.val_data)
        weights = dict(weights) if weights is not None else self.spec.init_weights(self.config.seed)
        self.engine = Engine(self.spec, self.config, weights, optimizer_state, step, runtime, provider, threads)
        self.history: list[dict[str, Any]] = list(history or [])
        self.rng = np.random.default_rng(self.config.seed)
        if rng_state is not None:
            self.rng.bit_generator.state = rng_state
        self.steps_per_call = steps_per_call
        self.status = "idle"  # idle | running | paused | stopping
        self._resume: asyncio.Event | None = None
        self._stop = False
        self._paused = False

    @classmethod
    def from_project(cls, project: Any, data: Dataset, **kwargs: Any) -> Trainer:
        """Continue training a saved model (see `hearth.train.project`) on data with the same classes."""
        if project.classes and data.classes and list(project.classes) != list(data.classes):
            raise TrainingError(t("the model was trained on the classes {trained} but this data has {classes}; use data "
                                  "with the same classes, in the same order", trained=project.classes,
                                  classes=data.classes))
        spec = ModelSpec(project.spec)
        return cls(spec, data, TrainConfig.from_dict(project.training), weights=project.weights,
                   optimizer_state=project.optimizer_state, step=project.step, history=project.history,
                   rng_state=project.rng_state, **kwargs)

    # ---------------------------------------------------------------- fitting data to the model
    def _targets(self, data: Dataset) -> np.ndarray:
        units, loss = self.spec.units_out, self.config.loss
        if not data.is_classification:
            if data.y.shape[1] != units:
                raise TrainingError(t("the model gives {units} outputs but the data has {targets} target column(s); set "
                                      "the last layer's units to {targets}", units=units, targets=data.y.shape[1]))
            return data.y
        k = len(data.classes)
        if units == k:
            return data.y
        if units == 1 and k == 2 and loss == "binary_crossentropy":
            return data.y[:, 1:2].copy()  # 1 = the second class, as a sigmoid output
        names = ", ".join(data.classes[:6]) + (", ..." if k > 6 else "")
        raise TrainingError(t("the model's last layer gives {units} output(s) but the data has {classes} classes "
                              "({names}); set its units to {classes}", units=units, classes=k, names=names)
                            + (" " + t("(or 1 with a sigmoid and binary cross-entropy)") if k == 2 else ""))

    def _augmentation(self) -> Augmentation:
        augmentation = Augmentation.from_dict(self.config.augmentation)
        if augmentation.active and len(self.spec.input_shape) != 3:
            raise TrainingError(t("image augmentation needs a model that takes images [height, width, channels]; this "
                                  "one takes {shape}: turn augmentation off", shape=list(self.spec.input_shape)))
        return augmentation

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    # ---------------------------------------------------------------- control
    def pause(self) -> None:
        """Hold before the next chunk of steps (the weights stay on the runtime side)."""
        self._paused = True
        if self._resume is not None:
            self._resume.clear()

    def resume(self) -> None:
        self._paused = False
        if self._resume is not None:
            self._resume.set()

    def stop(self) -> None:
        """End fit() after the current chunk; the epoch in progress is not recorded."""
        self._stop = True
        self.resume()

    async def _checkpoint(self) -> None:
        await asyncio.sleep(0)  # let the UI's events (pause/stop clicks) run
        if self._paused and not self._stop:
            self.status = "paused"
            await self._resume.wait()
            self.status = "running"

    # ---------------------------------------------------------------- training
    def _masks(self, size: int) -> dict[str, np.ndarray]:
        return {d.mask_name: d.draw_mask(self.rng, size) for d in self.engine.step_graph.dropouts}

    async def fit(self, epochs: int | None = None, on_batch: Callable[[BatchProgress], Any] | None = None
                  ) -> AsyncIterator[EpochMetrics]:
        """Train `epochs` more epochs (default: the config's), yielding each epoch's metrics."""
        epochs = self.config.epochs if epochs is None else epochs
        self._resume = asyncio.Event()
        if not self._paused:
            self._resume.set()
        self._stop = False
        self.status = "running"
        x, y = self.train_data.x, self._y_train
        n, size = len(x), self.config.batch_size
        batches = -(-n // size)
        accuracy_of = self.engine.loss.accuracy_count
        augment = self._augmentation()
        try:
            for _ in range(epochs):
                epoch = self.epochs_done + 1
                started = time.perf_counter()
                order = self.rng.permutation(n) if self.config.shuffle else np.arange(n)
                total_loss, total_correct, seen = 0.0, 0.0, 0
                for first in range(0, batches, self.steps_per_call):
                    await self._checkpoint()
                    if self._stop:
                        return
                    chunk = []
                    for b in range(first, min(first + self.steps_per_call, batches)):
                        index = order[b * size:(b + 1) * size]
                        chunk.append({"x": augment(x[index], self.rng), "y": y[index], **self._masks(len(index))})
                    results = await self.engine.train(chunk, self.config.learning_rate)
                    for offset, (feeds, out) in enumerate(zip(chunk, results, strict=True)):
                        m = len(feeds["x"])
                        loss = float(out["loss"])
                        correct = float(out["correct"]) if "correct" in out else None
                        total_loss += loss * m
                        seen += m
                        if correct is not None:
                            total_correct += correct
                        await _call(on_batch, BatchProgress(epoch, first + offset + 1, batches, loss,
                                                            None if correct is None else correct / accuracy_of(m)))
                seconds = time.perf_counter() - started
                has_accuracy = self.engine.loss.has_accuracy
                metrics = EpochMetrics(
                    epoch=epoch, loss=total_loss / seen,
                    accuracy=total_correct / accuracy_of(seen) if has_accuracy else None,
                    val_loss=None, val_accuracy=None, seconds=seconds, samples_per_second=seen / max(seconds, 1e-9))
                if len(self.val_data):
                    val_loss, val_correct, _ = await self.engine.evaluate(self.val_data.x, self._y_val)
                    metrics.val_loss = val_loss
                    metrics.val_accuracy = (val_correct / accuracy_of(len(self.val_data))
                                            if val_correct is not None else None)
                self.history.append(metrics.to_dict())
                yield metrics
        finally:
            self.status = "idle"

    async def run(self, epochs: int | None = None, on_batch: Callable[[BatchProgress], Any] | None = None,
                  on_epoch: Callable[[EpochMetrics], Any] | None = None) -> list[EpochMetrics]:
        """fit() to the end, for callers that want callbacks rather than an async for."""
        out = []
        async for metrics in self.fit(epochs, on_batch):
            out.append(metrics)
            await _call(on_epoch, metrics)
        return out

    # ---------------------------------------------------------------- looking at the model
    async def evaluate(self, data: Dataset | None = None) -> Evaluation:
        """Loss, accuracy, probabilities and confusion matrix on `data` (default: the validation split)."""
        if data is None:
            data, y = self.val_data, self._y_val
        else:
            data = data.for_input(self.spec.input_shape)
            y = self._targets(data)
        if not len(data):
            raise DataError("there is nothing to evaluate: the validation split is empty; pass data or set a "
                            "validation split above 0")
        loss, correct, probs = await self.engine.evaluate(data.x, y)
        accuracy = None if correct is None else correct / self.engine.loss.accuracy_count(len(data))
        confusion = None
        if data.is_classification:
            k = len(data.classes)
            predicted = probs.argmax(axis=1) if probs.shape[1] > 1 else (probs[:, 0] > 0.5).astype(int)
            confusion = np.zeros((k, k), np.int64)
            np.add.at(confusion, (data.labels, predicted), 1)
        return Evaluation(loss, accuracy, probs, confusion, list(data.classes))

    async def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for samples shaped like the model input (a single sample is fine)."""
        x = np.asarray(x, np.float32)
        if x.shape == self.spec.input_shape:
            x = x[None]
        if x.shape[1:] != self.spec.input_shape:
            raise DataError(f"samples must have shape {list(self.spec.input_shape)}, got {list(x.shape[1:])}")
        return await self.engine.predict(np.ascontiguousarray(x))

    async def grad_cam(self, x: np.ndarray, target: int | None = None, method: str = "gradcam") -> Any:
        """Where in one image the model looks for class `target` (default: the class it predicts):
        a Grad-CAM heat map from the last convolution layer (see `hearth.train.gradcam`)."""
        from hearth.train.gradcam import grad_cam

        return await grad_cam(self.engine, x, target, method)

    async def feature_maps(self, x: np.ndarray) -> list[tuple[LayerInfo, np.ndarray]]:
        """Each layer's output for one sample (or a batch): conv layers give (N, H, W, filters)."""
        x = np.asarray(x, np.float32)
        if x.shape == self.spec.input_shape:
            x = x[None]
        outputs = await self.engine.activations(np.ascontiguousarray(x))
        return list(zip(self.spec.summary, outputs, strict=True))

    async def weights(self) -> dict[str, np.ndarray]:
        return await self.engine.weights()

    async def to_project(self) -> Any:
        """Everything needed to carry on later or export: see `hearth.train.project.Project`."""
        from hearth.train.project import Project

        return Project(
            spec=self.spec.to_dict(), training=self.config.to_dict(), weights=await self.engine.weights(),
            optimizer_state=await self.engine.optimizer_state(), step=self.engine.step,
            history=[dict(h) for h in self.history], classes=list(self.classes),
            data={"name": self.data.name, "normalization": self.data.normalization,
                  "feature_names": list(self.data.feature_names), "sample_shape": list(self.data.sample_shape)},
            rng_state=self.rng.bit_generator.state)
