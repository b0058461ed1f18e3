"""Spec parsing as the UI shows it: the layer table, and messages that say which layer and why."""

from __future__ import annotations

import re

import pytest
import torch

from hearth.train import ModelSpec, SpecError
from tests.train.conftest import torch_script

SMALL_CNN = {"version": 1, "input": [28, 28, 1], "layers": [
    {"type": "conv2d", "filters": 8, "kernel": 3, "activation": "relu"}, {"type": "maxpool2d", "size": 2},
    {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]}

LENET = {"version": 1, "input": [28, 28, 1], "layers": [
    {"type": "conv2d", "filters": 6, "kernel": 5, "padding": "same", "activation": "tanh"},
    {"type": "avgpool2d", "size": 2},
    {"type": "conv2d", "filters": 16, "kernel": 5, "activation": "tanh"},
    {"type": "avgpool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 120, "activation": "tanh"},
    {"type": "batchnorm"},
    {"type": "dense", "units": 84, "activation": "tanh"},
    {"type": "layernorm"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 10, "activation": "softmax"}]}


def test_a_misplaced_layer_is_named_with_its_position_input_and_source():
    spec = {"version": 1, "input": [64], "layers": [{"type": "dense", "units": 128}, {"type": "flatten"},
                                                    {"type": "conv2d", "filters": 8}]}
    with pytest.raises(SpecError) as error:
        ModelSpec(spec)
    assert str(error.value).startswith("conv2d at position 3 needs a 3-D input, got (128,) from flatten at position 2")


def test_layer_table_of_a_small_cnn():
    spec = ModelSpec(SMALL_CNN)
    assert [(i.position, i.type, i.output_shape, i.params) for i in spec.summary] == [
        (1, "conv2d", (26, 26, 8), 80), (2, "maxpool2d", (13, 13, 8), 0), (3, "flatten", (1352,), 0),
        (4, "dense", (10,), 13530)]
    assert spec.param_count == 13610


def test_parameter_counts_and_shapes_match_torch():
    spec = ModelSpec(LENET)
    model = torch_script(spec).build_model()
    assert spec.param_count == sum(p.numel() for p in model.parameters())
    x = torch.zeros(2, 28, 28, 1)
    shapes = {}
    for module in model:
        x = module(x)
        shapes[len(shapes)] = tuple(x.shape[1:])
    assert tuple(x.shape[1:]) == spec.output_shape == (10,)
    assert [i.output_shape for i in spec.summary][:4] == [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16)]


@pytest.mark.parametrize("layers, message", [
    ([{"type": "flatten"}, {"type": "dense", "units": 128}, {"type": "flatten"}, {"type": "conv2d", "filters": 3}],
     re.escape("conv2d at position 4 needs a 3-D input, got (128,) from flatten at position 3")),
    ([{"type": "dense", "units": 4}], r"dense at position 1 needs a 1-D input, got \(28, 28, 1\) from the input; "
                                      "add a flatten layer before it"),
    ([{"type": "conv2d", "filters": 2, "kernel": 30}], "conv2d at position 1: a 30x30 kernel does not fit"),
    ([{"type": "maxpool2d", "size": 2}] * 5 + [{"type": "flatten"}],
     r"maxpool2d at position 5: a 2x2 window does not fit its \(1, 1, 1\) input from maxpool2d at position 4"),
    ([{"type": "convolution"}], "unknown type 'convolution'"),
    ([{"type": "conv2d", "filter": 3}], "conv2d at position 1 has an unknown option 'filter'; did you mean 'filters'"),
    ([{"type": "dense"}], "dense at position 1 needs the option 'units'"),
    ([{"type": "flatten"}, {"type": "dense", "units": 0}], "dense at position 2: units must be a whole number >= 1"),
    ([{"type": "flatten"}, {"type": "dense", "units": 3, "activation": "swish"}], "activation must be one of"),
    ([{"type": "dropout", "rate": 1.0}, {"type": "flatten"}], r"rate must be a number in \[0.0, 1.0\)"),
    ([{"type": "reshape", "shape": [5, 5]}], "reshape at position 1: shape must be"),
    ([{"type": "reshape", "shape": [100]}], r"cannot reshape \(28, 28, 1\) \(784 values\) from the input to \(100,\)"),
    ([{"type": "conv2d", "filters": 2}],
     r"the last layer must give a flat output.*\(26, 26, 2\) from conv2d at position 1"),
    ([{"type": "conv2d", "filters": 2, "padding": "full"}, {"type": "flatten"}], "padding must be 'valid', 'same'"),
    ([], "layers must be a non-empty list"),
    (["dense"], "layer at position 1 must be an object"),
])
def test_impossible_specs_name_the_layer_and_what_it_needed(layers, message):
    with pytest.raises(SpecError, match=message):
        ModelSpec({"version": 1, "input": [28, 28, 1], "layers": layers})


@pytest.mark.parametrize("change, message", [
    ({"version": 2}, "reads spec version 1"),
    ({"input": [28, 28]}, "input must be"),
    ({"optimiser": "adam"}, "unknown key"),
    ({"training": {"optimizer": "adamw"}}, "training.optimizer must be one of"),
    ({"training": {"loss": "hinge"}}, "training.loss must be one of"),
    ({"training": {"learning_rate": -1}}, "learning_rate must be a number"),
    ({"training": {"batch_size": 0}}, "batch_size must be a whole number"),
    ({"training": {"optimizer": {"type": "adam", "beta": 0.9}}}, "no option 'beta'"),
    ({"training": {"epoch": 3}}, "unknown key"),
])
def test_bad_top_level_and_training_settings(change, message):
    with pytest.raises(SpecError, match=message):
        ModelSpec({**SMALL_CNN, **change})


def test_json_text_and_defaults():
    spec = ModelSpec.from_json('{"input": [4], "layers": [{"type": "dense", "units": 3, "activation": "softmax"}],'
                               ' "training": {"optimizer": {"type": "sgd", "momentum": 0.9}}}')
    assert spec.training.loss == "categorical_crossentropy"
    assert spec.training.optimizer == "sgd" and spec.training.optimizer_options == {"momentum": 0.9}
    assert ModelSpec.from_json(spec.to_json()).to_dict() == spec.to_dict()
    with pytest.raises(SpecError, match="not valid JSON"):
        ModelSpec.from_json("{input: [4]")


def test_initial_weights_are_seeded_per_layer():
    a = ModelSpec(SMALL_CNN).init_weights(0)
    b = ModelSpec(SMALL_CNN).init_weights(0)
    c = ModelSpec(SMALL_CNN).init_weights(1)
    assert all((a[k] == b[k]).all() for k in a) and not (a["conv2d_1.weight"] == c["conv2d_1.weight"]).all()
    # changing the last layer leaves the first layer's starting weights alone
    other = ModelSpec({**SMALL_CNN, "layers": SMALL_CNN["layers"][:3] + [{"type": "dense", "units": 5}]})
    assert (other.init_weights(0)["conv2d_1.weight"] == a["conv2d_1.weight"]).all()
    # Glorot uniform: |w| within sqrt(6 / (fan_in + fan_out))
    assert abs(a["dense_4.weight"]).max() <= (6 / (1352 + 10)) ** 0.5
    he = ModelSpec({**SMALL_CNN, "layers": [{**SMALL_CNN["layers"][0], "init": "he_normal"},
                                                *SMALL_CNN["layers"][1:]]}).init_weights(0)
    assert abs(he["conv2d_1.weight"].std() - (2 / 9) ** 0.5) < 0.15
