"""How many CPU threads a model's training sessions ask the runtime for.

onnxruntime-web fixes one thread pool per copy of its wasm, and a step of a classroom-sized model is
a few hundred small ops, each split across threads only to wait for them. Measured in headless
Chromium (onnxruntime-web 1.30, 2 cores shared with other jobs), a step on 1 thread against 2: MLP
784-128-10 at batch 64 1.7x faster, LeNet-5 at batch 32 2.1x, and CNNs of two 3x3 convolutions up
to 64 filters on 28x28 (2.8 G multiply-adds a step) still 1.7x. Above what was measured the runtime's
default (several threads, which the language model's large products gain from) is kept.
"""

from __future__ import annotations

from hearth.train.spec import ModelSpec

ONE_THREAD_UP_TO = 3_000_000_000  # multiply-adds per training step (forward + backward ~ 3x forward)


def step_macs(spec: ModelSpec, batch_size: int) -> int:
    """Multiply-adds of one training step: forward, and backward at about twice the forward."""
    return 3 * spec.macs * batch_size


def training_threads(spec: ModelSpec, batch_size: int) -> int | None:
    """1 for models whose steps measured faster on one thread; None: the runtime's default."""
    return 1 if step_macs(spec, batch_size) <= ONE_THREAD_UP_TO else None
