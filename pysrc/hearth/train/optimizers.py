"""Optimizers as graph nodes: each turns (parameter, gradient, state) into their next values.

The update rules are torch.optim's (a run matches PyTorch step for step within float rounding);
`lr` and the step number `t` (1-based) are per-step graph inputs, so schedules and resumed runs need
no new graph. L2 is PyTorch's weight_decay: gradient += l2 * weight, on kernels only.

Every elementwise op here runs over every weight each step, so the rules are written with as few
ops as the algebra allows (scalars folded into per-step constants), and each final op is named
after the output it feeds (`out`), so no Identity copies the weights on their way out.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from hearth.train.layers import Build


class Optimizer:
    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, float | bool]] = {}
    slots: ClassVar[tuple[str, ...]] = ()  # state tensors per parameter, shaped like it

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.defaults)
        if unknown:
            raise ValueError(f"optimizer {self.name!r} has no option {sorted(unknown)[0]!r}; "
                             f"it takes {', '.join(self.defaults) or 'none'}")
        self.options = {**self.defaults, **options}
        for key, value in self.options.items():
            if isinstance(self.defaults[key], bool):
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"optimizer {self.name!r}: {key} must be a number >= 0, got {value!r}")

    def state_slots(self) -> tuple[str, ...]:
        return self.slots

    def init_state(self, param: np.ndarray) -> dict[str, np.ndarray]:
        return {slot: np.zeros_like(param) for slot in self.state_slots()}

    def prepare(self, b: Build, lr: str, t: str) -> None:
        """Per-graph scalars shared by every parameter's update (bias corrections)."""
        self.lr = lr

    def update(self, b: Build, param: str, grad: str, state: dict[str, str],
               out: dict[str, str]) -> tuple[str, dict[str, str]]:
        """(new parameter, new slots); `out` names the outputs: "param" and each slot."""
        raise NotImplementedError


class SGD(Optimizer):
    name = "sgd"
    defaults = {"momentum": 0.0, "nesterov": False}

    def state_slots(self):
        return ("velocity",) if self.options["momentum"] else ()

    def update(self, b, param, grad, state, out):
        g = b.g
        mu = self.options["momentum"]
        if not mu:
            return g.op("Sub", param, g.op("Mul", grad, self.lr), name=out["param"]), {}
        velocity = g.op("Add", g.op("Mul", state["velocity"], b.scalar(mu)), grad, name=out["velocity"])
        step = g.op("Add", grad, g.op("Mul", velocity, b.scalar(mu))) if self.options["nesterov"] else velocity
        return g.op("Sub", param, g.op("Mul", step, self.lr), name=out["param"]), {"velocity": velocity}


class Adam(Optimizer):
    """Adam with its moments kept undivided: M = m / (1 - beta1), V = v / (1 - beta2).

    Then M' = beta1 M + g and V' = beta2 V + g^2 (no (1 - beta) multiplies over every weight),
    and torch's update  lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)  becomes
    a * M / (sqrt(V) + e)  with  k = sqrt((1 - beta2) / bc2),  a = lr (1 - beta1) / (bc1 k),  e = eps / k.
    """

    name = "adam"
    defaults = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    slots = ("m", "v")

    def prepare(self, b, lr, t):
        g = b.g
        b1, b2 = self.options["beta1"], self.options["beta2"]
        self.lr = lr
        bc1 = g.op("Sub", b.scalar(1.0), g.op("Pow", b.scalar(b1), t))
        bc2 = g.op("Sub", b.scalar(1.0), g.op("Pow", b.scalar(b2), t))
        inv_k = g.op("Sqrt", g.op("Div", bc2, b.scalar(1.0 - b2)))  # 1 / k
        self.step_size = g.op("Mul", g.op("Div", g.op("Mul", lr, b.scalar(1.0 - b1)), bc1), inv_k)
        self.eps = g.op("Mul", b.scalar(self.options["epsilon"]), inv_k)

    def update(self, b, param, grad, state, out):
        g = b.g
        m = g.op("Add", g.op("Mul", state["m"], b.scalar(self.options["beta1"])), grad, name=out["m"])
        v = g.op("Add", g.op("Mul", state["v"], b.scalar(self.options["beta2"])), g.op("Mul", grad, grad),
                 name=out["v"])
        denom = g.op("Add", g.op("Sqrt", v), self.eps)
        new = g.op("Sub", param, g.op("Mul", g.op("Div", m, denom), self.step_size), name=out["param"])
        return new, {"m": m, "v": v}


class RMSprop(Optimizer):
    name = "rmsprop"
    defaults = {"alpha": 0.99, "epsilon": 1e-8}
    slots = ("square_avg",)

    def update(self, b, param, grad, state, out):
        g = b.g
        alpha = self.options["alpha"]
        sq = g.op("Add", g.op("Mul", state["square_avg"], b.scalar(alpha)),
                  g.op("Mul", g.op("Mul", grad, grad), b.scalar(1 - alpha)), name=out["square_avg"])
        denom = g.op("Add", g.op("Sqrt", sq), b.scalar(self.options["epsilon"]))
        new = g.op("Sub", param, g.op("Mul", g.op("Div", grad, denom), self.lr), name=out["param"])
        return new, {"square_avg": sq}


class Adagrad(Optimizer):
    name = "adagrad"
    defaults = {"epsilon": 1e-10, "initial_accumulator": 0.0}
    slots = ("sum",)

    def init_state(self, param):
        return {"sum": np.full_like(param, self.options["initial_accumulator"])}

    def update(self, b, param, grad, state, out):
        g = b.g
        total = g.op("Add", state["sum"], g.op("Mul", grad, grad), name=out["sum"])
        denom = g.op("Add", g.op("Sqrt", total), b.scalar(self.options["epsilon"]))
        new = g.op("Sub", param, g.op("Mul", g.op("Div", grad, denom), self.lr), name=out["param"])
        return new, {"sum": total}


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Adam, RMSprop, Adagrad)}


def get_optimizer(name: str, options: dict[str, Any] | None = None) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](**(options or {}))
