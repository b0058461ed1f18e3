"""How many CPU threads a model's training sessions ask the runtime for.

onnxruntime-web fixes one thread pool per copy of its wasm, and a step of a classroom-sized model is
a few hundred small ops, each split across threads only to wait for them, so such steps train faster
on one thread: the MLP and LeNet-5 of the training bench, and small CNNs on 28x28 up to the limit
below (figures: README "Training speed"). Above it, where that was not measured, the runtime's
default is kept (several threads, which the language model's large products gain from).
"""

from __future__ import annotations

from hearth.train.spec import ModelSpec

# Multiply-adds per training step (forward + backward ~ 3x forward); chosen by measurement: just above
# the largest step measured faster on one thread (see README "Training speed").
ONE_THREAD_UP_TO = 3_000_000_000


def step_macs(spec: ModelSpec, batch_size: int) -> int:
    """Multiply-adds of one training step: forward, and backward at about twice the forward."""
    return 3 * spec.macs * batch_size


def training_threads(spec: ModelSpec, batch_size: int) -> int | None:
    """1 for models small enough to train faster on one thread; None: the runtime's default."""
    return 1 if step_macs(spec, batch_size) <= ONE_THREAD_UP_TO else None
