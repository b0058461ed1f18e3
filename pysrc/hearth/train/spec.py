"""The model spec: a versioned JSON description of a sequential network, and its training settings.

    {"version": 1, "input": [28, 28, 1],
     "layers": [{"type": "conv2d", "filters": 8, "kernel": 3, "activation": "relu"},
                {"type": "maxpool2d", "size": 2}, {"type": "flatten"},
                {"type": "dense", "units": 10, "activation": "softmax"}],
     "training": {"loss": "categorical_crossentropy", "optimizer": "adam", "learning_rate": 0.001}}

Parsing builds every layer, so a spec that parses is one that compiles: `summary` gives each
layer's output shape and parameter count for the UI's table, and a bad stack fails here with a
message that names the layer and what it needed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hearth.i18n import t
from hearth.train.augment import Augmentation, AugmentationError
from hearth.train.layers import Layer, SpecError, build, describe
from hearth.train.losses import ALIASES, LOSSES
from hearth.train.optimizers import OPTIMIZERS, get_optimizer

SPEC_VERSION = 1

__all__ = ["SPEC_VERSION", "SpecError", "LayerInfo", "ModelSpec", "TrainConfig"]


@dataclass(frozen=True)
class LayerInfo:
    position: int  # 1-based, as the UI numbers layers
    type: str
    output_shape: tuple[int, ...]  # the user's layout (HWC)
    params: int


class ModelSpec:
    """A checked spec: the units the graphs are built from, and the training section."""

    def __init__(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise SpecError(f"a model spec is a JSON object, got {type(data).__name__}")
        version = data.get("version", SPEC_VERSION)
        if version != SPEC_VERSION:
            raise SpecError(f"this Hearth reads spec version {SPEC_VERSION}, the spec says {version!r}")
        unknown = set(data) - {"version", "input", "layers", "training", "name"}
        if unknown:
            raise SpecError(f"the spec has unknown key(s) {sorted(unknown)}; it takes version, input, layers, "
                            "training, name")
        shape = data.get("input")
        if (not isinstance(shape, list) or len(shape) not in (1, 3)
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)):
            raise SpecError(f"input must be [features] or [height, width, channels] of whole numbers >= 1, "
                            f"got {shape!r}")
        layers = data.get("layers")
        if not isinstance(layers, list) or not layers:
            raise SpecError("layers must be a non-empty list")
        self.data = json.loads(json.dumps(data))  # a private copy, JSON-clean
        self.name = str(data.get("name", "model"))
        self.input_shape: tuple[int, ...] = tuple(shape)
        self.units: list[Layer] = []
        self.summary: list[LayerInfo] = []
        current, source = self.input_shape, t("the input")
        for position, config in enumerate(layers, start=1):
            units = build(config, position, current, source)
            self.units += units
            current = units[-1].out_shape
            source = units[0].where
            self.summary.append(LayerInfo(position, units[0].type, current, sum(u.param_count for u in units)))
        self.output_shape = current
        if len(self.output_shape) != 1:
            raise SpecError(t("the last layer must give a flat output (one value per class), got {shape} from {source}; "
                              "end with flatten and dense", shape=describe(self.output_shape), source=source))
        self.training = TrainConfig.from_dict(data.get("training") or {}, default_loss=self._default_loss())

    @classmethod
    def from_json(cls, text: str | bytes | dict[str, Any]) -> ModelSpec:
        if isinstance(text, dict):
            return cls(text)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecError(f"the spec is not valid JSON: {error}") from None
        return cls(data)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.data))

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2)

    def _default_loss(self) -> str:
        last = self.units[-1]
        if last.type == "sigmoid":
            return "binary_crossentropy"
        if last.type == "softmax" or self.output_shape[0] > 1:
            return "categorical_crossentropy"
        return "mean_squared_error"

    @property
    def units_out(self) -> int:
        return self.output_shape[0]

    @property
    def param_count(self) -> int:
        return sum(info.params for info in self.summary)

    @property
    def macs(self) -> int:
        """Multiply-adds of one sample's forward pass through the whole model."""
        return sum(unit.macs for unit in self.units)

    def names(self, unit: Layer) -> dict[str, str]:
        """Local parameter/buffer names of a unit -> the global names used in graphs and files."""
        return {name: f"{unit.key}.{name}" for name in [*unit.param_shapes(), *unit.buffer_shapes()]}

    def param_names(self) -> list[str]:
        return [f"{u.key}.{n}" for u in self.units for n in u.param_shapes()]

    def buffer_names(self) -> list[str]:
        return [f"{u.key}.{n}" for u in self.units for n in u.buffer_shapes()]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Global name -> shape of every parameter and buffer."""
        return {f"{u.key}.{n}": tuple(s) for u in self.units
                for n, s in {**u.param_shapes(), **u.buffer_shapes()}.items()}

    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        """Parameters and buffers, each layer drawn from its own stream so that editing one layer
        leaves the others' starting weights unchanged."""
        weights: dict[str, np.ndarray] = {}
        for unit in self.units:
            rng = np.random.default_rng([seed, unit.position])
            for name, value in {**unit.init_params(rng), **unit.init_buffers()}.items():
                weights[f"{unit.key}.{name}"] = value
        return weights

    def check_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Raise SpecError if `weights` do not fit this spec (a project from another model)."""
        for unit in self.units:
            for name, shape in {**unit.param_shapes(), **unit.buffer_shapes()}.items():
                key = f"{unit.key}.{name}"
                if key not in weights:
                    raise SpecError(f"the weights have no {key!r} for {unit.where}")
                if tuple(weights[key].shape) != tuple(shape):
                    raise SpecError(f"{key!r} for {unit.where} has shape {tuple(weights[key].shape)}, "
                                    f"the spec needs {tuple(shape)}")


@dataclass
class TrainConfig:
    """How to train; the spec's "training" section, overridable from the UI or the command line."""

    loss: str = "categorical_crossentropy"
    optimizer: str = "adam"
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    learning_rate: float = 0.001
    batch_size: int = 32
    epochs: int = 10
    validation_split: float = 0.2
    shuffle: bool = True
    l2: float = 0.0
    seed: int = 0
    # image augmentation of training batches (hearth.train.augment): {"rotation": 15, "flip": true, ...}
    augmentation: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], default_loss: str = "categorical_crossentropy") -> TrainConfig:
        if not isinstance(data, dict):
            raise SpecError(f"training must be an object, got {data!r}")
        data = dict(data)
        optimizer = data.get("optimizer", "adam")
        if isinstance(optimizer, dict):
            optimizer = dict(optimizer)
            data["optimizer"] = optimizer.pop("type", "adam")
            data["optimizer_options"] = {**optimizer, **data.get("optimizer_options", {})}
        data.setdefault("loss", default_loss)
        names = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - names
        if unknown:
            raise SpecError(f"training has unknown key(s) {sorted(unknown)}; it takes {', '.join(sorted(names))}")
        config = cls(**data)
        config.check()
        return config

    def check(self) -> None:
        self.loss = ALIASES.get(self.loss, self.loss)
        if self.loss not in LOSSES:
            raise SpecError(f"training.loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise SpecError(f"training.optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        try:
            get_optimizer(self.optimizer, self.optimizer_options)
        except ValueError as error:
            raise SpecError(f"training: {error}") from None
        checks = [("learning_rate", self.learning_rate, 0.0, 10.0),
                  ("validation_split", self.validation_split, 0.0, 0.9), ("l2", self.l2, 0.0, 1.0)]
        for name, value, low, high in checks:
            if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
                raise SpecError(t("training.{name} must be a number in [{low}, {high}], got {value}", name=name, low=low,
                                  high=high, value=repr(value)))
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SpecError(t("training.{name} must be a whole number >= 1, got {value}", name=name,
                                  value=repr(value)))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise SpecError(f"training.seed must be a whole number >= 0, got {self.seed!r}")
        try:
            self.augmentation = Augmentation.from_dict(self.augmentation).to_dict()
        except AugmentationError as error:
            raise SpecError(f"training.{error}") from None

    def replace(self, **changes: Any) -> TrainConfig:
        data = {**asdict(self), **{k: v for k, v in changes.items() if v is not None}}
        config = TrainConfig(**data)
        config.check()
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
