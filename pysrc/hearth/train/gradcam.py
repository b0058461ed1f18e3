"""Grad-CAM: where in one image a convolutional network looks when it scores a class.

A is the output of the network's last convolution layer (after its activation, as the feature-map
view shows it), C channels of h x w; y_c is class c's score, the last layer's output before its
softmax or sigmoid. Then

    alpha_k = mean over the h x w positions of d y_c / d A_k      (one weight per channel)
    heat    = ReLU(sum_k alpha_k A_k)                              (h x w)

and the heat map shown over the image is `heat` scaled up to the input's size (bilinear) and divided
by its maximum. The same graph also gives the map without the averaging,

    places  = ReLU(sum_k (d y_c / d A_k) * A_k)                    (h x w; known as HiResCAM)

which, where only pooling, flatten and one dense layer follow A, is each place's exact share of the
score (less the bias). Grad-CAM's average over
places is what makes it smooth for networks ending in deep convolutions and pooling, and also what
empties it when a dense head weighs each place differently: on the Small CNN preset, after a few
epochs on digits, nearly every Grad-CAM map is all zeros while the per-place map traces the strokes.

The gradient is emitted by the layers' own `backward` (`hearth.train.layers`), the code the
training step is made of, in one ONNX graph run by the same runtime as training:

    inputs   x (batch, *input HWC), direction (batch, outputs), every parameter and buffer
    outputs  heatmap (batch, h, w), places (batch, h, w), channel_weights (batch, C),
             probabilities (batch, outputs)

`direction` is d score / d outputs: one-hot for class c; for a single sigmoid output, +1 for the
second class and -1 for the first (the first class's score is minus the logit).

Owns: the Grad-CAM graph, the choice of its layer, the scaling up, the result for the pages.
Imports: numpy, hearth.graph, hearth.train's layers, losses, spec and step-graph helpers; the engine
only as a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hearth.graph import Graph
from hearth.i18n import t
from hearth.train.layers import Build, Layer
from hearth.train.losses import Loss
from hearth.train.spec import LayerInfo, ModelSpec
from hearth.train.step_graph import OPSET, _batch_input, _inputs, _probabilities, _trained_units

if TYPE_CHECKING:
    from hearth.train.engine import Engine

__all__ = ["GradCam", "GradCamError", "METHODS", "build_gradcam", "target_layer", "upsample", "direction",
           "grad_cam"]

METHODS = {"gradcam": "heatmap", "places": "places"}  # method -> the graph output it shows


class GradCamError(ValueError):
    """A Grad-CAM request this model or input cannot answer; the message says what to change."""


@dataclass
class GradCam:
    heatmap: np.ndarray  # (H, W) in [0, 1] at the input's size; all zeros where nothing speaks for the class
    cam: np.ndarray  # (h, w) the raw map at the convolution layer's size, before scaling
    method: str  # "gradcam" or "places" (see the module docstring)
    channel_weights: np.ndarray  # (C,) alpha: how much each filter of that layer counts for the class
    target: int  # the class the map is for
    probabilities: np.ndarray  # (outputs,) what the model predicts for this image
    layer: LayerInfo  # the convolution layer the map comes from


def target_layer(spec: ModelSpec) -> int:
    """Index (in `spec.units`) of the unit whose output Grad-CAM weighs: the last unit of the last
    conv2d layer's position, so a conv2d with an activation is taken after the activation."""
    convs = [unit.position for unit in spec.units if unit.type == "conv2d"]
    if not convs:
        raise GradCamError(t("Grad-CAM shows where the last convolution layer looks, and this network has no conv2d "
                             "layer; add one (or use a CNN preset) and train again"))
    return max(i for i, unit in enumerate(spec.units) if unit.position == convs[-1])


def _score_end(units: list[Layer]) -> int:
    """Index of the unit whose output is the class scores: a final softmax or sigmoid is left out."""
    return len(units) - 2 if units[-1].type in ("softmax", "sigmoid") else len(units) - 1


def build_gradcam(spec: ModelSpec, loss: Loss) -> bytes:
    """The Grad-CAM graph (see the module docstring); weights are inputs, fed as runtime handles."""
    target = target_layer(spec)
    g = Graph(f"{spec.name}_gradcam")
    b = Build(g, training=False)
    names = _inputs(g, spec, None)
    h = _batch_input(g, b, spec)
    units = _trained_units(spec, loss)
    steps = []
    for unit in units:
        p = {local: names[full] for local, full in spec.names(unit).items()}
        h, keep = unit.forward(b, h, p)
        steps.append((unit, p, keep, h))
    end = _score_end(units)
    activation = steps[target][3]  # (N, C, h, w)
    grad = g.input("direction", "float32", ["batch", spec.units_out])
    for unit, p, keep, _ in reversed(steps[target + 1:end + 1]):
        grad, _ = unit.backward(b, grad, keep, p, True)
    alpha = b.reduce_mean(grad, [2, 3])  # (N, C, 1, 1)
    heat = g.op("Relu", b.reduce_sum(g.op("Mul", alpha, activation), [1], keepdims=False))
    size = ["batch", *spec.units[target].out_shape[:2]]
    g.output(heat, "float32", size, name="heatmap")
    places = g.op("Relu", b.reduce_sum(g.op("Mul", grad, activation), [1], keepdims=False))
    g.output(places, "float32", size, name="places")
    channels = spec.units[target].out_shape[2]
    g.output(g.op("Reshape", alpha, b.ints([-1, channels])), "float32", ["batch", channels],
             name="channel_weights")
    probabilities = _probabilities(b, spec, loss, steps[-1][3])
    if probabilities == steps[-1][3]:
        probabilities = g.op("Identity", probabilities)  # an output of its own, as build_activations does
    g.output(probabilities, "float32", ["batch", spec.units_out], name="probabilities")
    return g.to_bytes(opset=OPSET)


def direction(target: int, outputs: int, batch: int = 1) -> np.ndarray:
    """d score / d outputs for class `target` (see the module docstring), one row per image."""
    if outputs == 1:
        if target not in (0, 1):
            raise GradCamError(f"this model has one output (two classes: 0 and 1), not class {target}")
        row = np.asarray([1.0 if target == 1 else -1.0], np.float32)
    else:
        if not 0 <= target < outputs:
            raise GradCamError(f"choose a class from 0 to {outputs - 1}, not {target}")
        row = np.zeros(outputs, np.float32)
        row[target] = 1.0
    return np.tile(row, (batch, 1))


def _weights(source: int, size: int) -> np.ndarray:
    """(size, source) linear interpolation weights with half-pixel centres and edges held, as torch's
    interpolate(mode="bilinear", align_corners=False) samples."""
    where = np.clip((np.arange(size) + 0.5) * source / size - 0.5, 0.0, None)
    low = np.minimum(np.floor(where).astype(int), source - 1)
    high = np.minimum(low + 1, source - 1)
    frac = where - low
    out = np.zeros((size, source))
    out[np.arange(size), low] += 1.0 - frac
    out[np.arange(size), high] += frac
    return out


def upsample(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """An (h, w) map scaled to (height, width), bilinear."""
    cam = np.asarray(cam, np.float64)
    return (_weights(cam.shape[0], height) @ cam @ _weights(cam.shape[1], width).T).astype(np.float32)


async def grad_cam(engine: Engine, x: np.ndarray, target: int | None = None, method: str = "gradcam") -> GradCam:
    """Grad-CAM (or, with method "places", the per-place map) for one image shaped like the model
    input and class index `target` (default: the class the model predicts for it)."""
    if method not in METHODS:
        raise GradCamError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    spec = engine.spec
    layer_index = target_layer(spec)  # first: a network without one cannot be helped by another input
    x = np.asarray(x, np.float32)
    if x.shape == spec.input_shape:
        x = x[None]
    if x.shape != (1, *spec.input_shape):
        raise GradCamError(f"Grad-CAM takes one image shaped {list(spec.input_shape)}, got {list(x.shape)}")
    if target is None:
        probabilities = (await engine.predict(x))[0]
        target = int(probabilities.argmax()) if len(probabilities) > 1 else int(probabilities[0] > 0.5)
    out = await engine.grad_cam(np.ascontiguousarray(x), direction(target, spec.units_out))
    cam = out[METHODS[method]][0]
    heat = upsample(cam, *spec.input_shape[:2])
    peak = float(heat.max())
    heatmap = heat / peak if peak > 0 else np.zeros_like(heat)
    position = spec.units[layer_index].position
    info = next(i for i in spec.summary if i.position == position)
    return GradCam(np.clip(heatmap, 0.0, 1.0), cam, method, out["channel_weights"][0], target,
                   out["probabilities"][0], info)
