"""Losses, each with its gradient and its accuracy count, emitted into the step graph.

Cross-entropies work from logits: a network whose last unit is softmax (sigmoid for binary
cross-entropy) hands the loss the values *before* it, so log(softmax) never underflows and the
gradient is the well-conditioned p - y. Without that final activation the outputs are taken as
logits anyway, and predictions are softmax/sigmoid of them, so both specs mean the same thing.
"""

from __future__ import annotations

from typing import ClassVar

from hearth.train.layers import Build


class Loss:
    name: ClassVar[str] = ""
    absorbs: ClassVar[str | None] = None  # the final activation this loss takes over

    def __init__(self, units: int) -> None:
        self.units = units  # outputs per sample

    def value(self, b: Build, out: str, y: str) -> tuple[str, str | None]:
        """(mean loss, number of correct predictions or None)."""
        raise NotImplementedError

    def grad(self, b: Build, out: str, y: str) -> str:
        """d loss / d out; `b.inv_n` is 1 / batch size."""
        raise NotImplementedError

    def probabilities(self, b: Build, out: str) -> str:
        """What the model predicts, from the values this loss was given."""
        return out

    @property
    def has_accuracy(self) -> bool:
        return True

    def accuracy_count(self, batch: int) -> int:
        """How many predictions one batch's `correct` counts out of."""
        return batch


def _count(b: Build, hit: str) -> str:
    g = b.g
    return b.reduce_sum(g.op("Where", hit, b.scalar(1.0), b.scalar(0.0)), [0, 1], keepdims=False)


def argmax_hits(b: Build, scores: str, y: str) -> str:
    """Rows whose true class (one-hot y) has the top score, without int64 ArgMax (spotty on WebGPU)."""
    g = b.g
    true_score = b.reduce_sum(g.op("Mul", scores, y), [1])
    return _count(b, g.op("Equal", true_score, b.reduce_max(scores, [1])))


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    absorbs = "softmax"

    def value(self, b, out, y):
        g = b.g
        log_p = g.op("LogSoftmax", out, axis=1)
        loss = g.op("Neg", b.reduce_mean(b.reduce_sum(g.op("Mul", y, log_p), [1], keepdims=False), [0], False))
        return loss, argmax_hits(b, out, y)

    def grad(self, b, out, y):
        g = b.g
        return g.op("Mul", g.op("Sub", g.op("Softmax", out, axis=1), y), b.inv_n)

    def probabilities(self, b, out):
        return b.g.op("Softmax", out, axis=1)


class BinaryCrossentropy(Loss):
    """Mean over every output of max(z,0) - z*y + log(1 + e^-|z|): stable for any logit z."""

    name = "binary_crossentropy"
    absorbs = "sigmoid"

    def value(self, b, out, y):
        g = b.g
        softplus = g.op("Log", g.op("Add", g.op("Exp", g.op("Neg", g.op("Abs", out))), b.scalar(1.0)))
        per = g.op("Add", g.op("Sub", g.op("Relu", out), g.op("Mul", out, y)), softplus)
        loss = b.reduce_mean(per, [0, 1], keepdims=False)
        hits = _count(b, g.op("Equal", g.op("Greater", out, b.scalar(0.0)), g.op("Greater", y, b.scalar(0.5))))
        return loss, hits

    def grad(self, b, out, y):
        g = b.g
        return g.op("Mul", g.op("Sub", g.op("Sigmoid", out), y), g.op("Mul", b.inv_n, b.scalar(1.0 / self.units)))

    def probabilities(self, b, out):
        return b.g.op("Sigmoid", out)

    def accuracy_count(self, batch):
        return batch * self.units


class MeanSquaredError(Loss):
    """Mean over every output; accuracy (argmax against a one-hot target) only with 2+ outputs."""

    name = "mean_squared_error"

    def value(self, b, out, y):
        g = b.g
        diff = g.op("Sub", out, y)
        loss = b.reduce_mean(g.op("Mul", diff, diff), [0, 1], keepdims=False)
        return loss, (argmax_hits(b, out, y) if self.units > 1 else None)

    def grad(self, b, out, y):
        g = b.g
        return g.op("Mul", g.op("Sub", out, y), g.op("Mul", b.inv_n, b.scalar(2.0 / self.units)))

    @property
    def has_accuracy(self):
        return self.units > 1


LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (CategoricalCrossentropy, BinaryCrossentropy,
                                                           MeanSquaredError)}
ALIASES = {"cce": "categorical_crossentropy", "crossentropy": "categorical_crossentropy",
           "bce": "binary_crossentropy", "mse": "mean_squared_error"}


def get_loss(name: str, units: int) -> Loss:
    name = ALIASES.get(name, name)
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name](units)
