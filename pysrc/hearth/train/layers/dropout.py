"""Dropout with its mask fed in per step, not drawn inside the graph.

ONNX's random ops give different numbers on different execution providers, so the mask (already
scaled by 1/(1-rate)) comes from the trainer's seeded numpy generator: the same seed then gives
the same training curve on CPython and in the browser.
"""

from __future__ import annotations

import numpy as np

from hearth.train.layers.base import REQUIRED, Build, Layer, internal


class Dropout(Layer):
    type = "dropout"
    options = {"rate": REQUIRED}

    def infer(self):
        self.rate = self.number("rate", 0.0, 1.0, high_open=True)
        return self.in_shape

    @property
    def mask_name(self) -> str:
        return f"{self.key}.mask"

    def mask_shape(self) -> tuple[int, ...]:
        return internal(self.in_shape)

    def draw_mask(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        keep = rng.random((batch, *self.mask_shape()), dtype=np.float32) >= self.rate
        return keep.astype(np.float32) * np.float32(1.0 / (1.0 - self.rate))

    def forward(self, b: Build, x, p):
        if not b.training or self.rate == 0.0:
            return x, {}
        mask = b.step_input(self.mask_name, ["batch", *self.mask_shape()])
        b.step_inputs.append((mask, self.mask_shape()))
        return b.g.op("Mul", x, mask), {"mask": mask}

    def backward(self, b, dy, saved, p, need_dx):
        if not need_dx:
            return None, {}
        return (b.g.op("Mul", dy, saved["mask"]) if "mask" in saved else dy), {}
