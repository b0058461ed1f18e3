"""Image augmentation: what each kind does to pixels, that a seed fixes every batch, that the
trainer applies it to training batches only, and that the torch twin in the exported script is the
same transform (within 1e-5: float32 sampling in another order)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hearth.train import ModelSpec, SpecError, Trainer, TrainingError, load_builtin, load_project, save_project
from hearth.train.augment import TORCH_SOURCE, Augmentation, Draw, apply
from hearth.train.spec import TrainConfig
from tests.train.conftest import run

ALL = Augmentation(rotation=25, shift=0.15, flip=True, invert=True)


def images(n=6, h=7, w=9, c=2, seed=0):
    return np.random.default_rng(seed).random((n, h, w, c), dtype=np.float32)


def none(n):
    return Draw(np.zeros(n, bool), np.zeros(n), np.zeros((n, 2)), np.zeros(n, bool))


def test_same_seed_same_batches_other_seed_other_batches():
    x = images()
    first = ALL(x, np.random.default_rng(5))
    np.testing.assert_array_equal(first, ALL(x, np.random.default_rng(5)))
    assert np.abs(first - ALL(x, np.random.default_rng(6))).max() > 0.1
    assert not np.array_equal(first, x) and np.array_equal(x, images())  # a changed copy; the batch is kept


def test_each_kind_alone():
    x = images(n=1, h=5, w=5, c=1)
    d = none(1)
    flipped = apply(x, Draw(np.ones(1, bool), d.angle, d.shift, d.invert))
    np.testing.assert_array_equal(flipped, x[:, :, ::-1])
    inverted = apply(x, Draw(d.flip, d.angle, d.shift, np.ones(1, bool)))
    np.testing.assert_allclose(inverted, 1.0 - x, atol=1e-7)
    # a quarter turn of a square image moves whole pixels: clockwise as seen, rows running down
    turned = apply(x, Draw(d.flip, np.asarray([np.pi / 2]), d.shift, d.invert))
    np.testing.assert_allclose(turned[0, :, :, 0], np.rot90(x[0, :, :, 0], -1), atol=1e-6)
    # a shift of one pixel right and one down brings zeros in at the left and top
    moved = apply(x, Draw(d.flip, d.angle, np.asarray([[0.2, 0.2]]), d.invert))
    expected = np.zeros_like(x)
    expected[:, 1:, 1:] = x[:, :-1, :-1]
    np.testing.assert_allclose(moved, expected, atol=1e-6)
    np.testing.assert_array_equal(apply(x, d), x)


def test_only_the_kinds_that_are_on_draw_numbers():
    """Off kinds take nothing from the generator: with augmentation off, training draws as before."""
    rng = np.random.default_rng(1)
    x = images()
    assert Augmentation()(x, rng) is x
    assert rng.random() == np.random.default_rng(1).random()
    draw = Augmentation(flip=True).draw(np.random.default_rng(2), 50)
    assert 10 < draw.flip.sum() < 40 and not draw.invert.any() and not draw.angle.any() and not draw.shift.any()
    draw = Augmentation(rotation=10, shift=0.1).draw(np.random.default_rng(2), 200)
    assert np.abs(np.degrees(draw.angle)).max() <= 10 and np.abs(draw.shift).max() <= 0.1
    assert np.abs(np.degrees(draw.angle)).max() > 9 and np.abs(draw.shift).max() > 0.09


def test_torch_twin_is_the_same_transform():
    scope = {"torch": torch, "nn": nn, "AUGMENTATION": ALL.to_dict()}
    exec(compile(TORCH_SOURCE, "augment", "exec"), scope)
    for h, w in ((7, 9), (8, 8), (12, 5)):
        x = images(n=8, h=h, w=w, c=3, seed=h)
        draw = ALL.draw(np.random.default_rng(h), 8)
        got = scope["augment_with"](torch.from_numpy(x), torch.from_numpy(draw.flip), torch.from_numpy(draw.angle),
                                    torch.from_numpy(draw.shift), torch.from_numpy(draw.invert)).numpy()
        np.testing.assert_allclose(got, apply(x, draw), atol=1e-5)
    torch.manual_seed(0)
    drawn = scope["augment"](torch.from_numpy(x))  # the script's own draws: same shape, images changed
    assert drawn.shape == x.shape and not torch.equal(drawn, torch.from_numpy(x))


def test_settings_are_checked():
    config = TrainConfig.from_dict({"augmentation": {"rotation": 15, "flip": True, "invert": False}})
    assert config.augmentation == {"rotation": 15.0, "flip": True}  # stored as the spec keeps it: what is on
    with pytest.raises(SpecError, match=r"training\.augmentation\.rotation must be a number from 0 to 180, got 400"):
        TrainConfig.from_dict({"augmentation": {"rotation": 400}})
    with pytest.raises(SpecError, match=r"unknown setting\(s\) \['zoom'\]; it takes rotation, shift, flip, invert"):
        TrainConfig.from_dict({"augmentation": {"zoom": 0.2}})
    with pytest.raises(SpecError, match="augmentation.flip must be true or false, got 'yes'"):
        TrainConfig().replace(augmentation={"flip": "yes"})
    table = ModelSpec({"input": [4], "layers": [{"type": "dense", "units": 3}]})
    with pytest.raises(TrainingError, match=r"needs a model that takes images .* this one takes \[4\]"):
        Trainer(table, load_builtin("iris"), table.training.replace(augmentation={"flip": True}))


CNN = {"input": [8, 8, 1], "layers": [
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool2d", "size": 2}, {"type": "flatten"}, {"type": "dropout", "rate": 0.2},
    {"type": "dense", "units": 10, "activation": "softmax"}],
    "training": {"learning_rate": 0.01, "epochs": 2, "augmentation": {"rotation": 20, "shift": 0.1, "flip": True}}}


def losses(spec: ModelSpec, config: TrainConfig) -> list[float]:
    trainer = Trainer(spec, load_builtin("digits"), config)
    return [m.loss for m in run(trainer.run())]


def test_training_with_augmentation_is_reproducible():
    spec = ModelSpec(CNN)
    first = losses(spec, spec.training)
    assert losses(spec, spec.training) == first  # the same seed: the same batches, bit for bit
    assert losses(spec, spec.training.replace(seed=1)) != first
    plain = losses(spec, spec.training.replace(augmentation={}))
    assert plain != first and all(a < b for a, b in zip(plain, first, strict=True))  # harder batches


def test_a_saved_project_carries_on_with_the_same_batches(tmp_path):
    spec = ModelSpec(CNN)
    data = load_builtin("digits")
    straight = Trainer(spec, data)
    run(straight.run(2))
    halfway = Trainer(spec, data)
    run(halfway.run(1))
    project = load_project(save_project(run(halfway.to_project())))
    assert project.training["augmentation"] == {"rotation": 20.0, "shift": 0.1, "flip": True}
    resumed = Trainer.from_project(project, data)
    run(resumed.run(1))
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
