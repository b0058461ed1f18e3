"""Max and average pooling ('valid' windows), with backward passes built from ops every EP has.

On a CPU provider (`Build.cpu`: the chunked training graph) max pooling keeps MaxPool's index
output, the flat position of each window's first maximum (the one PyTorch routes the gradient to on
ties), and its backward scatters dy straight there; right after a ReLU it also applies the ReLU's
mask on the pooled grid, so the ReLU's own backward is skipped. On wasm that makes a LeNet-5 step
faster (README "Training speed") than what follows, which WebGPU needs (it has no MaxPool indices):
the backward re-reads each window and marks the first position equal to the max. When square
windows tile the input (stride = size, the usual 2x2 pool), SpaceToDepth lines each window's cells
up on one axis and DepthToSpace puts the gradient back, with a few elementwise ops between. Other
windows are gathered with a one-hot grouped Conv ("unfold") and scattered back with the transposed
Conv, much slower on wasm. Average pooling's backward spreads dy/K over each window the same two ways.
"""

from __future__ import annotations

import numpy as np

from hearth.i18n import N_, t
from hearth.train.layers.base import Build, Layer, SpecError, describe, pair


class Pool2D(Layer):
    options = {"size": 2, "stride": None}

    def infer(self):
        self.need_rank(3, N_("pooling works on [height, width, channels] feature maps"))
        self.size = pair(self.config["size"], "size", self.where)
        self.stride = self.size if self.config["stride"] is None else pair(self.config["stride"], "stride", self.where)
        h, w, c = self.in_shape
        if h < self.size[0] or w < self.size[1]:
            raise SpecError(t("{where}: a {height}x{width} window does not fit its {shape} input from {source}; use a "
                              "smaller size", where=self.where, height=self.size[0], width=self.size[1],
                              shape=describe(self.in_shape), source=self.source))
        self.channels = c
        ho = (h - self.size[0]) // self.stride[0] + 1
        wo = (w - self.size[1]) // self.stride[1] + 1
        self.output_padding = [(h - self.size[0]) % self.stride[0], (w - self.size[1]) % self.stride[1]]
        return (ho, wo, c)

    @property
    def window(self) -> int:
        return self.size[0] * self.size[1]

    def _attrs(self) -> dict:
        return {"kernel_shape": list(self.size), "strides": list(self.stride)}

    @property
    def tiles(self) -> bool:
        """Square windows that tile the input (stride = size): each input cell is in at most one."""
        return self.stride == self.size and self.size[0] == self.size[1]

    def _windows(self, b: Build, x: str) -> str:
        """x (N, C, H, W) as (N, K, C, Ho, Wo): the K cells of each window on axis 1, in row-major
        window order (SpaceToDepth), after cropping the rows/columns no window covers."""
        g = b.g
        k, (ho, wo) = self.size[0], self.out_shape[:2]
        if tuple(self.in_shape[:2]) != (ho * k, wo * k):
            x = g.op("Slice", x, b.ints([0, 0]), b.ints([ho * k, wo * k]), b.ints([2, 3]))
        return g.op("Reshape", g.op("SpaceToDepth", x, blocksize=k), b.ints([0, self.window, self.channels, ho, wo]))

    def _untile(self, b: Build, grad: str) -> str:
        """(N, K, C, Ho, Wo) back onto (N, C, H, W) (DepthToSpace), zeros where no window reached."""
        g = b.g
        k, (ho, wo) = self.size[0], self.out_shape[:2]
        h, w = self.in_shape[:2]
        flat = g.op("Reshape", grad, b.ints([0, self.window * self.channels, ho, wo]))
        dx = g.op("DepthToSpace", flat, blocksize=k, mode="DCR")
        if (h, w) != (ho * k, wo * k):
            dx = g.op("Pad", dx, b.ints([0, 0, 0, 0, 0, 0, h - ho * k, w - wo * k]))
        return dx

    def _per_window(self, b: Build, v: str) -> str:
        """A (N, C, Ho, Wo) value as (N, 1, C, Ho, Wo), to broadcast over the window axis."""
        return b.g.op("Unsqueeze", v, b.ints([1]))

    def _scatter(self, b: Build, grad: str, kernel: str) -> str:
        """Sum per-window gradients back onto the input grid (overlapping windows add up)."""
        return b.g.op("ConvTranspose", grad, kernel, group=self.channels, output_padding=self.output_padding,
                      **self._attrs())


class MaxPool2D(Pool2D):
    type = "maxpool2d"

    def _unfold_kernel(self, b: Build) -> str:
        k = self.window
        eye = np.eye(k, dtype=np.float32).reshape(k, 1, *self.size)
        return b.array("unfold", np.tile(eye, (self.channels, 1, 1, 1)))  # (C*K, 1, kh, kw)

    def forward(self, b, x, p):
        if b.training and b.cpu:
            y, index = b.g.op("MaxPool", x, outputs=2, **self._attrs())
            return y, {"x": x, "index": index, **({"relu": y} if x in b.relu_outputs else {})}
        y = b.g.op("MaxPool", x, **self._attrs())
        return y, {"x": x, "y": y}

    def backward(self, b, dy, saved, p, need_dx):
        if not need_dx:
            return None, {}
        if "index" in saved:
            return self._indexed_backward(b, dy, saved), {}
        if self.tiles:
            return self._tiled_backward(b, dy, saved), {}
        g = b.g
        c, k = self.channels, self.window
        ho, wo = self.out_shape[:2]
        kernel = self._unfold_kernel(b)
        windows = g.op("Conv", saved["x"], kernel, group=c, **self._attrs())  # (N, C*K, Ho, Wo)
        windows = g.op("Reshape", windows, b.ints([0, c, k, ho, wo]))
        peak = g.op("Reshape", saved["y"], b.ints([0, c, 1, ho, wo]))
        rank = b.array("rank", np.arange(k, 0, -1, dtype=np.float32).reshape(1, 1, k, 1, 1))
        score = g.op("Where", g.op("Equal", windows, peak), rank, b.scalar(0.0))  # K..1 where max, else 0
        first = g.op("Equal", score, b.reduce_max(score, [2]))
        grad = g.op("Where", first, g.op("Reshape", dy, b.ints([0, c, 1, ho, wo])), b.scalar(0.0))
        grad = g.op("Reshape", grad, b.ints([0, c * k, ho, wo]))
        return self._scatter(b, grad, kernel), {}

    def _indexed_backward(self, b, dy, saved):
        # MaxPool's indices count over the whole (N, C, H, W) tensor, so one flat scatter puts every
        # window's gradient on its maximum; overlapping windows can share one, hence the sum.
        g = b.g
        if "relu" in saved:
            # After a ReLU, each window's maximum is the ReLU's output where the gradient lands, so the
            # ReLU's mask (output > 0) is the pooled output's: applied here on a grid K times smaller.
            dy = g.op("Where", g.op("Greater", saved["relu"], b.scalar(0.0)), dy, b.scalar(0.0))
        shape = g.op("Shape", saved["x"])
        zeros = g.op("Reshape", g.op("ConstantOfShape", shape), b.ints([-1]))
        flat = g.op("ScatterElements", zeros, g.op("Reshape", saved["index"], b.ints([-1])),
                    g.op("Reshape", dy, b.ints([-1])), axis=0, **({} if self.tiles else {"reduction": "add"}))
        dx = g.op("Reshape", flat, shape)
        if "relu" in saved:
            b.relu_masked.add(dx)
        return dx

    def _tiled_backward(self, b, dy, saved):
        # Elementwise ops on (N, K, C, Ho, Wo): broadcasting over axis 1 keeps long inner runs, which
        # onnxruntime's kernels need to be fast (a 6-D view with the window innermost was far slower:
        # README "Training speed").
        g = b.g
        k = self.window
        rank = b.array("rank", np.arange(k, 0, -1, dtype=np.float32).reshape(1, k, 1, 1, 1))
        is_max = g.op("Cast", g.op("Equal", self._windows(b, saved["x"]), self._per_window(b, saved["y"])), to=1)
        score = g.op("Mul", is_max, rank)  # K..1 where the max is, else 0
        first = g.op("Cast", g.op("Equal", score, b.reduce_max(score, [1])), to=1)  # the first max wins
        return self._untile(b, g.op("Mul", first, self._per_window(b, dy)))


class AvgPool2D(Pool2D):
    type = "avgpool2d"

    def forward(self, b, x, p):
        return b.g.op("AveragePool", x, **self._attrs()), {}

    def backward(self, b, dy, saved, p, need_dx):
        if not need_dx:
            return None, {}
        if self.tiles:
            share = b.array("avg", np.full((1, self.window, 1, 1, 1), 1.0 / self.window, np.float32))
            return self._untile(b, b.g.op("Mul", self._per_window(b, dy), share)), {}
        kernel = b.array("avg", np.full((self.channels, 1, *self.size), 1.0 / self.window, np.float32))
        return self._scatter(b, dy, kernel), {}
