"""The training loop as a user drives it: learning, seeds, pause/stop, saving and carrying on."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch

from hearth.train import (
    DataError,
    Dataset,
    ModelSpec,
    Trainer,
    TrainingError,
    load_builtin,
    load_csv,
    load_project,
    save_project,
)
from tests.train.conftest import run

SMALL_CNN = {"version": 1, "input": [8, 8, 1], "layers": [
    {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 32, "activation": "relu"},
    {"type": "dense", "units": 10, "activation": "softmax"}],
    "training": {"optimizer": "adam", "learning_rate": 0.005, "batch_size": 32, "validation_split": 0.2}}

TINY = {"version": 1, "input": [64], "layers": [
    {"type": "dense", "units": 16, "activation": "relu"}, {"type": "dropout", "rate": 0.2},
    {"type": "dense", "units": 10, "activation": "softmax"}],
    "training": {"optimizer": "sgd", "optimizer_options": {"momentum": 0.9}, "learning_rate": 0.05,
                 "batch_size": 64}}


async def collect(trainer: Trainer, epochs: int, **kwargs) -> list[dict]:
    return [m.to_dict() async for m in trainer.fit(epochs, **kwargs)]


def curve(history: list[dict]) -> np.ndarray:
    return np.array([[h["loss"], h["accuracy"], h["val_loss"], h["val_accuracy"]] for h in history])


def test_small_cnn_reaches_95_percent_on_digits(digits):
    trainer = Trainer(ModelSpec(SMALL_CNN), digits)
    history = run(collect(trainer, 15))
    accuracies = [h["val_accuracy"] for h in history]
    assert max(accuracies) >= 0.95 and accuracies[-1] >= 0.95, accuracies
    total = digits.class_counts()
    held_out = trainer.val_data.class_counts()
    assert all(held_out[c] == round(total[c] * 0.2) for c in digits.classes)  # 20% of every class held out
    assert len(trainer.val_data) + len(trainer.train_data) == len(digits)


def test_same_seed_same_curve_and_another_seed_another(digits):
    a = run(collect(Trainer(ModelSpec(TINY), digits), 2))
    b = run(collect(Trainer(ModelSpec(TINY), digits), 2))
    spec = ModelSpec({**TINY, "training": {**TINY["training"], "seed": 1}})
    c = run(collect(Trainer(spec, digits), 2))
    assert np.array_equal(curve(a), curve(b))
    assert not np.allclose(curve(a), curve(c))


def test_progress_callbacks_see_every_batch(digits):
    trainer = Trainer(ModelSpec(TINY), digits, steps_per_call=5)
    seen = []

    async def on_batch(progress):  # a UI may await something; plain functions work too
        seen.append((progress.epoch, progress.batch, progress.batches, progress.loss))

    run(collect(trainer, 2, on_batch=on_batch))
    batches = -(-len(trainer.train_data) // 64)
    assert [(e, b) for e, b, _, _ in seen] == [(e, b) for e in (1, 2) for b in range(1, batches + 1)]
    assert all(n == batches and np.isfinite(loss) for _, _, n, loss in seen)
    per_epoch = [np.mean([loss for e, *_, loss in seen if e == epoch]) for epoch in (1, 2)]
    assert per_epoch[1] < per_epoch[0]


def test_pause_then_resume_is_the_same_run(digits):
    straight = run(collect(Trainer(ModelSpec(TINY), digits, steps_per_call=4), 2))

    async def paused_run():
        trainer = Trainer(ModelSpec(TINY), digits, steps_per_call=4)
        states = []

        def on_batch(progress):
            if progress.epoch == 1 and progress.batch == 8:
                trainer.pause()

        async def watcher():
            while trainer.status != "paused":
                await asyncio.sleep(0.001)
            states.append(trainer.status)
            await asyncio.sleep(0.05)
            states.append(trainer.status)
            trainer.resume()

        task = asyncio.ensure_future(watcher())
        history = await collect(trainer, 2, on_batch=on_batch)
        await task
        return history, states

    history, states = run(paused_run())
    assert states == ["paused", "paused"]  # it really held still while paused
    assert np.array_equal(curve(history), curve(straight))


def test_stop_ends_the_epoch_early_and_training_can_go_on(digits):
    trainer = Trainer(ModelSpec(TINY), digits, steps_per_call=2)
    before = run(trainer.weights())

    def on_batch(progress):
        if progress.batch == 3:
            trainer.stop()

    assert run(collect(trainer, 3, on_batch=on_batch)) == []
    assert trainer.history == [] and trainer.status == "idle"
    assert trainer.engine.step == 4  # the chunk in flight finished; nothing after it ran
    after = run(trainer.weights())
    assert not np.array_equal(before["dense_1.weight"], after["dense_1.weight"])
    more = run(collect(trainer, 1))
    assert [m["epoch"] for m in more] == [1]


def test_saved_project_continues_exactly_like_an_uninterrupted_run(digits, tmp_path):
    straight = run(collect(Trainer(ModelSpec(SMALL_CNN), digits), 3))
    first = Trainer(ModelSpec(SMALL_CNN), digits)
    run(collect(first, 2))
    path = tmp_path / "model.hearth"
    save_project(run(first.to_project()), path)
    resumed = Trainer.from_project(load_project(path), digits)
    later = run(collect(resumed, 1))
    assert later[0]["epoch"] == 3 and len(resumed.history) == 3
    np.testing.assert_allclose(curve(resumed.history), curve(straight), rtol=0, atol=1e-7)
    other = Dataset.from_labels(digits.x, [str(9 - int(c)) for c in digits.labels], [str(d) for d in range(9, -1, -1)])
    with pytest.raises(TrainingError, match="trained on the classes"):
        Trainer.from_project(load_project(path), other)


def test_evaluate_gives_a_consistent_confusion_matrix(digits):
    trainer = Trainer(ModelSpec(TINY), digits)
    run(collect(trainer, 2))
    report = run(trainer.evaluate())
    assert report.confusion.shape == (10, 10)
    assert report.confusion.sum() == len(trainer.val_data)
    assert np.array_equal(report.confusion.sum(axis=1), np.bincount(trainer.val_data.labels, minlength=10))
    assert report.accuracy == pytest.approx(np.trace(report.confusion) / report.confusion.sum())
    assert report.accuracy == pytest.approx(trainer.history[-1]["val_accuracy"])
    np.testing.assert_allclose(report.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(run(trainer.predict(trainer.val_data.x.reshape(-1, 64))), report.probabilities,
                               atol=1e-6)
    on_train = run(trainer.evaluate(trainer.train_data))
    assert on_train.confusion.sum() == len(trainer.train_data)


def test_feature_maps_are_each_layers_output_in_hwc(digits):
    spec = ModelSpec(SMALL_CNN)
    trainer = Trainer(spec, digits)
    image = digits.x[5]
    maps = run(trainer.feature_maps(image))
    assert [(info.type, out.shape) for info, out in maps] == [
        ("conv2d", (1, 8, 8, 8)), ("maxpool2d", (1, 4, 4, 8)), ("flatten", (1, 128)), ("dense", (1, 32)),
        ("dense", (1, 10))]
    weights = run(trainer.weights())
    conv = torch.nn.functional.conv2d(torch.from_numpy(image[None]).permute(0, 3, 1, 2),
                                      torch.from_numpy(weights["conv2d_1.weight"]),
                                      torch.from_numpy(weights["conv2d_1.bias"]), padding=1).relu()
    np.testing.assert_allclose(maps[0][1], conv.permute(0, 2, 3, 1).numpy(), atol=1e-5)
    np.testing.assert_allclose(maps[-1][1], run(trainer.predict(image)), atol=1e-6)


def test_one_sigmoid_unit_for_two_classes(tmp_path):
    spec = ModelSpec({"version": 1, "input": [30], "layers": [
        {"type": "dense", "units": 8, "activation": "relu"}, {"type": "dense", "units": 1, "activation": "sigmoid"}],
        "training": {"learning_rate": 0.01}})
    assert spec.training.loss == "binary_crossentropy"
    trainer = Trainer(spec, load_builtin("breast_cancer"))
    history = run(collect(trainer, 5))
    assert history[-1]["val_accuracy"] > 0.9
    report = run(trainer.evaluate())
    assert report.confusion.shape == (2, 2) and report.probabilities.shape == (len(trainer.val_data), 1)


def test_regression_from_csv_has_loss_but_no_accuracy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3))
    target = x @ [1.5, -2.0, 0.5] + 0.1 * rng.standard_normal(200)
    rows = [",".join(f"{v:.5f}" for v in (*row, t)) for row, t in zip(x, target, strict=True)]
    text = "a,b,c,target\n" + "\n".join(rows)
    data = load_csv(text, label="target")
    assert data.classes == [] and data.y.shape == (200, 1)
    spec = ModelSpec({"version": 1, "input": [3], "layers": [{"type": "dense", "units": 1}],
                      "training": {"learning_rate": 0.05, "batch_size": 16}})
    assert spec.training.loss == "mean_squared_error"
    history = run(collect(Trainer(spec, data), 10))
    assert history[-1]["val_loss"] < 0.1 < history[0]["loss"]
    assert history[-1]["accuracy"] is None and history[-1]["val_accuracy"] is None


def test_model_and_data_that_do_not_fit_get_told_how_to_fix_it(digits):
    wrong_units = {**TINY, "layers": TINY["layers"][:-1] + [{"type": "dense", "units": 3}]}
    with pytest.raises(TrainingError, match="gives 3 output.*10 classes.*set its units to 10"):
        Trainer(ModelSpec(wrong_units), digits)
    with pytest.raises(DataError, match=r"input is \[28, 28, 1\].*set the input to \[8, 8, 1\]"):
        Trainer(ModelSpec({**SMALL_CNN, "input": [28, 28, 1]}), digits)
    nothing = digits.subset(np.arange(0))
    with pytest.raises(TrainingError, match="no data left to train on"):
        Trainer(ModelSpec(TINY), nothing)
