"""What every layer shares: the option checker, the layout rule, and the graph-building context.

Layout: the spec and the data speak HWC (height, width, channels), as a person and Keras do; inside
the graph a 3-D sample is CHW (NCHW with the batch), as ONNX Conv wants. `Layer.in_shape` and
`out_shape` are always the user's view; `internal()` gives the graph's.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hearth.graph import Graph
from hearth.i18n import t

REQUIRED = object()


class SpecError(ValueError):
    """A model spec that cannot be built; the message names the layer and what it needed."""


def describe(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def internal(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The graph's per-sample layout for a user-visible shape: HWC becomes CHW."""
    if len(shape) == 3:
        h, w, c = shape
        return (c, h, w)
    return tuple(shape)


def pair(value: Any, what: str, where: str) -> tuple[int, int]:
    if isinstance(value, bool):
        raise SpecError(t("{where}: {what} must be a whole number or [height, width], got {value}", where=where,
                          what=what, value=repr(value)))
    if isinstance(value, int):
        value = [value, value]
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise SpecError(t("{where}: {what} must be a whole number >= 1 or [height, width], got {value}", where=where,
                          what=what, value=repr(value)))
    return int(value[0]), int(value[1])


@dataclass
class Build:
    """The graph being built and what layers may ask of it while emitting nodes."""

    g: Graph
    training: bool
    # The graph runs only on a CPU provider (onnxruntime, onnxruntime-web wasm), so it may use ops or
    # outputs WebGPU lacks (MaxPool's indices) where they are faster there.
    cpu: bool = False
    inv_n: str | None = None  # 1 / batch size, a float scalar (training graphs only)
    buffer_updates: dict[str, str] = field(default_factory=dict)  # buffer input -> its new value
    step_inputs: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)  # per-batch feeds (masks)
    # ReLU outputs, and gradients with respect to one that are already zero wherever it is (its
    # backward then has nothing left to do): max pooling right after a ReLU masks on its small grid.
    relu_outputs: set[str] = field(default_factory=set)
    relu_masked: set[str] = field(default_factory=set)
    # How a per-step feed (x, y, schedule, masks) enters the graph: a graph input by default; a
    # training chunk (an ONNX Loop) reads that step's slice of a stacked outer input instead.
    feed: Callable[[str, list], str] | None = None
    _consts: dict[tuple, str] = field(default_factory=dict)

    def step_input(self, name: str, shape: list) -> str:
        """A float32 value fed anew each step, shaped `shape` (e.g. ["batch", 10])."""
        return self.feed(name, shape) if self.feed is not None else self.g.input(name, "float32", shape)

    def scalar(self, value: float) -> str:
        """A float32 scalar constant, shared by every node that uses the same value."""
        key = ("f", float(np.float32(value)))
        if key not in self._consts:
            self._consts[key] = self.g.const(np.float32(value), hint="k")
        return self._consts[key]

    def ints(self, values: list[int] | tuple[int, ...]) -> str:
        """An int64 1-D constant (shapes, axes), shared."""
        key = ("i", tuple(int(v) for v in values))
        if key not in self._consts:
            self._consts[key] = self.g.const(np.asarray(values, np.int64), hint="shape")
        return self._consts[key]

    def array(self, hint: str, array: np.ndarray) -> str:
        key = ("a", hint, array.dtype.str, array.shape, array.tobytes())
        if key not in self._consts:
            self._consts[key] = self.g.const(array, hint=hint)
        return self._consts[key]

    # ONNX 17 takes ReduceSum's axes as an input but ReduceMean/ReduceMax's as an attribute.
    def reduce_sum(self, x: str, axes: list[int], keepdims: bool = True) -> str:
        return self.g.op("ReduceSum", x, self.ints(axes), keepdims=int(keepdims))

    def reduce_mean(self, x: str, axes: list[int], keepdims: bool = True) -> str:
        return self.g.op("ReduceMean", x, axes=list(axes), keepdims=int(keepdims))

    def reduce_max(self, x: str, axes: list[int], keepdims: bool = True) -> str:
        return self.g.op("ReduceMax", x, axes=list(axes), keepdims=int(keepdims))


class Layer:
    """One unit of the network: shape inference, parameter init, forward and backward emission.

    `forward` returns the output value and whatever `backward` will need (the "saved" tensors);
    `backward` gets the output gradient and returns the input gradient (None when not asked for)
    and one gradient per parameter.
    """

    type: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: dict[str, Any], position: int, in_shape: tuple[int, ...], source: str) -> None:
        self.position = position
        self.in_shape = tuple(in_shape)
        self.source = source  # "flatten at position 2" or "the input", for messages
        self.where = t("{layer} at position {position}", layer=self.type, position=position)
        self.key = f"{self.type}_{position}"
        self.config = self._check_options(config)
        self.out_shape = self.infer()

    def _check_options(self, config: dict[str, Any]) -> dict[str, Any]:
        allowed = set(self.options) | {"type"}
        for name in config:
            if name not in allowed:
                close = difflib.get_close_matches(name, sorted(allowed), n=1)
                hint = t("did you mean {name}?", name=repr(close[0])) if close else \
                    t("it takes {options}", options=sorted(allowed - {"type"}))
                raise SpecError(t("{where} has an unknown option {name}; {hint}", where=self.where, name=repr(name),
                                  hint=hint))
        out = {}
        for name, default in self.options.items():
            if name not in config and default is REQUIRED:
                raise SpecError(t("{where} needs the option {name}", where=self.where, name=repr(name)))
            out[name] = config.get(name, default)
        return out

    def need_rank(self, rank: int, hint: str = "") -> None:
        if len(self.in_shape) != rank:
            raise SpecError(
                t("{where} needs a {rank}-D input, got {shape} from {source}", where=self.where, rank=rank,
                  shape=describe(self.in_shape), source=self.source) + (f"; {t(hint)}" if hint else "")
            )

    def positive_int(self, name: str) -> int:
        value = self.config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(t("{where}: {name} must be a whole number >= 1, got {value}", where=self.where, name=name,
                              value=repr(value)))
        return value

    def number(self, name: str, low: float, high: float, *, high_open: bool = False) -> float:
        value = self.config[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
        if ok and high_open and value >= high:
            ok = False
        if not ok:
            bound = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
            raise SpecError(t("{where}: {name} must be a number in {bound}, got {value}", where=self.where, name=name,
                              bound=bound, value=repr(value)))
        return float(value)

    # ---- to override
    def infer(self) -> tuple[int, ...]:
        return self.in_shape

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    def buffer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Non-trained state carried between steps (batchnorm's running statistics)."""
        return {}

    def decayed(self) -> set[str]:
        """Parameters that L2 applies to (kernels, not biases or norm scales)."""
        return set()

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {}

    def init_buffers(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, b: Build, x: str, p: dict[str, str]) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    def backward(self, b: Build, dy: str, saved: dict[str, str], p: dict[str, str],
                 need_dx: bool) -> tuple[str | None, dict[str, str]]:
        raise NotImplementedError

    @property
    def param_count(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    @property
    def macs(self) -> int:
        """Multiply-adds of one sample's forward pass (the matrix products; elementwise work is left out)."""
        return 0


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a torch-layout kernel: (out, in) or (out, in, kh, kw)."""
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


INITS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")


def init_kernel(name: str, shape: tuple[int, ...], rng: np.random.Generator, where: str) -> np.ndarray:
    fan_in, fan_out = fans(shape)
    if name == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, shape)
    elif name == "glorot_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)
    elif name == "he_uniform":
        limit = np.sqrt(6.0 / fan_in)
        w = rng.uniform(-limit, limit, shape)
    elif name == "he_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    else:
        raise SpecError(t("{where}: init must be one of {inits}, got {name}", where=where, inits=", ".join(INITS),
                          name=repr(name)))
    return w.astype(np.float32)
