"""Ten optimizer steps in Hearth (one ONNX graph per step, chained inside the runtime) against the
same ten steps in PyTorch: the same initial weights, batches and dropout masks, torch.optim doing
the update. Losses and final weights must agree within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hearth.train.engine import Engine
from hearth.train.export import torch_modules
from hearth.train.losses import get_loss
from hearth.train.spec import ModelSpec, TrainConfig
from tests.train.conftest import draw_masks, run, torch_model

CNN = {"version": 1, "input": [8, 8, 1], "layers": [
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "batchnorm"},
    {"type": "maxpool2d", "size": 2},
    {"type": "conv2d", "filters": 6, "kernel": 2, "stride": 2, "activation": "elu"},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.3},
    {"type": "dense", "units": 12, "activation": "gelu"},
    {"type": "layernorm"},
    {"type": "dense", "units": 5, "activation": "softmax"},
]}
OPTIMIZERS = {
    "sgd": ("sgd", {}, 0.1),
    "sgd_momentum": ("sgd", {"momentum": 0.9}, 0.05),
    "sgd_nesterov": ("sgd", {"momentum": 0.8, "nesterov": True}, 0.05),
    "adam": ("adam", {}, 0.01),
    "adam_betas": ("adam", {"beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}, 0.01),
    "rmsprop": ("rmsprop", {}, 0.003),
    "adagrad": ("adagrad", {"initial_accumulator": 0.1}, 0.05),
}


def torch_optimizer(name: str, options: dict, groups: list, lr: float):
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=options.get("momentum", 0.0),
                               nesterov=options.get("nesterov", False))
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=(options.get("beta1", 0.9), options.get("beta2", 0.999)),
                                eps=options.get("epsilon", 1e-8))
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, alpha=options.get("alpha", 0.99), eps=options.get("epsilon", 1e-8))
    return torch.optim.Adagrad(groups, lr=lr, eps=options.get("epsilon", 1e-10),
                               initial_accumulator_value=options.get("initial_accumulator", 0.0))


def torch_run(spec: ModelSpec, config: TrainConfig, weights, batches):
    masks: dict = {}
    model = torch_model(spec, weights, masks).train()
    loss = get_loss(config.loss, spec.units_out)
    net = model[:-1] if loss.absorbs and spec.units[-1].type == loss.absorbs else model
    _, keys = torch_modules(spec)
    named = dict(model.named_parameters())
    decayed = {keys[f"{u.key}.{n}"] for u in spec.units for n in u.decayed()}
    groups = [{"params": [p for k, p in named.items() if k in decayed], "weight_decay": config.l2},
              {"params": [p for k, p in named.items() if k not in decayed], "weight_decay": 0.0}]
    optimizer = torch_optimizer(config.optimizer, config.optimizer_options, groups, config.learning_rate)
    losses = []
    for batch in batches:
        masks.clear()
        masks.update({k: v for k, v in batch.items() if k.endswith(".mask")})
        optimizer.zero_grad()
        out = net(torch.from_numpy(batch["x"]))
        y = torch.from_numpy(batch["y"])
        if config.loss == "categorical_crossentropy":
            value = torch.nn.functional.cross_entropy(out, y)
        elif config.loss == "binary_crossentropy":
            value = torch.nn.functional.binary_cross_entropy_with_logits(out, y)
        else:
            value = torch.nn.functional.mse_loss(out, y)
        value.backward()
        optimizer.step()
        losses.append(value.item())
    state = model.state_dict()
    return np.array(losses), {name: state[key].numpy() for name, key in keys.items()}


def make_batches(spec: ModelSpec, loss: str, steps: int, seed: int, batch: int = 8):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(steps):
        n = batch if i % 4 != 3 else batch - 3  # some short batches, as the last one of an epoch is
        x = rng.standard_normal((n, *spec.input_shape)).astype(np.float32)
        if loss == "categorical_crossentropy":
            y = np.eye(spec.units_out, dtype=np.float32)[rng.integers(0, spec.units_out, n)]
        elif loss == "binary_crossentropy":
            y = (rng.random((n, spec.units_out)) > 0.5).astype(np.float32)
        else:
            y = rng.standard_normal((n, spec.units_out)).astype(np.float32)
        out.append({"x": x, "y": y, **draw_masks(spec, rng, n)})
    return out


def hearth_run(spec, config, weights, batches, chunks=(10,)):
    engine = Engine(spec, config, weights)
    losses, start = [], 0
    for size in chunks:
        steps = run(engine.train(batches[start:start + size], config.learning_rate))
        losses += [float(s["loss"]) for s in steps]
        start += size
    return np.array(losses), run(engine.weights()), engine


@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_ten_steps_match_torch(case):
    name, options, lr = OPTIMIZERS[case]
    spec = ModelSpec(CNN)
    config = TrainConfig(optimizer=name, optimizer_options=options, learning_rate=lr, l2=1e-3)
    weights = spec.init_weights(5)
    batches = make_batches(spec, config.loss, 10, seed=6)
    ours, our_weights, _ = hearth_run(spec, config, weights, batches)
    theirs, their_weights = torch_run(spec, config, weights, batches)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    assert ours[-1] < ours[0] or case == "sgd"  # it is learning, not just agreeing
    for key in our_weights:
        np.testing.assert_allclose(our_weights[key], their_weights[key], rtol=0, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "mean_squared_error"])
def test_other_losses_match_torch(loss):
    layers = [{"type": "dense", "units": 9, "activation": "tanh"},
              {"type": "dense", "units": 3, **({"activation": "sigmoid"} if loss == "binary_crossentropy" else {})}]
    spec = ModelSpec({"version": 1, "input": [7], "layers": layers})
    config = TrainConfig(loss=loss, optimizer="adam", learning_rate=0.02)
    weights = spec.init_weights(1)
    batches = make_batches(spec, loss, 10, seed=2)
    ours, our_weights, _ = hearth_run(spec, config, weights, batches)
    theirs, their_weights = torch_run(spec, config, weights, batches)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    for key in our_weights:
        np.testing.assert_allclose(our_weights[key], their_weights[key], rtol=0, atol=1e-5, err_msg=key)


def test_steps_in_chunks_equal_steps_at_once():
    """Handing the runtime 3 then 7 steps carries every weight and slot exactly like 10 at once."""
    spec = ModelSpec(CNN)
    config = TrainConfig(optimizer="adam", learning_rate=0.01)
    weights = spec.init_weights(0)
    batches = make_batches(spec, config.loss, 10, seed=1)
    once, w_once, e_once = hearth_run(spec, config, weights, batches, (10,))
    split, w_split, e_split = hearth_run(spec, config, weights, batches, (3, 7))
    assert np.array_equal(once, split)
    for key in w_once:
        assert np.array_equal(w_once[key], w_split[key])
    assert e_once.step == e_split.step == 10
