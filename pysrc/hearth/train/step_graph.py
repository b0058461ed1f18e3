"""Assembles the graphs a model runs: one training step, evaluation, prediction, feature maps.

The training step is a single ONNX graph — forward, loss, backward (each unit's own backward, in
reverse), L2, optimizer update — so one `Session.run` is one step and the runtime can chain steps
without Python touching the weights:

    inputs   x (batch, *input HWC), y (batch, classes), schedule = [lr, t], dropout masks,
             every parameter, buffer and optimizer slot
    outputs  loss, correct, and "<name>.next" for each of those carried tensors

`build_train_chunk` wraps that same step in an ONNX Loop over the chunk's batches, so one run is a
whole chunk of steps (how CPython and wasm train); `build_train_step` is the single step (WebGPU, where a
Loop would run on the CPU).
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
    stacked: bool = False  # one run takes many steps' feeds end to end (build_train_chunk)


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


def state_names(spec: ModelSpec, optimizer: Optimizer) -> list[str]:
    """Everything a step carries to the next: each parameter followed by its optimizer slots, then buffers."""
    names = []
    for name in spec.param_names():
        names += [name, *(f"{name}.{slot}" for slot in optimizer.state_slots())]
    return names + list(spec.buffer_names())


def _state_shapes(spec: ModelSpec, optimizer: Optimizer) -> dict[str, list[int]]:
    shapes = spec.shapes()
    out = {}
    for name in state_names(spec, optimizer):
        param = name.rsplit(".", 1)[0] if name not in shapes else name
        out[name] = list(shapes[param])
    return out


def _train_body(b: Build, spec: ModelSpec, loss: Loss, optimizer: Optimizer, l2: float,
                state_in: dict[str, str], out_name) -> tuple[dict[str, str], str, str | None, list[Layer]]:
    """The nodes of one step: forward, loss, backward, update. Per-step feeds come through
    `b.step_input`, carried values from `state_in`; returns the next value of each carried name
    (final ops named by `out_name`), the loss, the correct count (or None) and the trained units."""
    g = b.g
    x = to_internal(b, b.step_input("x", ["batch", *spec.input_shape]), len(spec.input_shape))
    y = b.step_input("y", ["batch", spec.units_out])
    # one small per-step tensor instead of two: each feed is an awaited JS call in the browser
    schedule = b.step_input("schedule", [2])  # [learning rate, step number t (1-based)]
    lr = g.op("Slice", schedule, b.ints([0]), b.ints([1]), name="lr")
    t = g.op("Slice", schedule, b.ints([1]), b.ints([2]), name="t")
    b.inv_n = _batch_size_inverse(b, y)

    names = {full: state_in[full] for full in [*spec.param_names(), *spec.buffer_names()]}
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
    following: dict[str, str] = {}
    for name in spec.param_names():
        slots = {slot: state_in[f"{name}.{slot}"] for slot in optimizer.state_slots()}
        out_names = {"param": out_name(name), **{slot: out_name(f"{name}.{slot}") for slot in slots}}
        following[name], new_slots = optimizer.update(b, names[name], grads[names[name]], slots, out_names)
        following.update({f"{name}.{slot}": value for slot, value in new_slots.items()})
    for name in spec.buffer_names():
        following[name] = b.buffer_updates[names[name]]
    return following, loss_value, correct, units


def _dropouts(units: list[Layer]) -> list[Dropout]:
    return [u for u in units if isinstance(u, Dropout) and u.rate > 0]


def build_train_step(spec: ModelSpec, loss: Loss, optimizer: Optimizer, l2: float = 0.0) -> TrainStep:
    """One optimizer step per run; the runtime chains runs with `Session.run_steps`."""
    g = Graph(f"{spec.name}_train_step")
    b = Build(g, training=True)
    shapes = _state_shapes(spec, optimizer)
    state = state_names(spec, optimizer)
    state_in = {name: g.input(name, "float32", shapes[name]) for name in state}
    following, loss_value, correct, units = _train_body(b, spec, loss, optimizer, l2, state_in, next_name)
    carry = {g.output(following[name], "float32", shapes[name], name=next_name(name)): name for name in state}
    fetch = [g.output(loss_value, "float32", [], name="loss")]
    if correct is not None:
        fetch.append(g.output(correct, "float32", [], name="correct"))
    return TrainStep(g.to_bytes(opset=OPSET), state, carry, fetch, _dropouts(units))


def build_train_chunk(spec: ModelSpec, loss: Loss, optimizer: Optimizer, l2: float = 0.0) -> TrainStep:
    """Many optimizer steps per run: an ONNX Loop whose body is the step of `build_train_step`.

    Per-sample feeds ("x", "y", dropout masks) arrive as the chunk's batches one after another
    along axis 0, and "schedule" (steps, 4) holds each step's [lr, t, first sample, end sample];
    step i slices its rows, so batches of any sizes (an epoch's short last one too) share one run.
    Weights and optimizer slots pass from step to step inside the runtime, so one run costs one copy
    of them in and out (onnxruntime-web copies every input and output between JS and wasm memory on
    each run) and one JS<->wasm crossing, whatever the number of steps.
    Outputs: each carried "<name>.next" after the last step, and "loss"/"correct" of every step.
    """
    g = Graph(f"{spec.name}_train_chunk")
    body = Graph(f"{spec.name}_train_step")
    b = Build(body, training=True, cpu=True)
    step = body.input("loop.step", "int64", [])
    cond = body.input("loop.cond", "bool", [])

    g.input("schedule", "float32", ["steps", 4])
    row = body.op("Gather", "schedule", step, axis=0, name="chunk.row")  # an outer-scope value: this step's
    rows = body.op("Cast", body.op("Slice", row, b.ints([2]), b.ints([4])), to=7, name="chunk.rows")  # int64

    def feed(name: str, shape: list) -> str:
        if name == "schedule":  # [lr, t, ...]: the step body reads its first two
            return row
        g.input(name, "float32", ["samples", *shape[1:]])
        return body.op("Slice", name, body.op("Slice", rows, b.ints([0]), b.ints([1])),
                       body.op("Slice", rows, b.ints([1]), b.ints([2])), b.ints([0]))

    b.feed = feed
    shapes = _state_shapes(spec, optimizer)
    state = state_names(spec, optimizer)
    for name in state:
        g.input(name, "float32", shapes[name])
    state_in = {name: body.input(f"loop.{name}", "float32", shapes[name]) for name in state}
    following, loss_value, correct, units = _train_body(b, spec, loss, optimizer, l2, state_in,
                                                        lambda name: f"loop.{next_name(name)}")
    body.output(body.op("Identity", cond), "bool", [])
    for name in state:
        body.output(following[name], "float32", shapes[name], name=f"loop.{next_name(name)}")
    body.output(loss_value, "float32", [], name="loop.loss")
    fetch = ["loss"]
    if correct is not None:
        body.output(correct, "float32", [], name="loop.correct")
        fetch.append("correct")

    steps = g.op("Gather", g.op("Shape", "schedule", name="chunk.schedule_shape"),
                 g.const(np.asarray(0, np.int64), hint="chunk.zero"), axis=0, name="chunk.steps")
    outputs = [next_name(name) for name in state] + fetch
    g.op("Loop", steps, "", *state, outputs=len(outputs), name=outputs, body=body.subgraph())
    for name in state:
        g.output(next_name(name), "float32", shapes[name])
    for name in fetch:
        g.output(name, "float32", ["steps"])
    return TrainStep(g.to_bytes(opset=OPSET), state, {next_name(n): n for n in state}, fetch, _dropouts(units),
                     stacked=True)


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
