"""Assembles the graphs a model runs: one training step, evaluation, prediction, feature maps.

The training step is a single ONNX graph — forward, loss, backward (each unit's own backward, in
reverse), L2, optimizer update — so one `Session.run` is one step and the runtime can chain steps
without Python touching the weights:

    inputs   x (batch, *input HWC), y (batch, classes), schedule = [lr, t], dropout masks,
             every parameter, buffer and optimizer slot
    outputs  loss, correct, and "<name>.next" for each of those carried tensors
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hearth.graph import Graph
from hearth.train.layers import Build, Layer
from hearth.train.layers.dropout import Dropout
from hearth.train.layers.reshape import to_internal, to_user
from hearth.train.losses import Loss
from hearth.train.optimizers import Optimizer
from hearth.train.spec import ModelSpec

OPSET = 17


def next_name(name: str) -> str:
    return f"{name}.next"


@dataclass
class TrainStep:
    model: bytes
    state: list[str]  # carried inputs: parameters, buffers, optimizer slots
    carry: dict[str, str]  # output -> the input it feeds next step
    fetch: list[str]  # per-step outputs Python reads: loss (and correct)
    dropouts: list[Dropout]  # whose masks each batch must carry


def _inputs(g: Graph, spec: ModelSpec, weights: dict[str, np.ndarray] | None) -> dict[str, str]:
    """Every parameter and buffer: graph inputs (fed as runtime handles) or embedded initializers."""
    names = {}
    for unit in spec.units:
        shapes = {**unit.param_shapes(), **unit.buffer_shapes()}
        for local, full in spec.names(unit).items():
            if weights is None:
                names[full] = g.input(full, "float32", list(shapes[local]))
            else:
                names[full] = g.initializer(full, np.asarray(weights[full], np.float32))
    return names


def _batch_input(g: Graph, b: Build, spec: ModelSpec) -> str:
    x = g.input("x", "float32", ["batch", *spec.input_shape])
    return to_internal(b, x, len(spec.input_shape))


def _trained_units(spec: ModelSpec, loss: Loss) -> list[Layer]:
    """The units before the loss: a final softmax/sigmoid is folded into the loss (from logits)."""
    if loss.absorbs is not None and spec.units[-1].type == loss.absorbs:
        return spec.units[:-1]
    return spec.units


def _forward(b: Build, spec: ModelSpec, units: list[Layer], x: str, names: dict[str, str]):
    saved = []
    for unit in units:
        p = {local: names[full] for local, full in spec.names(unit).items()}
        x, keep = unit.forward(b, x, p)
        saved.append((unit, p, keep))
    return x, saved


def _batch_size_inverse(b: Build, y: str) -> str:
    """1 / batch size, counted in float ops: Shape -> Cast would put an int64 Cast on WebGPU."""
    g = b.g
    ones = g.op("Add", g.op("Mul", b.reduce_sum(y, [1]), b.scalar(0.0)), b.scalar(1.0))  # (batch, 1)
    return g.op("Reciprocal", b.reduce_sum(ones, [0, 1], keepdims=False))


def build_train_step(spec: ModelSpec, loss: Loss, optimizer: Optimizer, l2: float = 0.0) -> TrainStep:
    g = Graph(f"{spec.name}_train_step")
    b = Build(g, training=True)
    names = _inputs(g, spec, None)
    x = _batch_input(g, b, spec)
    y = g.input("y", "float32", ["batch", spec.units_out])
    # one small per-step tensor instead of two: each feed is an awaited JS call in the browser
    schedule = g.input("schedule", "float32", [2])  # [learning rate, step number t (1-based)]
    lr = g.op("Slice", schedule, b.ints([0]), b.ints([1]), name="lr")
    t = g.op("Slice", schedule, b.ints([1]), b.ints([2]), name="t")
    b.inv_n = _batch_size_inverse(b, y)

    units = _trained_units(spec, loss)
    out, saved = _forward(b, spec, units, x, names)
    loss_value, correct = loss.value(b, out, y)
    grad = loss.grad(b, out, y)

    grads: dict[str, str] = {}
    has_params = [bool(u.param_shapes()) for u in units]
    for i in range(len(saved) - 1, -1, -1):
        unit, p, keep = saved[i]
        need_dx = any(has_params[:i])
        dx, unit_grads = unit.backward(b, grad, keep, p, need_dx)
        for local, value in unit_grads.items():
            if l2 and local in unit.decayed():
                value = g.op("Add", value, g.op("Mul", p[local], b.scalar(l2)))
            grads[p[local]] = value
        if not need_dx:
            break
        grad = dx

    optimizer.prepare(b, lr, t)
    shapes = spec.shapes()
    state, carry = [], {}
    for name in spec.param_names():
        shape = list(shapes[name])
        slots = {slot: g.input(f"{name}.{slot}", "float32", shape) for slot in optimizer.state_slots()}
        out = {"param": next_name(name), **{slot: next_name(f"{name}.{slot}") for slot in slots}}
        new_param, new_slots = optimizer.update(b, name, grads[name], slots, out)
        for local, value in [(name, new_param), *((f"{name}.{s}", v) for s, v in new_slots.items())]:
            state.append(local)
            carry[g.output(value, "float32", shape)] = local
    for name in spec.buffer_names():
        state.append(name)
        carry[g.output(b.buffer_updates[name], "float32", list(shapes[name]), name=next_name(name))] = name

    fetch = [g.output(loss_value, "float32", [], name="loss")]
    if correct is not None:
        fetch.append(g.output(correct, "float32", [], name="correct"))
    dropouts = [u for u in units if isinstance(u, Dropout) and u.rate > 0]
    return TrainStep(g.to_bytes(opset=OPSET), state, carry, fetch, dropouts)


def build_eval(spec: ModelSpec, loss: Loss) -> bytes:
    """x, y, weights -> loss, correct (if the loss has an accuracy), probabilities; no update."""
    g = Graph(f"{spec.name}_eval")
    b = Build(g, training=False)
    names = _inputs(g, spec, None)
    x = _batch_input(g, b, spec)
    y = g.input("y", "float32", ["batch", spec.units_out])
    out, _ = _forward(b, spec, _trained_units(spec, loss), x, names)
    loss_value, correct = loss.value(b, out, y)
    g.output(loss_value, "float32", [], name="loss")
    if correct is not None:
        g.output(correct, "float32", [], name="correct")
    g.output(_probabilities(b, spec, loss, out), "float32", ["batch", spec.units_out], name="probabilities")
    return g.to_bytes(opset=OPSET)


def _probabilities(b: Build, spec: ModelSpec, loss: Loss, out: str) -> str:
    return loss.probabilities(b, out) if loss.absorbs is not None else out


def build_predict(spec: ModelSpec, loss: Loss, weights: dict[str, np.ndarray] | None = None,
                  metadata: dict[str, str] | None = None) -> bytes:
    """x -> probabilities. With `weights` they are embedded (the exported inference model);
    without, they are inputs fed from the runtime handles of a model being trained."""
    g = Graph(spec.name)
    b = Build(g, training=False)
    names = _inputs(g, spec, weights)
    x = _batch_input(g, b, spec)
    out, _ = _forward(b, spec, _trained_units(spec, loss), x, names)
    g.output(_probabilities(b, spec, loss, out), "float32", ["batch", spec.units_out], name="probabilities")
    return g.to_bytes(opset=OPSET, metadata=metadata)


def build_activations(spec: ModelSpec) -> tuple[bytes, list[str]]:
    """x -> every spec layer's output in the user's layout (N, H, W, C) or (N, F): for the UI's
    feature-map view. Returns the model and its output names, one per layer position."""
    g = Graph(f"{spec.name}_activations")
    b = Build(g, training=False)
    names = _inputs(g, spec, None)
    h = _batch_input(g, b, spec)
    outputs = []
    for i, unit in enumerate(spec.units):
        p = {local: names[full] for local, full in spec.names(unit).items()}
        h, _ = unit.forward(b, h, p)
        last_of_position = i + 1 == len(spec.units) or spec.units[i + 1].position != unit.position
        if last_of_position:
            shape = unit.out_shape
            value = to_user(b, h, len(shape))
            if value == h:  # an output must be its own value, not one a later node reads under the same name
                value = g.op("Identity", h)
            outputs.append(g.output(value, "float32", ["batch", *shape], name=f"layer{unit.position}"))
    return g.to_bytes(opset=OPSET), outputs
