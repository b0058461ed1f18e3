"""Each layer kind written out as LaTeX: the exact formula and shapes, and that what the formulas say
(the printed weights, the printed indices) computes what the engine computes."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest

from hearth.train import Dataset, ModelSpec, TrainConfig, Trainer
from hearth.train.formulas import FORMULAS, MAX_SIDE, network_math, number
from hearth.train.layers import LAYERS

RELU = r"\operatorname{ReLU}(z) = \max(0,\ z)"

# (input, layer) -> (equations, shapes): every layer kind, with the options that change the formula
CASES = [
    ([3], {"type": "dense", "units": 2, "activation": "relu"},
     (r"\mathbf{y} = \operatorname{ReLU}\left(W\mathbf{x} + \mathbf{b}\right)", RELU),
     r"\mathbf{x} \in \mathbb{R}^{3},\quad W \in \mathbb{R}^{2 \times 3},\quad \mathbf{b} \in \mathbb{R}^{2},\quad "
     r"\mathbf{y} \in \mathbb{R}^{2}"),
    ([3], {"type": "dense", "units": 2, "use_bias": False},
     (r"\mathbf{y} = W\mathbf{x}",),
     r"\mathbf{x} \in \mathbb{R}^{3},\quad W \in \mathbb{R}^{2 \times 3},\quad \mathbf{y} \in \mathbb{R}^{2}"),
    ([6, 6, 2], {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "activation": "relu"},
     (r"y_{i,j,f} = \operatorname{ReLU}\left(b_f + \sum_{c=1}^{2} \sum_{u=1}^{3} \sum_{v=1}^{3} W_{f,c,u,v}\, "
      r"x_{i + u - 2,\ j + v - 2,\ c}\right)", RELU),
     r"\mathbf{x} \in \mathbb{R}^{6 \times 6 \times 2},\quad W \in \mathbb{R}^{3 \times 2 \times 3 \times 3},\quad "
     r"\mathbf{b} \in \mathbb{R}^{3},\quad \mathbf{y} \in \mathbb{R}^{6 \times 6 \times 3}"),
    ([7, 7, 1], {"type": "conv2d", "filters": 4, "kernel": [3, 2], "stride": 2, "activation": "softmax"},
     (r"z_{i,j,f} = b_f + \sum_{c=1}^{1} \sum_{u=1}^{3} \sum_{v=1}^{2} W_{f,c,u,v}\, x_{2i + u - 2,\ 2j + v - 2,\ c}",
      r"\mathbf{y}_{i,j} = \operatorname{softmax}(\mathbf{z}_{i,j})",
      r"\operatorname{softmax}(\mathbf{z})_k = \frac{e^{z_k}}{\sum_{m=1}^{4} e^{z_m}}"),
     r"\mathbf{x} \in \mathbb{R}^{7 \times 7 \times 1},\quad W \in \mathbb{R}^{4 \times 1 \times 3 \times 2},\quad "
     r"\mathbf{b} \in \mathbb{R}^{4},\quad \mathbf{y} \in \mathbb{R}^{3 \times 3 \times 4}"),
    ([6, 6, 3], {"type": "maxpool2d", "size": 2},
     (r"y_{i,j,c} = \max_{u=1 \ldots 2,\ v=1 \ldots 2} x_{2i + u - 2,\ 2j + v - 2,\ c}",),
     r"\mathbf{x} \in \mathbb{R}^{6 \times 6 \times 3},\quad \mathbf{y} \in \mathbb{R}^{3 \times 3 \times 3}"),
    ([7, 7, 3], {"type": "avgpool2d", "size": 3, "stride": 2},
     (r"y_{i,j,c} = \frac{1}{9} \sum_{u=1}^{3} \sum_{v=1}^{3} x_{2i + u - 2,\ 2j + v - 2,\ c}",),
     r"\mathbf{x} \in \mathbb{R}^{7 \times 7 \times 3},\quad \mathbf{y} \in \mathbb{R}^{3 \times 3 \times 3}"),
    ([4, 4, 2], {"type": "flatten"}, (r"y_{8(i-1) + 2(j-1) + c} = x_{i,j,c}",),
     r"\mathbf{x} \in \mathbb{R}^{4 \times 4 \times 2},\quad \mathbf{y} \in \mathbb{R}^{32}"),
    ([4, 4, 1], {"type": "flatten"}, (r"y_{4(i-1) + j} = x_{i,j,1}",),
     r"\mathbf{x} \in \mathbb{R}^{4 \times 4 \times 1},\quad \mathbf{y} \in \mathbb{R}^{16}"),
    ([5], {"type": "flatten"}, (r"\mathbf{y} = \mathbf{x}",),
     r"\mathbf{x} \in \mathbb{R}^{5},\quad \mathbf{y} \in \mathbb{R}^{5}"),
    ([12], {"type": "reshape", "shape": [2, 2, 3]},
     (r"\operatorname{vec}(\mathbf{y}) = \operatorname{vec}(\mathbf{x})",),
     r"\mathbf{x} \in \mathbb{R}^{12},\quad \mathbf{y} \in \mathbb{R}^{2 \times 2 \times 3}"),
    ([5], {"type": "dropout", "rate": 0.25},
     (r"\text{training:}\quad y_k = \frac{m_k}{1 - 0.25}\, x_k,\qquad m_k = \begin{cases} 1 & \text{with probability } "
      r"0.75 \\ 0 & \text{with probability } 0.25\end{cases}", r"\text{predicting:}\quad \mathbf{y} = \mathbf{x}"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{5}"),
    ([4, 4, 3], {"type": "batchnorm", "momentum": 0.2, "epsilon": 0.001},
     (r"y_{i,j,c} = \gamma_c\, \frac{x_{i,j,c} - \mu_c}{\sqrt{\sigma_c^2 + 0.001}} + \beta_c",
      r"\text{training: } \mu_c,\ \sigma_c^2 = \text{mean, variance of channel } c \text{ over the batch}\quad "
      r"\text{predicting: } \mu_c = \hat\mu_c,\ \sigma_c^2 = \hat\sigma_c^2",
      r"\hat\mu_c \leftarrow 0.8\,\hat\mu_c + 0.2\,\mu_c,\quad \hat\sigma_c^2 \leftarrow 0.8\,\hat\sigma_c^2 + "
      r"0.2\,\frac{M}{M - 1}\,\sigma_c^2"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{4 \times 4 \times 3},\quad \boldsymbol{\gamma},\ \boldsymbol{\beta} "
     r"\in \mathbb{R}^{3}"),
    ([5], {"type": "layernorm"},
     (r"y_{c} = \gamma_c\, \frac{x_{c} - \mu}{\sqrt{\sigma^2 + 0.00001}} + \beta_c",
      r"\mu = \frac{1}{5} \sum_{c=1}^{5} x_{c},\qquad \sigma^2 = \frac{1}{5} \sum_{c=1}^{5} (x_{c} - \mu)^2"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{5},\quad \boldsymbol{\gamma},\ \boldsymbol{\beta} \in \mathbb{R}^{5}"),
    ([5], {"type": "relu"}, (r"y_k = \operatorname{ReLU}(x_k)", RELU), r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{5}"),
    ([5], {"type": "leaky_relu", "alpha": 0.2},
     (r"y_k = \operatorname{LeakyReLU}(x_k)",
      r"\operatorname{LeakyReLU}(z) = \begin{cases} z & z > 0 \\ 0.2\,z & z \le 0 \end{cases}"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{5}"),
    ([5], {"type": "elu"},
     (r"y_k = \operatorname{ELU}(x_k)", r"\operatorname{ELU}(z) = \begin{cases} z & z > 0 \\ (e^{z} - 1) & z \le 0 "
                                        r"\end{cases}"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{5}"),
    ([5], {"type": "gelu"},
     (r"y_k = \operatorname{GELU}(x_k)",
      r"\operatorname{GELU}(z) = z\,\Phi(z) = \frac{z}{2}\left(1 + \operatorname{erf}\frac{z}{\sqrt{2}}\right)"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{5}"),
    ([5], {"type": "sigmoid"}, (r"y_k = \sigma(x_k)", r"\sigma(z) = \frac{1}{1 + e^{-z}}"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{5}"),
    ([5], {"type": "tanh"}, (r"y_k = \tanh(x_k)", r"\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{5}"),
    ([5], {"type": "softmax"},
     (r"\mathbf{y} = \operatorname{softmax}(\mathbf{x})",
      r"\operatorname{softmax}(\mathbf{z})_k = \frac{e^{z_k}}{\sum_{m=1}^{5} e^{z_m}}"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{5}"),
    ([2, 2, 3], {"type": "softmax"},
     (r"\mathbf{y}_{i,j} = \operatorname{softmax}(\mathbf{x}_{i,j})",
      r"\operatorname{softmax}(\mathbf{z})_k = \frac{e^{z_k}}{\sum_{m=1}^{3} e^{z_m}}"),
     r"\mathbf{x},\ \mathbf{y} \in \mathbb{R}^{2 \times 2 \times 3}"),
]


def _spec(input_shape: list[int], *layers: dict) -> ModelSpec:
    """The layers on `input_shape`; a 3-D output gets a flatten and a 2-class dense, so the spec is whole
    and trains on the two-class data below."""
    try:
        return ModelSpec({"input": input_shape, "layers": list(layers)})
    except ValueError:
        return ModelSpec({"input": input_shape, "layers": [*layers, {"type": "flatten"}, {"type": "dense", "units": 2}]})


def test_every_layer_kind_is_covered():
    assert {layer["type"] for _, layer, _, _ in CASES} == set(LAYERS) == set(FORMULAS)


@pytest.mark.parametrize(("input_shape", "layer", "equations", "shapes"), CASES,
                         ids=[f"{c[1]['type']}-{len(c[0])}d" for c in CASES])
def test_formula_and_shapes(input_shape, layer, equations, shapes):
    math = network_math(_spec(input_shape, layer))[0]
    assert math.equations == equations
    assert math.shapes == shapes
    assert math.numbers is None  # no weights given
    assert math.symbols and all(s.tex and s.meaning and "\n" not in s.meaning for s in math.symbols)


def test_symbols_say_where_the_input_comes_from_and_what_goes_on():
    spec = _spec([8, 8, 1], {"type": "conv2d", "filters": 8, "kernel": 3, "activation": "relu"},
                 {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"})
    conv, flatten, dense = network_math(spec)
    assert conv.title == "conv2d at position 1, then relu"
    said = {s.tex: s.meaning for s in dense.symbols}
    assert said[r"\mathbf{x}"] == "what this layer gets: 288 numbers from flatten at position 2"
    assert said["W"].startswith("the weights: 10 × 288 numbers learned in training")
    assert said[r"\mathbf{y}"] == "what it gives the next layer: 10 numbers"
    assert "probabilities" in said[r"\operatorname{softmax}"]
    assert {s.tex: s.meaning for s in conv.symbols}[r"i,\ j"] == "the output pixel: row i = 1…6, column j = 1…6"


# ---------------------------------------------------------------- the numbers are the weights
def _matrices(tex: str) -> list[np.ndarray]:
    found = re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", tex)
    return [np.array([[float(v) for v in row.split("&")] for row in m.split(r"\\")]) for m in found]


def _trained(spec: ModelSpec, epochs: int = 2) -> Trainer:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, *spec.input_shape)).astype(np.float32)
    labels = (x.reshape(64, -1).sum(axis=1) > 0).astype(int)
    data = Dataset.from_labels(x, labels)
    trainer = Trainer(spec, data, TrainConfig(learning_rate=0.05, batch_size=16, epochs=epochs, validation_split=0.0))

    async def go():
        async for _ in trainer.fit():
            pass

    asyncio.run(go())
    return trainer


def _close(printed: np.ndarray, actual: np.ndarray) -> bool:
    """Printed to 3 significant digits."""
    return printed.shape == actual.shape and bool(np.all(np.abs(printed - actual) <= 5e-3 * np.abs(actual) + 1e-12))


SMALL_MLP = _spec([3], {"type": "dense", "units": 4, "activation": "tanh"}, {"type": "batchnorm"},
                  {"type": "dense", "units": 2, "activation": "softmax"})


def test_small_layers_show_their_trained_weights():
    trainer = _trained(SMALL_MLP)
    weights = asyncio.run(trainer.weights())
    dense1, norm, dense2 = network_math(SMALL_MLP, weights)
    w1, b1 = _matrices(dense1.numbers)
    assert _close(w1, weights["dense_1.weight"]) and _close(b1[:, 0], weights["dense_1.bias"])
    assert np.any(b1 != 0)  # trained, not the zeros it started from
    assert dense1.numbers.startswith(r"\mathbf{y} = \tanh\left(\begin{bmatrix}")
    gamma, beta, mean, var = _matrices(norm.numbers)
    for printed, name in ((gamma, "weight"), (beta, "bias"), (mean, "running_mean"), (var, "running_var")):
        assert _close(printed[:, 0], weights[f"batchnorm_2.{name}"]), name
    w2, b2 = _matrices(dense2.numbers)
    assert _close(w2, weights["dense_3.weight"]) and _close(b2[:, 0], weights["dense_3.bias"])


def test_printed_numbers_compute_the_predictions():
    """Reading the formulas with their printed numbers gives what the trained network predicts."""
    trainer = _trained(SMALL_MLP)
    dense1, norm, dense2 = network_math(SMALL_MLP, asyncio.run(trainer.weights()))
    w1, b1 = _matrices(dense1.numbers)
    gamma, beta, mean, var = (m[:, 0] for m in _matrices(norm.numbers))
    w2, b2 = _matrices(dense2.numbers)
    x = np.random.default_rng(1).normal(size=(5, 3))
    h = np.tanh(x @ w1.T + b1[:, 0])
    h = gamma * (h - mean) / np.sqrt(var + 1e-5) + beta
    z = h @ w2.T + b2[:, 0]
    y = np.exp(z - z.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    predicted = asyncio.run(trainer.predict(x.astype(np.float32)))
    np.testing.assert_allclose(y, predicted, atol=2e-2)


def test_large_layers_leave_the_numbers_out():
    spec = _spec([MAX_SIDE + 1], {"type": "dense", "units": 2}, {"type": "dense", "units": MAX_SIDE + 1})
    weights = spec.init_weights(0)
    assert [m.numbers is None for m in network_math(spec, weights)] == [True, True]
    conv = _spec([5, 5, 1], {"type": "conv2d", "filters": MAX_SIDE + 1, "kernel": 2})
    assert network_math(conv, conv.init_weights(0))[0].numbers is None
    small = _spec([5, 5, 1], {"type": "conv2d", "filters": 2, "kernel": 2})
    kernels = _matrices(network_math(small, small.init_weights(0))[0].numbers)
    assert len(kernels) == 3 and kernels[0].shape == (2, 2)  # W_{1,1}, W_{2,1}, then the bias


def test_number_format():
    assert [number(v) for v in (0.0, -0.0, 0.123456, -1.5, 1e-7, 2.0)] == ["0", "0", "0.123", "-1.5", "0.0000001", "2"]


# ---------------------------------------------------------------- the printed indices are the engine's
def _index(tex: str) -> tuple[str, str]:
    """The row and column expressions of x_{row,\\ col,\\ c}, as Python."""
    row, col = re.search(r"x_\{([^,]+),\\ ([^,]+),\\ c\}", tex).groups()
    return tuple(re.sub(r"(\d)([ij])", r"\1*\2", e) for e in (row, col))


@pytest.mark.parametrize("layer", [
    {"type": "conv2d", "filters": 2, "kernel": 3, "stride": 2, "padding": "same"},
    {"type": "conv2d", "filters": 2, "kernel": [2, 3], "padding": 1},
    {"type": "maxpool2d", "size": 3, "stride": 2},
    {"type": "avgpool2d", "size": 2},
])
def test_printed_window_indices_compute_the_layer(layer):
    spec = _spec([7, 6, 2], layer)
    trainer = _trained(spec, epochs=1)
    unit = spec.units[0]
    math = network_math(spec, asyncio.run(trainer.weights()))[0]
    row, col = _index(math.equations[0])
    x = np.random.default_rng(2).normal(size=(7, 6, 2)).astype(np.float32)
    engine = asyncio.run(trainer.feature_maps(x))[0][1][0]
    ho, wo, c_out = unit.out_shape
    kh, kw = unit.kernel if layer["type"] == "conv2d" else unit.size
    w = asyncio.run(trainer.weights())
    mine = np.zeros((ho, wo, c_out))
    for i in range(1, ho + 1):
        for j in range(1, wo + 1):
            window = np.zeros((kh, kw, 2))  # x is 0 outside the input (padding)
            for u in range(1, kh + 1):
                for v in range(1, kw + 1):
                    r, q = eval(row, {"i": i, "u": u}), eval(col, {"j": j, "v": v})
                    if 1 <= r <= 7 and 1 <= q <= 6:
                        window[u - 1, v - 1] = x[r - 1, q - 1]
            if layer["type"] == "conv2d":
                kernel = w["conv2d_1.weight"]  # (f, c, u, v)
                mine[i - 1, j - 1] = w["conv2d_1.bias"] + np.einsum("fcuv,uvc->f", kernel, window)
            elif layer["type"] == "maxpool2d":
                mine[i - 1, j - 1] = window.max(axis=(0, 1))
            else:
                mine[i - 1, j - 1] = window.mean(axis=(0, 1))
    np.testing.assert_allclose(mine, engine, atol=1e-5)
