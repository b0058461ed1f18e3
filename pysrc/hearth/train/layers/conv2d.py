"""2-D convolution over NCHW, with both gradients written as convolutions.

Backward without im2col: the input gradient is a ConvTranspose of the output gradient with the same
kernel; the kernel gradient is a Conv of the input (batch and channel axes swapped) with the output
gradient as the "kernel", dilated by the stride. Both ops exist on onnxruntime-web's wasm and WebGPU.
"""

from __future__ import annotations

import numpy as np

from hearth.i18n import N_, t
from hearth.train.layers.base import INITS, REQUIRED, Build, Layer, SpecError, describe, init_kernel, pair


def conv_pads(size: int, kernel: int, stride: int, padding) -> tuple[int, int]:
    """(begin, end) padding along one axis; 'same' splits like TensorFlow (extra at the end)."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return total // 2, total - total // 2
    return padding, padding


class Conv2D(Layer):
    type = "conv2d"
    options = {"filters": REQUIRED, "kernel": 3, "stride": 1, "padding": "valid", "activation": None,
               "use_bias": True, "init": "glorot_uniform"}

    def infer(self):
        self.need_rank(3, N_("give the input as [height, width, channels] or add a reshape layer before it"))
        self.filters = self.positive_int("filters")
        self.kernel = pair(self.config["kernel"], "kernel", self.where)
        self.stride = pair(self.config["stride"], "stride", self.where)
        self.use_bias = bool(self.config["use_bias"])
        if self.config["init"] not in INITS:
            raise SpecError(t("{where}: init must be one of {inits}, got {name}", where=self.where, inits=", ".join(INITS),
                              name=repr(self.config["init"])))
        padding = self.config["padding"]
        if isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
            paddings = (padding, padding)
        elif isinstance(padding, list) and len(padding) == 2 and all(isinstance(v, int) and v >= 0 for v in padding):
            paddings = tuple(padding)
        elif padding in ("valid", "same"):
            paddings = (padding, padding)
        else:
            raise SpecError(t("{where}: padding must be 'valid', 'same', a whole number or [rows, cols], got {value}",
                              where=self.where, value=repr(padding)))
        h, w, c = self.in_shape
        self.channels = c
        (pt, pb), (pl, pr) = (conv_pads(h, self.kernel[0], self.stride[0], paddings[0]),
                              conv_pads(w, self.kernel[1], self.stride[1], paddings[1]))
        self.pads = [pt, pl, pb, pr]
        ho = (h + pt + pb - self.kernel[0]) // self.stride[0] + 1
        wo = (w + pl + pr - self.kernel[1]) // self.stride[1] + 1
        if h + pt + pb < self.kernel[0] or w + pl + pr < self.kernel[1]:
            raise SpecError(t("{where}: a {height}x{width} kernel does not fit its {shape} input from {source}; use a "
                              "smaller kernel or padding 'same'", where=self.where, height=self.kernel[0],
                              width=self.kernel[1], shape=describe(self.in_shape), source=self.source))
        # what ConvTranspose must add back so the input gradient has the input's exact size
        self.output_padding = [(h + pt + pb - self.kernel[0]) % self.stride[0],
                               (w + pl + pr - self.kernel[1]) % self.stride[1]]
        self.kernel_span = [h + pt + pb - self.stride[0] * (ho - 1), w + pl + pr - self.stride[1] * (wo - 1)]
        return (ho, wo, self.filters)

    def param_shapes(self):
        shapes = {"weight": (self.filters, self.channels, *self.kernel)}
        if self.use_bias:
            shapes["bias"] = (self.filters,)
        return shapes

    def decayed(self):
        return {"weight"}

    @property
    def macs(self):
        ho, wo, _ = self.out_shape
        return ho * wo * self.filters * self.channels * self.kernel[0] * self.kernel[1]

    def init_params(self, rng):
        params = {"weight": init_kernel(self.config["init"], self.param_shapes()["weight"], rng, self.where)}
        if self.use_bias:
            params["bias"] = np.zeros(self.filters, np.float32)
        return params

    def forward(self, b: Build, x, p):
        args = [x, p["weight"]] + ([p["bias"]] if self.use_bias else [])
        y = b.g.op("Conv", *args, kernel_shape=list(self.kernel), strides=list(self.stride), pads=self.pads)
        return y, {"x": x}

    def backward(self, b: Build, dy, saved, p, need_dx):
        g = b.g
        grads = {}
        if self.use_bias:
            grads["bias"] = b.reduce_sum(dy, [0, 2, 3], keepdims=False)
        # dW[o,c] = sum_n x[n,c] (*) dy[n,o]: swap batch and channels, then the batch is the reduction axis
        xt = g.op("Transpose", saved["x"], perm=[1, 0, 2, 3])
        dyt = g.op("Transpose", dy, perm=[1, 0, 2, 3])
        dw = g.op("Conv", xt, dyt, pads=self.pads, dilations=list(self.stride), strides=[1, 1])  # (C, O, kh', kw')
        if self.kernel_span != list(self.kernel):
            dw = g.op("Slice", dw, b.ints([0, 0]), b.ints(list(self.kernel)), b.ints([2, 3]))
        grads["weight"] = g.op("Transpose", dw, perm=[1, 0, 2, 3])
        dx = None
        if need_dx:
            dx = g.op("ConvTranspose", dy, p["weight"], kernel_shape=list(self.kernel), strides=list(self.stride),
                      pads=self.pads, output_padding=self.output_padding)
        return dx, grads
