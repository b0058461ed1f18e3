"""Training sessions ask for CPU threads by model size; the thread count changes only float rounding."""

from __future__ import annotations

import asyncio

import numpy as np

from hearth.train import Dataset, ModelSpec, Trainer
from hearth.train.threads import ONE_THREAD_UP_TO, step_macs, training_threads

LENET = {"version": 1, "input": [28, 28, 1], "layers": [
    {"type": "conv2d", "filters": 6, "kernel": 5, "padding": "same", "activation": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "conv2d", "filters": 16, "kernel": 5, "activation": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 120, "activation": "relu"},
    {"type": "dense", "units": 84, "activation": "relu"},
    {"type": "dense", "units": 10, "activation": "softmax"}]}


def test_small_models_train_on_one_thread_and_big_ones_on_the_default():
    lenet = ModelSpec(LENET)
    # conv 6x1x5x5 on 28x28, conv 16x6x5x5 on 10x10, then 400x120, 120x84, 84x10
    assert lenet.macs == 6 * 25 * 784 + 16 * 150 * 100 + 400 * 120 + 120 * 84 + 84 * 10
    assert step_macs(lenet, 32) == 3 * 32 * lenet.macs
    assert training_threads(lenet, 32) == 1
    wide = ModelSpec({"version": 1, "input": [64, 64, 3], "layers": [
        {"type": "conv2d", "filters": 128, "kernel": 3, "padding": "same"}, {"type": "flatten"},
        {"type": "dense", "units": 10}]})
    assert step_macs(wide, 64) > ONE_THREAD_UP_TO and training_threads(wide, 64) is None


def test_thread_count_changes_only_rounding():
    rng = np.random.default_rng(0)
    x = rng.random((96, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 96)]
    spec = {**LENET, "training": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 32, "seed": 3,
                                  "validation_split": 0}}

    async def train(threads):
        trainer = Trainer(ModelSpec(spec), Dataset(x, y, [str(i) for i in range(10)]), threads=threads)
        history = [m.loss async for m in trainer.fit(2)]
        return trainer.engine.threads, history, await trainer.weights()

    auto, one, two = (asyncio.run(train(t)) for t in (None, 1, 2))
    assert (auto[0], one[0], two[0]) == (1, 1, 2)
    assert one[1] == auto[1]  # the same sessions
    # threads split sums differently (conv kernels): 2 threads differ from 1 in the last bits, which
    # Adam can scale up to a fraction of its step (lr 0.01) where a gradient is near zero
    np.testing.assert_allclose(two[1], auto[1], rtol=1e-5)
    for name, value in auto[2].items():
        np.testing.assert_array_equal(one[2][name], value, err_msg=name)
        np.testing.assert_allclose(two[2][name], value, rtol=1e-4, atol=1e-4, err_msg=name)
