"""Activations, as layers of their own and as the `activation` option of dense and conv2d.

All act along the channel/feature axis where that matters (softmax): axis 1 of the graph's NCHW
or (batch, features) layout, which is the last axis of the user's HWC view.
"""

from __future__ import annotations

import math

from hearth.train.layers.base import Build, Layer


class Activation(Layer):
    options = {}

    def forward(self, b: Build, x: str, p: dict[str, str]) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    def backward(self, b: Build, dy: str, saved: dict[str, str], p: dict[str, str],
                 need_dx: bool) -> tuple[str | None, dict[str, str]]:
        return (self.grad(b, dy, saved) if need_dx else None), {}

    def grad(self, b: Build, dy: str, saved: dict[str, str]) -> str:
        raise NotImplementedError


class ReLU(Activation):
    type = "relu"

    def forward(self, b, x, p):
        y = b.g.op("Relu", x)
        b.relu_outputs.add(y)
        return y, {"y": y}

    def grad(self, b, dy, saved):
        if dy in b.relu_masked:  # a max pool after this ReLU already applied its mask (pooling.py)
            return dy
        return b.g.op("Where", b.g.op("Greater", saved["y"], b.scalar(0.0)), dy, b.scalar(0.0))


class LeakyReLU(Activation):
    type = "leaky_relu"
    options = {"alpha": 0.01}

    def infer(self):
        self.alpha = self.number("alpha", 0.0, 1.0)
        return self.in_shape

    def forward(self, b, x, p):
        return b.g.op("LeakyRelu", x, alpha=self.alpha), {"x": x}

    def grad(self, b, dy, saved):
        g = b.g
        return g.op("Where", g.op("Greater", saved["x"], b.scalar(0.0)), dy, g.op("Mul", dy, b.scalar(self.alpha)))


class ELU(Activation):
    type = "elu"
    options = {"alpha": 1.0}

    def infer(self):
        self.alpha = self.number("alpha", 0.0, 100.0)
        return self.in_shape

    def forward(self, b, x, p):
        y = b.g.op("Elu", x, alpha=self.alpha)
        return y, {"x": x, "y": y}

    def grad(self, b, dy, saved):
        # below zero, d/dx alpha*(e^x - 1) = alpha*e^x = y + alpha
        g = b.g
        below = g.op("Mul", dy, g.op("Add", saved["y"], b.scalar(self.alpha)))
        return g.op("Where", g.op("Greater", saved["x"], b.scalar(0.0)), dy, below)


class GELU(Activation):
    """The exact (erf) GELU; ONNX's Gelu op only arrives in opset 20, so it is spelled out."""

    type = "gelu"

    def forward(self, b, x, p):
        g = b.g
        cdf = g.op("Mul", g.op("Add", g.op("Erf", g.op("Mul", x, b.scalar(1 / math.sqrt(2)))), b.scalar(1.0)),
                   b.scalar(0.5))
        return g.op("Mul", x, cdf), {"x": x, "cdf": cdf}

    def grad(self, b, dy, saved):
        g = b.g
        x = saved["x"]
        pdf = g.op("Mul", g.op("Exp", g.op("Mul", g.op("Mul", x, x), b.scalar(-0.5))),
                   b.scalar(1 / math.sqrt(2 * math.pi)))
        return g.op("Mul", dy, g.op("Add", saved["cdf"], g.op("Mul", x, pdf)))


class Sigmoid(Activation):
    type = "sigmoid"

    def forward(self, b, x, p):
        y = b.g.op("Sigmoid", x)
        return y, {"y": y}

    def grad(self, b, dy, saved):
        g = b.g
        y = saved["y"]
        return g.op("Mul", dy, g.op("Mul", y, g.op("Sub", b.scalar(1.0), y)))


class Tanh(Activation):
    type = "tanh"

    def forward(self, b, x, p):
        y = b.g.op("Tanh", x)
        return y, {"y": y}

    def grad(self, b, dy, saved):
        g = b.g
        y = saved["y"]
        return g.op("Mul", dy, g.op("Sub", b.scalar(1.0), g.op("Mul", y, y)))


class Softmax(Activation):
    type = "softmax"

    def forward(self, b, x, p):
        y = b.g.op("Softmax", x, axis=1)
        return y, {"y": y}

    def grad(self, b, dy, saved):
        g = b.g
        y = saved["y"]
        return g.op("Mul", y, g.op("Sub", dy, b.reduce_sum(g.op("Mul", dy, y), [1])))


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.type: cls for cls in (ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, Softmax)
}
