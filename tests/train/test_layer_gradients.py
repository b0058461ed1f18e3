"""Every layer's hand-written backward against torch autograd (tight) and finite differences (loose).

Each case is a one-layer spec (plus a flatten when the layer's output is an image), run forward and
backward by the same node-emitting code the training step uses; torch runs the module the PyTorch
export generates for that spec.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hearth.train.export import torch_modules
from hearth.train.spec import ModelSpec
from tests.train.conftest import draw_masks, probe, torch_model

ACTIVATIONS = ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softmax"]

CASES = {
    "dense": ([6], {"type": "dense", "units": 4}),
    "dense_nobias": ([6], {"type": "dense", "units": 4, "use_bias": False}),
    **{f"dense_{a}": ([6], {"type": "dense", "units": 4, "activation": a}) for a in ACTIVATIONS},
    **{f"{a}_on_image": ([4, 5, 3], {"type": a}) for a in ACTIVATIONS},
    "leaky_relu_alpha": ([6], {"type": "leaky_relu", "alpha": 0.2}),
    "elu_alpha": ([6], {"type": "elu", "alpha": 0.5}),
    "conv2d_valid": ([7, 6, 2], {"type": "conv2d", "filters": 3, "kernel": 3}),
    "conv2d_same_stride2": ([7, 8, 2], {"type": "conv2d", "filters": 3, "kernel": 3, "stride": 2,
                                        "padding": "same", "activation": "relu"}),
    "conv2d_rect_pad": ([6, 7, 1], {"type": "conv2d", "filters": 2, "kernel": [2, 3], "stride": [2, 1],
                                    "padding": 1, "use_bias": False}),
    "conv2d_even_same": ([6, 6, 2], {"type": "conv2d", "filters": 2, "kernel": 4, "padding": "same"}),
    "maxpool2d": ([6, 6, 2], {"type": "maxpool2d", "size": 2}),
    "maxpool2d_remainder": ([7, 5, 2], {"type": "maxpool2d", "size": 2}),
    "maxpool2d_overlap": ([7, 7, 2], {"type": "maxpool2d", "size": 3, "stride": 2}),
    # a ReLU right before max pooling: on CPU graphs the pool applies the ReLU's mask itself
    "conv2d_relu_maxpool2d": ([9, 8, 2], [{"type": "conv2d", "filters": 3, "kernel": 3, "activation": "relu"},
                                          {"type": "maxpool2d", "size": 2}]),
    "relu_maxpool2d_overlap": ([7, 7, 2], [{"type": "relu"}, {"type": "maxpool2d", "size": 3, "stride": 2}]),
    "avgpool2d": ([6, 6, 2], {"type": "avgpool2d", "size": 2}),
    "avgpool2d_overlap": ([7, 6, 3], {"type": "avgpool2d", "size": [3, 2], "stride": [2, 1]}),
    "flatten": ([3, 4, 2], {"type": "flatten"}),
    "reshape": ([12], {"type": "reshape", "shape": [2, 3, 2]}),
    "reshape_image": ([4, 3, 2], {"type": "reshape", "shape": [2, -1, 3]}),
    "dropout": ([10], {"type": "dropout", "rate": 0.4}),
    "dropout_image": ([4, 4, 3], {"type": "dropout", "rate": 0.25}),
    "batchnorm": ([5], {"type": "batchnorm"}),
    "batchnorm_image": ([4, 3, 3], {"type": "batchnorm", "momentum": 0.3}),
    "layernorm": ([5], {"type": "layernorm"}),
    "layernorm_image": ([3, 4, 4], {"type": "layernorm"}),
}


def case_spec(name: str) -> ModelSpec:
    shape, layers = CASES[name]
    # a flatten keeps the spec valid for image outputs; on a flat output it is the identity
    layers = layers if isinstance(layers, list) else [layers]
    return ModelSpec({"version": 1, "input": shape, "layers": [*layers, {"type": "flatten"}]})


def inputs(spec: ModelSpec, seed: int, batch: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *spec.input_shape)).astype(np.float32)
    if any(u.type == "maxpool2d" for u in spec.units):  # distinct values: no ties, no kinks under +-eps
        x = (rng.permutation(x.size).reshape(x.shape) * 0.01 - x.size * 0.005).astype(np.float32)
    dy = rng.standard_normal((batch, *spec.output_shape)).astype(np.float32)
    weights = spec.init_weights(seed)
    for key, value in weights.items():  # non-trivial norm scales and biases
        if key.endswith(("bias", ".weight")) and value.ndim == 1:
            weights[key] = (value + rng.standard_normal(value.shape) * 0.3).astype(np.float32)
    return x, dy, weights, draw_masks(spec, rng, batch)


# CPU training graphs (onnxruntime, wasm) build some backwards their own way (`Build.cpu`)
GRAPHS = ["webgpu", "cpu"]


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_matches_torch_autograd(name, graph):
    spec = case_spec(name)
    x, dy, weights, masks = inputs(spec, 1)
    ours = probe(spec, weights, x, dy, masks, cpu=graph == "cpu")

    model = torch_model(spec, weights, masks).train()
    xt = torch.from_numpy(x).requires_grad_(True)
    y = model(xt)
    y.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(ours["y"], y.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours["dx"], xt.grad.numpy(), rtol=1e-4, atol=1e-5)

    _, keys = torch_modules(spec)
    named = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    for hearth_name in spec.param_names():
        np.testing.assert_allclose(ours[f"grad:{hearth_name}"], named[keys[hearth_name]].grad.numpy(),
                                   rtol=1e-4, atol=1e-5, err_msg=hearth_name)
    for hearth_name in spec.buffer_names():
        np.testing.assert_allclose(ours[f"new:{hearth_name}"], buffers[keys[hearth_name]].numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=hearth_name)
    assert len(spec.param_names()) == len(named)


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_matches_finite_differences(name, graph):
    spec = case_spec(name)
    x, dy, weights, masks = inputs(spec, 2)
    ours = probe(spec, weights, x, dy, masks, cpu=graph == "cpu")
    rng = np.random.default_rng(3)
    eps = 1e-3

    def objective(x_, weights_):
        y = probe(spec, weights_, x_, dy, masks, cpu=graph == "cpu")["y"].astype(np.float64)
        return float((y * dy).sum())

    targets = [("dx", None)] + [(f"grad:{n}", n) for n in spec.param_names()]
    for key, param in targets:
        base = x if param is None else weights[param]
        for flat in rng.choice(base.size, size=min(6, base.size), replace=False):
            plus, minus = base.copy(), base.copy()
            plus.flat[flat] += eps
            minus.flat[flat] -= eps
            if param is None:
                numeric = (objective(plus, weights) - objective(minus, weights)) / (2 * eps)
            else:
                numeric = (objective(x, {**weights, param: plus}) - objective(x, {**weights, param: minus})) / (2 * eps)
            analytic = float(ours[key].flat[flat])
            assert abs(numeric - analytic) <= 2e-2 + 2e-2 * abs(numeric), (key, flat, numeric, analytic)


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("name", ["maxpool2d", "maxpool2d_overlap", "relu_maxpool2d_overlap"])
def test_max_pool_ties_go_to_the_first_maximum(name, graph):
    """Inputs full of equal values (a saturated image): each window's gradient goes to its first
    maximum, as in PyTorch, on both ways of building the backward."""
    spec = case_spec(name)
    _, dy, weights, masks = inputs(spec, 4)
    x = np.random.default_rng(5).integers(-1, 2, (3, *spec.input_shape)).astype(np.float32)
    ours = probe(spec, weights, x, dy, masks, cpu=graph == "cpu")
    xt = torch.from_numpy(x).requires_grad_(True)
    torch_model(spec, weights, masks).train()(xt).backward(torch.from_numpy(dy))
    # a tie sent to another cell would be off by a whole dy; overlapping windows only add in another order
    np.testing.assert_allclose(ours["dx"], xt.grad.numpy(), rtol=1e-6, atol=1e-6)
