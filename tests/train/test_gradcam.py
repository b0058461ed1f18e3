"""Grad-CAM from Hearth's ONNX graph against the same network in PyTorch, differentiated by autograd.

The reference is the exported torch.nn model with Hearth's weights: the gradient of the class score
(before softmax/sigmoid) with respect to the last conv2d layer's output is taken by autograd, the
channel weights are its spatial means, the map is ReLU of their weighted sum. Hearth's maps, channel
weights and probabilities must agree within rtol 1e-4, atol 1e-5 (float32 sums in another order)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hearth.train import ModelSpec, Trainer, load_builtin
from hearth.train.engine import Engine
from hearth.train.export import torch_modules, torch_state
from hearth.train.gradcam import GradCamError, direction, upsample
from hearth.train.spec import TrainConfig
from tests.train.conftest import run, torch_script

SOFTMAX = {"name": "cam", "input": [9, 7, 2], "layers": [
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "conv2d", "filters": 5, "kernel": 2, "activation": "elu"},  # the target: 3x2, after its ELU
    {"type": "batchnorm"},
    {"type": "dropout", "rate": 0.3},
    {"type": "flatten"},
    {"type": "dense", "units": 8, "activation": "relu"},
    {"type": "dense", "units": 4, "activation": "softmax"},
]}
SIGMOID = {"name": "cam", "input": [6, 6, 1], "layers": [
    {"type": "conv2d", "filters": 3, "kernel": 3},  # the target: no activation, pooled after
    {"type": "avgpool2d", "size": 2},
    {"type": "leaky_relu"},
    {"type": "flatten"},
    {"type": "layernorm"},
    {"type": "dense", "units": 1, "activation": "sigmoid"},
]}


def weights_for(spec: ModelSpec, seed: int) -> dict[str, np.ndarray]:
    """Initial weights with every bias and batchnorm statistic moved off its starting value, so each
    term of the backward counts."""
    rng = np.random.default_rng(seed)
    weights = spec.init_weights(seed)
    for name, value in weights.items():
        if not name.endswith(".weight") or "batchnorm" in name or "layernorm" in name:
            low = 0.5 if name.endswith("running_var") or name.endswith(".weight") else -0.5
            weights[name] = rng.uniform(low, low + 1.0, value.shape).astype(np.float32)
    return weights


def torch_grad_cam(spec: ModelSpec, weights, x: np.ndarray, target: int):
    model = torch_script(spec).build_model()
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in torch_state(spec, weights).items()})
    model.eval()  # batchnorm on its running statistics, dropout off: how a trained model is looked at
    modules, _ = torch_modules(spec)
    last_conv = max(i for i, m in enumerate(modules) if m.startswith("nn.Conv2d"))
    conv_unit = [u for u in spec.units if u.type == "conv2d"][-1]
    with_activation = sum(u.position == conv_unit.position for u in spec.units) > 1
    taken = {}
    model[last_conv + with_activation].register_forward_hook(lambda _m, _i, out: taken.setdefault("a", out))
    scores = model[:-1](torch.from_numpy(x))  # the class scores, before the final softmax/sigmoid
    probabilities = model[-1](scores)
    activation = taken["a"]
    score = scores[:, target].sum() if scores.shape[1] > 1 else (scores[:, 0] * (1.0 if target else -1.0)).sum()
    (grad,) = torch.autograd.grad(score, activation)
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((alpha * activation).sum(dim=1))
    places = torch.relu((grad * activation).sum(dim=1))
    return cam.detach().numpy(), places.detach().numpy(), alpha[:, :, 0, 0].numpy(), probabilities.detach().numpy()


# weights seeds whose maps for these classes are partly zero and partly not, so the ReLU is tested too
@pytest.mark.parametrize("layers, loss, seed, target", [(SOFTMAX, "categorical_crossentropy", 2, 3),
                                                         (SOFTMAX, "categorical_crossentropy", 2, 0),
                                                         (SIGMOID, "binary_crossentropy", 0, 1),
                                                         (SIGMOID, "binary_crossentropy", 0, 0)])
def test_grad_cam_matches_torch_autograd(layers, loss, seed, target):
    spec = ModelSpec(layers)
    weights = weights_for(spec, seed)
    x = np.random.default_rng(4).random((5, *spec.input_shape), dtype=np.float32)
    engine = Engine(spec, TrainConfig(loss=loss), weights)
    out = run(engine.grad_cam(x, direction(target, spec.units_out, len(x))))
    cam, places, alpha, probabilities = torch_grad_cam(spec, weights, x, target)
    assert out["heatmap"].shape == cam.shape == (5, *[u for u in spec.units if u.type == "conv2d"][-1].out_shape[:2])
    assert cam.max() > 1e-3  # a map with something in it, so agreeing means something
    np.testing.assert_allclose(out["heatmap"], cam, rtol=1e-4, atol=1e-5)
    assert places.max() > 1e-3 and (places == 0).any()
    np.testing.assert_allclose(out["places"], places, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["channel_weights"], alpha, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["probabilities"], probabilities, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("source, size", [((3, 2), (9, 7)), ((4, 4), (8, 8)), ((5, 3), (5, 3)), ((6, 4), (3, 2))])
def test_upsample_is_torch_bilinear(source, size):
    cam = np.random.default_rng(0).random(source, dtype=np.float32)
    ref = torch.nn.functional.interpolate(torch.from_numpy(cam)[None, None], size=size, mode="bilinear",
                                          align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(upsample(cam, *size), ref, atol=1e-6)


def test_trainer_grad_cam_on_a_trained_cnn():
    spec = ModelSpec({"input": [8, 8, 1], "layers": [
        {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "relu"},
        {"type": "maxpool2d", "size": 2}, {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}],
        "training": {"learning_rate": 0.01, "epochs": 10}})
    trainer = Trainer(spec, load_builtin("digits"))
    run(trainer.run())
    results = [run(trainer.grad_cam(x)) for x in trainer.val_data.x[:20]]  # each for the class it predicts
    probabilities = run(trainer.predict(trainer.val_data.x[:20]))
    assert [r.target for r in results] == list(probabilities.argmax(axis=1))
    np.testing.assert_allclose([r.probabilities for r in results], probabilities, atol=1e-6)
    result = results[0]
    assert result.heatmap.shape == (8, 8) and result.cam.shape == (8, 8) and result.channel_weights.shape == (8,)
    assert (result.layer.position, result.layer.type) == (1, "conv2d")
    # With a flatten + dense head, Grad-CAM's averaged channel weights often all point against the
    # class, and the map is empty (zeros, not a division by zero); where it is not, its peak is 1.
    lit = [r for r in results if r.cam.max() > 0]
    dark = [r for r in results if r.cam.max() == 0]
    assert lit and dark
    assert all(r.heatmap.min() >= 0 and r.heatmap.max() == pytest.approx(1.0) for r in lit)
    assert all(not r.heatmap.any() for r in dark)
    x = trainer.val_data.x[0]
    other = run(trainer.grad_cam(x, (result.target + 1) % 10))
    assert other.target == (result.target + 1) % 10 and not np.allclose(other.channel_weights, result.channel_weights)
    # the per-place map of the same image and class: lit where Grad-CAM may be dark
    places = [run(trainer.grad_cam(x, method="places")) for x in trainer.val_data.x[:20]]
    assert all(p.method == "places" and p.cam.max() > 0 and p.heatmap.max() == pytest.approx(1.0) for p in places)


def test_grad_cam_needs_a_conv_layer_and_one_image():
    mlp = ModelSpec({"input": [8, 8, 1], "layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]})
    trainer = Trainer(mlp, load_builtin("digits"))
    with pytest.raises(GradCamError, match="has no conv2d layer"):
        run(trainer.grad_cam(trainer.val_data.x[0]))
    cnn = ModelSpec({"input": [8, 8, 1], "layers": [{"type": "conv2d", "filters": 2}, {"type": "flatten"},
                                                     {"type": "dense", "units": 10}]})
    trainer = Trainer(cnn, load_builtin("digits"))
    with pytest.raises(GradCamError, match=r"one image shaped \[8, 8, 1\], got \[2, 8, 8, 1\]"):
        run(trainer.grad_cam(trainer.val_data.x[:2]))
    with pytest.raises(GradCamError, match="choose a class from 0 to 9, not 10"):
        run(trainer.grad_cam(trainer.val_data.x[0], 10))
    with pytest.raises(GradCamError, match="method must be one of gradcam, places, not 'hires'"):
        run(trainer.grad_cam(trainer.val_data.x[0], method="hires"))
