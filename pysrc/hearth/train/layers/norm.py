"""Batch and layer normalisation, written out with Reduce ops so their backward sits beside them.

Batchnorm follows PyTorch (momentum 0.1 = weight of the new batch in the running average,
eps 1e-5, unbiased running variance) so that a run matches torch step for step. Layernorm
normalises the last axis of the user's view: the features, or the channels of each pixel.
"""

from __future__ import annotations

import numpy as np

from hearth.train.layers.base import Build, Layer


class _Norm(Layer):
    options = {"epsilon": 1e-5}

    def infer(self):
        self.eps = self.number("epsilon", 0.0, 1.0)
        self.channels = self.in_shape[-1]
        self.rank = len(self.in_shape)
        return self.in_shape

    def param_shapes(self):
        return {"weight": (self.channels,), "bias": (self.channels,)}

    def init_params(self, rng):
        return {"weight": np.ones(self.channels, np.float32), "bias": np.zeros(self.channels, np.float32)}

    def _per_channel(self, b: Build, v: str) -> str:
        """A (C,) vector shaped to broadcast over NCHW or (N, C)."""
        return b.g.op("Reshape", v, b.ints([self.channels, 1, 1])) if self.rank == 3 else v

    @property
    def _other_axes(self) -> list[int]:
        return [0, 2, 3] if self.rank == 3 else [0]

    def _affine(self, b: Build, xhat: str, p) -> str:
        g = b.g
        return g.op("Add", g.op("Mul", xhat, self._per_channel(b, p["weight"])), self._per_channel(b, p["bias"]))

    def _normalize(self, b: Build, x: str, axes: list[int]) -> tuple[str, str, str, str]:
        g = b.g
        mean = b.reduce_mean(x, axes)
        centered = g.op("Sub", x, mean)
        var = b.reduce_mean(g.op("Mul", centered, centered), axes)
        inv_std = g.op("Reciprocal", g.op("Sqrt", g.op("Add", var, b.scalar(self.eps))))
        return g.op("Mul", centered, inv_std), inv_std, mean, var

    def _backward(self, b: Build, dy, saved, p, need_dx, axes: list[int]):
        """dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) over the normalised axes."""
        g = b.g
        xhat = saved["xhat"]
        grads = {"weight": b.reduce_sum(g.op("Mul", dy, xhat), self._other_axes, keepdims=False),
                 "bias": b.reduce_sum(dy, self._other_axes, keepdims=False)}
        if not need_dx:
            return None, grads
        dxhat = g.op("Mul", dy, self._per_channel(b, p["weight"]))
        inner = g.op("Sub", g.op("Sub", dxhat, b.reduce_mean(dxhat, axes)),
                     g.op("Mul", xhat, b.reduce_mean(g.op("Mul", dxhat, xhat), axes)))
        return g.op("Mul", saved["inv_std"], inner), grads


class BatchNorm(_Norm):
    type = "batchnorm"
    options = {"momentum": 0.1, "epsilon": 1e-5}

    def infer(self):
        self.momentum = self.number("momentum", 0.0, 1.0)
        return super().infer()

    def buffer_shapes(self):
        return {"running_mean": (self.channels,), "running_var": (self.channels,)}

    def init_buffers(self):
        return {"running_mean": np.zeros(self.channels, np.float32),
                "running_var": np.ones(self.channels, np.float32)}

    def forward(self, b: Build, x, p):
        g = b.g
        if not b.training:
            scale = g.op("Reciprocal", g.op("Sqrt", g.op("Add", p["running_var"], b.scalar(self.eps))))
            xhat = g.op("Mul", g.op("Sub", x, self._per_channel(b, p["running_mean"])), self._per_channel(b, scale))
            return self._affine(b, xhat, p), {"scale": scale}
        axes = self._other_axes
        xhat, inv_std, mean, var = self._normalize(b, x, axes)
        # running statistics: torch keeps the unbiased variance, M/(M-1) with M values per channel
        per_sample = int(np.prod(self.in_shape[:-1]))
        count = g.op("Mul", g.op("Reciprocal", b.inv_n), b.scalar(per_sample))
        unbias = g.op("Div", count, g.op("Sub", count, b.scalar(1.0)))
        keep, new = b.scalar(1.0 - self.momentum), b.scalar(self.momentum)
        flat = b.ints([self.channels])
        for name, stat in (("running_mean", g.op("Reshape", mean, flat)),
                           ("running_var", g.op("Mul", g.op("Reshape", var, flat), unbias))):
            b.buffer_updates[p[name]] = g.op("Add", g.op("Mul", p[name], keep), g.op("Mul", stat, new))
        return self._affine(b, xhat, p), {"xhat": xhat, "inv_std": inv_std}

    def backward(self, b, dy, saved, p, need_dx):
        if "scale" in saved:
            # running statistics: a fixed per-channel scale, so only the input gradient is asked for
            # (Grad-CAM takes its gradient through an inference forward: hearth.train.gradcam)
            return (b.g.op("Mul", dy, self._per_channel(b, b.g.op("Mul", p["weight"], saved["scale"])))
                    if need_dx else None), {}
        return self._backward(b, dy, saved, p, need_dx, self._other_axes)


class LayerNorm(_Norm):
    type = "layernorm"

    def forward(self, b: Build, x, p):
        xhat, inv_std, _, _ = self._normalize(b, x, [1])
        return self._affine(b, xhat, p), {"xhat": xhat, "inv_std": inv_std}

    def backward(self, b, dy, saved, p, need_dx):
        return self._backward(b, dy, saved, p, need_dx, [1])
