"""Checking a layer stack: shapes and sizes per layer, and each problem pinned to its layer."""

import numpy as np
import pytest

from hearth.app.layer_stack import check_stack
from hearth.app.presets import PRESETS, preset, unavailable
from hearth.train.spec import ModelSpec

DIGITS = [str(i) for i in range(10)]


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3), (4,), (30,)])
def test_every_preset_builds_for_every_input_it_takes(name, shape):
    if unavailable(name, shape):
        with pytest.raises(ValueError, match="needs images"):
            preset(name, shape, 3)
        return
    layers = preset(name, shape, 3)
    report = check_stack(shape, layers, outputs=3, classes=["a", "b", "c"])
    assert report.ok, report.error
    spec = ModelSpec({"input": list(shape), "layers": layers})
    assert report.param_count == spec.param_count
    assert [r.output_shape for r in report.layers] == [info.output_shape for info in spec.summary]
    assert report.layers[-1].output_shape == (3,)


def test_lenet_keeps_its_stages_on_8x8_digits():
    layers = preset("lenet", (8, 8, 1), 10)
    assert [layer["type"] for layer in layers] == ["conv2d", "maxpool2d", "conv2d", "maxpool2d", "flatten",
                                                  "dense", "dense", "dense"]
    report = check_stack((8, 8, 1), layers, outputs=10, classes=DIGITS)
    assert [r.output_shape for r in report.layers][:4] == [(8, 8, 6), (4, 4, 6), (4, 4, 16), (2, 2, 16)]


def test_impossible_stack_is_explained_at_the_layer_at_fault():
    layers = [{"type": "flatten"}, {"type": "dense", "units": 32}, {"type": "conv2d", "filters": 8},
              {"type": "dense", "units": 10}]
    report = check_stack((8, 8, 1), layers, outputs=10, classes=DIGITS)
    assert not report.ok and report.spec is None
    first, second, third, fourth = report.layers
    assert (first.output_shape, first.error) == ((64,), None)
    assert (second.output_shape, second.params) == ((32,), 64 * 32 + 32)
    assert third.error.startswith("conv2d at position 3 needs a 3-D input, got (32,) from dense at position 2")
    assert third.output_shape is None
    assert fourth.error is None and fourth.output_shape is None  # waits for layer 3
    assert report.error == third.error


def test_whole_model_rules_are_shown_at_the_last_layer():
    report = check_stack((8, 8, 1), [{"type": "conv2d", "filters": 4}], outputs=10)
    assert report.layers[0].output_shape == (6, 6, 4)
    assert "must give a flat output" in report.layers[0].error


def test_last_layer_must_fit_the_classes_of_the_data():
    report = check_stack((4,), [{"type": "dense", "units": 5, "activation": "softmax"}], outputs=3,
                         classes=["setosa", "versicolor", "virginica"])
    assert report.layers[0].error == ("dense at position 1 gives 5 output(s) but the data has 3 classes "
                                      "(setosa, versicolor, virginica); set its units to 3")
    one = check_stack((4,), [{"type": "dense", "units": 1, "activation": "sigmoid"}], outputs=2, classes=["a", "b"])
    assert one.ok  # a single sigmoid output for two classes


def test_editor_problems_and_empty_stacks():
    report = check_stack((8, 8, 1), [{"type": "flatten"}, {"type": "dense", "units": 10}], outputs=10,
                         problems={2: "dense at position 2: units is empty"})
    assert report.layers[1].error == "dense at position 2: units is empty" and not report.ok
    assert check_stack((8, 8, 1), []).error == "add at least one layer"


def test_a_stack_that_builds_gives_the_spec_that_trains():
    layers = preset("small_cnn", (8, 8, 1), 10)
    report = check_stack((8, 8, 1), layers, outputs=10, classes=DIGITS, name="mine")
    weights = report.spec.init_weights(0)
    assert report.spec.name == "mine"
    assert sum(int(np.prod(w.shape)) for w in weights.values()) == report.param_count
