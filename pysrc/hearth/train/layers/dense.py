"""Fully connected layer: y = x W^T + b, with W stored (units, inputs) as torch.nn.Linear does."""

from __future__ import annotations

import numpy as np

from hearth.i18n import N_, t
from hearth.train.layers.base import INITS, REQUIRED, Build, Layer, SpecError, init_kernel


class Dense(Layer):
    type = "dense"
    options = {"units": REQUIRED, "activation": None, "use_bias": True, "init": "glorot_uniform"}

    def infer(self):
        self.need_rank(1, N_("add a flatten layer before it"))
        self.units = self.positive_int("units")
        self.use_bias = bool(self.config["use_bias"])
        if self.config["init"] not in INITS:
            raise SpecError(t("{where}: init must be one of {inits}, got {name}", where=self.where, inits=", ".join(INITS),
                              name=repr(self.config["init"])))
        return (self.units,)

    def param_shapes(self):
        shapes = {"weight": (self.units, self.in_shape[0])}
        if self.use_bias:
            shapes["bias"] = (self.units,)
        return shapes

    def decayed(self):
        return {"weight"}

    @property
    def macs(self):
        return self.units * self.in_shape[0]

    def init_params(self, rng):
        params = {"weight": init_kernel(self.config["init"], self.param_shapes()["weight"], rng, self.where)}
        if self.use_bias:
            params["bias"] = np.zeros(self.units, np.float32)
        return params

    def forward(self, b: Build, x, p):
        args = [x, p["weight"]] + ([p["bias"]] if self.use_bias else [])
        return b.g.op("Gemm", *args, transB=1), {"x": x}

    def backward(self, b: Build, dy, saved, p, need_dx):
        g = b.g
        grads = {"weight": g.op("Gemm", dy, saved["x"], transA=1)}  # (units, inputs)
        if self.use_bias:
            grads["bias"] = b.reduce_sum(dy, [0], keepdims=False)
        dx = g.op("MatMul", dy, p["weight"]) if need_dx else None
        return dx, grads
