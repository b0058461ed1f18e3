"""Flatten and reshape, in the user's HWC order (as Keras does), whatever the graph's layout.

A 3-D tensor is NCHW inside the graph, so flattening first turns it back to NHWC: a reshape to
[28, 28, 1] followed by a flatten is then the identity, as the user expects.
"""

from __future__ import annotations

import numpy as np

from hearth.i18n import t
from hearth.train.layers.base import REQUIRED, Build, Layer, SpecError, describe


def to_user(b: Build, x: str, rank: int) -> str:
    return b.g.op("Transpose", x, perm=[0, 2, 3, 1]) if rank == 3 else x


def to_internal(b: Build, x: str, rank: int) -> str:
    return b.g.op("Transpose", x, perm=[0, 3, 1, 2]) if rank == 3 else x


class Reshape(Layer):
    type = "reshape"
    options = {"shape": REQUIRED}

    def infer(self):
        shape = self.config["shape"]
        if (not isinstance(shape, list) or len(shape) not in (1, 3)
                or not all(isinstance(d, int) and not isinstance(d, bool) and (d >= 1 or d == -1) for d in shape)
                or shape.count(-1) > 1):
            raise SpecError(t("{where}: shape must be [features] or [height, width, channels] of whole numbers (one may "
                              "be -1), got {value}", where=self.where, value=repr(shape)))
        total = int(np.prod(self.in_shape))
        known = int(np.prod([d for d in shape if d != -1]))
        if -1 in shape:
            if total % known:
                raise SpecError(t("{where}: cannot reshape {shape} ({total} values) from {source} to {target}",
                                  where=self.where, shape=describe(self.in_shape), total=total, source=self.source,
                                  target=shape))
            shape = [total // known if d == -1 else d for d in shape]
        if int(np.prod(shape)) != total:
            raise SpecError(t("{where}: cannot reshape {shape} ({total} values) from {source} to {target} ({count} "
                              "values)", where=self.where, shape=describe(self.in_shape), total=total,
                              source=self.source, target=describe(tuple(shape)), count=int(np.prod(shape))))
        return tuple(shape)

    def _move(self, b: Build, x: str, src: tuple[int, ...], dst: tuple[int, ...]) -> str:
        if src == dst:
            return x
        x = to_user(b, x, len(src))
        x = b.g.op("Reshape", x, b.ints([-1, *dst]))
        return to_internal(b, x, len(dst))

    def forward(self, b, x, p):
        return self._move(b, x, self.in_shape, self.out_shape), {}

    def backward(self, b, dy, saved, p, need_dx):
        return (self._move(b, dy, self.out_shape, self.in_shape) if need_dx else None), {}


class Flatten(Reshape):
    type = "flatten"
    options = {}

    def infer(self):
        return (int(np.prod(self.in_shape)),)
