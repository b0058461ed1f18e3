"""Each layer of a model spec as the formula it computes, in LaTeX, for the Build page's math view.

One entry per spec position, as the Build page numbers layers: a dense or conv2d layer and its
`activation` (two units in the graph) are one formula, y = act(Wx + b). Every formula is written
for one sample in the user's view of it (HWC for images, indices from 1) with the layer's own
numbers in it (sizes, stride, padding, rate, epsilon), so it reads as this network, not a textbook's.
Beside it: the live shapes, a one-line meaning per symbol for beginners, and, for a layer whose
weights fit a few small matrices, the weights themselves.

What this module owns: turning `hearth.train.layers` units (and a weights dict named as
`ModelSpec.names` names them) into LaTeX strings. It imports numpy and hearth.train only; drawing
the LaTeX is the app's business (hearth.app.math_view).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hearth.i18n import N_, t
from hearth.train.layers import LAYERS, Layer
from hearth.train.spec import ModelSpec

# Numbers are shown for a layer whose weights fit at most MAX_MATRICES matrices of at most MAX_SIDE
# rows and columns: more would bury the formula, and a student reads a 4 x 4 grid at a glance.
MAX_SIDE = 4
MAX_MATRICES = 4


@dataclass(frozen=True)
class Symbol:
    tex: str
    meaning: str  # one line of plain words, for beginner mode


@dataclass(frozen=True)
class LayerMath:
    position: int  # 1-based, as the Build page numbers layers
    type: str
    title: str  # "dense at position 2, then ReLU"
    equations: tuple[str, ...]  # display LaTeX: the layer's formula first, then what its functions mean
    shapes: str  # inline LaTeX: each tensor with its size
    symbols: tuple[Symbol, ...]
    numbers: str | None = None  # display LaTeX of the formula with the trained weights (small layers only)


def number(value: float) -> str:
    """A weight as it is shown: 3 significant digits, never in exponent form (LaTeX would print the 'e')."""
    text = np.format_float_positional(np.float32(value), precision=3, unique=False, fractional=False, trim="-")
    return "0" if text == "-0" else text


def space(shape: Sequence[int]) -> str:
    return r"\mathbb{R}^{" + r" \times ".join(str(d) for d in shape) + "}"


def matrix(values: np.ndarray) -> str:
    """A vector as a column, a 2-D array as a matrix."""
    rows = values.reshape(-1, 1) if values.ndim == 1 else values
    return r"\begin{bmatrix}" + r" \\ ".join(" & ".join(number(v) for v in row) for row in rows) + r"\end{bmatrix}"


def _lead(stride: int, var: str) -> str:
    return var if stride == 1 else f"{stride}{var}"


def _offset(stride: int, pad: int, var: str, inner: str) -> str:
    """The 1-based input index that output index `var` and window index `inner` read: s(var-1) + inner - pad."""
    shift = stride + pad
    return f"{_lead(stride, var)} + {inner}" + (f" - {shift}" if shift else "")


def _plural(n: int, one: str, many: str) -> str:
    """`n` things in words: `one` and `many` are N_-marked texts with a {count} field."""
    return t(one if n == 1 else many, count=n)


ROW, ROWS = N_("{count} row"), N_("{count} rows")
COLUMN, COLUMNS = N_("{count} column"), N_("{count} columns")
CHANNEL, CHANNELS = N_("{count} channel"), N_("{count} channels")


def _text(words: str) -> str:
    """Words inside a formula (LaTeX \\text)."""
    return r"\text{" + words + "}"


def _no_weights(meaning: str) -> Symbol:
    return Symbol(_text(t("(no weights)")), meaning)


def _count(shape: Sequence[int]) -> str:
    size = " × ".join(str(d) for d in shape)
    return t("{size} number", size=size) if shape == (1,) else t("{size} numbers", size=size)


# ---------------------------------------------------------------- activations
# name in formulas, its definition, and what it does in words
ACTIVATION_TEX: dict[str, tuple[str, Callable[[Layer], str], str]] = {
    "relu": (r"\operatorname{ReLU}", lambda a: r"\operatorname{ReLU}(z) = \max(0,\ z)",
             N_("keeps a positive number and turns a negative one into 0")),
    "leaky_relu": (r"\operatorname{LeakyReLU}",
                   lambda a: r"\operatorname{LeakyReLU}(z) = \begin{cases} z & z > 0 \\ " + number(a.alpha)
                   + r"\,z & z \le 0 \end{cases}",
                   N_("like ReLU, but a negative number keeps a small slope instead of becoming 0")),
    "elu": (r"\operatorname{ELU}",
            lambda a: r"\operatorname{ELU}(z) = \begin{cases} z & z > 0 \\ "
            + ("" if a.alpha == 1 else number(a.alpha) + r"\,") + r"(e^{z} - 1) & z \le 0 \end{cases}",
            N_("like ReLU, but bends smoothly below 0 instead of a sharp corner")),
    "gelu": (r"\operatorname{GELU}",
             lambda a: r"\operatorname{GELU}(z) = z\,\Phi(z) = \frac{z}{2}\left(1 + \operatorname{erf}"
                       r"\frac{z}{\sqrt{2}}\right)",
             N_("a smooth ReLU: a number times the chance that a standard normal value is below it")),
    "sigmoid": (r"\sigma", lambda a: r"\sigma(z) = \frac{1}{1 + e^{-z}}",
                N_("squashes any number into the range 0 to 1")),
    "tanh": (r"\tanh", lambda a: r"\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}",
             N_("squashes any number into the range -1 to 1")),
    "softmax": (r"\operatorname{softmax}", lambda a: "",  # defined per use: it needs the vector's length
                N_("turns n scores into n probabilities that are all positive and add up to 1")),
}


def _softmax_definition(n: int) -> str:
    return r"\operatorname{softmax}(\mathbf{z})_k = \frac{e^{z_k}}{\sum_{m=1}^{" + str(n) + r"} e^{z_m}}"


def _activation_lines(act: Layer, n: int) -> tuple[list[str], list[Symbol]]:
    """The definition of `act` (applied to vectors of length n for softmax) and its symbol."""
    name, define, words = ACTIVATION_TEX[act.type]
    definition = _softmax_definition(n) if act.type == "softmax" else define(act)
    return [definition], [Symbol(name, t(words))]


# ---------------------------------------------------------------- one formula per layer kind
Weights = Mapping[str, np.ndarray] | None


def _input_symbol(layer: Layer) -> Symbol:
    return Symbol(r"\mathbf{x}", t("what this layer gets: {count} from {source}", count=_count(layer.in_shape),
                                   source=layer.source))


def _output_symbol(layer: Layer, act: Layer | None = None) -> Symbol:
    last = act or layer
    return Symbol(r"\mathbf{y}", t("what it gives the next layer: {count}", count=_count(last.out_shape)))


def _dense(layer: Layer, act: Layer | None, w: Weights) -> dict:
    n, m = layer.units, layer.in_shape[0]
    inner = r"W\mathbf{x}" + (r" + \mathbf{b}" if layer.use_bias else "")
    name = ACTIVATION_TEX[act.type][0] if act is not None else ""
    formula = r"\mathbf{y} = " + (rf"{name}\left({inner}\right)" if act is not None else inner)
    equations = [formula]
    symbols = [_input_symbol(layer),
               Symbol("W", t("the weights: {rows} × {columns} numbers learned in training, one row per output, one "
                             "column per input", rows=n, columns=m)),
               ]
    if layer.use_bias:
        symbols.append(Symbol(r"\mathbf{b}", t("the bias: {numbers}, one added to each output",
                                               numbers=_plural(n, N_("{count} learned number"),
                                                               N_("{count} learned numbers")))))
    symbols.append(Symbol(r"W\mathbf{x}", t("each output is the sum of every input times its weight")))
    if act is not None:
        lines, act_symbols = _activation_lines(act, n)
        equations += lines
        symbols += act_symbols
    symbols.append(_output_symbol(layer, act))
    shapes = [rf"\mathbf{{x}} \in {space((m,))}", rf"W \in {space((n, m))}"]
    if layer.use_bias:
        shapes.append(rf"\mathbf{{b}} \in {space((n,))}")
    shapes.append(rf"\mathbf{{y}} \in {space((n,))}")
    numbers = None
    if w is not None and n <= MAX_SIDE and m <= MAX_SIDE:
        filled = matrix(w["weight"]) + r"\mathbf{x}" + (" + " + matrix(w["bias"]) if layer.use_bias else "")
        numbers = r"\mathbf{y} = " + (rf"{name}\left({filled}\right)" if act is not None else filled)
    return {"equations": equations, "shapes": shapes, "symbols": symbols, "numbers": numbers}


def _conv2d(layer: Layer, act: Layer | None, w: Weights) -> dict:
    (kh, kw), (sh, sw) = layer.kernel, layer.stride
    pt, pl, pb, pr = layer.pads
    c_in, f_out = layer.channels, layer.filters
    ho, wo, _ = layer.out_shape
    row, col = _offset(sh, pt, "i", "u"), _offset(sw, pl, "j", "v")
    total = (r"\sum_{c=1}^{" + str(c_in) + r"} \sum_{u=1}^{" + str(kh) + r"} \sum_{v=1}^{" + str(kw)
             + r"} W_{f,c,u,v}\, x_{" + f"{row},\\ {col},\\ c" + "}")
    if layer.use_bias:
        total = "b_f + " + total
    softmax = act is not None and act.type == "softmax"
    if act is None:
        equations = [r"y_{i,j,f} = " + total]
    elif softmax:  # over the filters of each pixel, so the sum gets a name first
        equations = [r"z_{i,j,f} = " + total, r"\mathbf{y}_{i,j} = \operatorname{softmax}(\mathbf{z}_{i,j})"]
    else:
        name = ACTIVATION_TEX[act.type][0]
        equations = [r"y_{i,j,f} = " + name + r"\left(" + total + r"\right)"]
    symbols = [_input_symbol(layer),
               Symbol(r"W_{f,c,u,v}", t("the filters, learned in training: {count} of them, each a {height} × {width} "
                                        "grid of weights per input channel ({channels})", count=f_out, height=kh,
                                        width=kw, channels=_plural(c_in, CHANNEL, CHANNELS)))]
    if layer.use_bias:
        symbols.append(Symbol("b_f", t("the bias: one learned number added to everything filter f finds")))
    symbols += [Symbol(r"i,\ j", t("the output pixel: row i = 1…{rows}, column j = 1…{columns}", rows=ho, columns=wo)),
                Symbol("f", t("which filter, 1…{count}: each one gives one channel of the output", count=f_out)),
                Symbol(r"u,\ v,\ c", t("row, column and channel inside the filter's window over the input"))]
    if sh > 1 or sw > 1:
        moves = t("the stride: the window moves {rows} down and {columns} across per pixel",
                  rows=_plural(sh, ROW, ROWS), columns=_plural(sw, COLUMN, COLUMNS))
        symbols.append(Symbol(f"{_lead(sh, 'i')},\\ {_lead(sw, 'j')}", moves))
    if any(layer.pads):
        symbols.append(Symbol(r"x_{\ldots} = 0", t("outside the input, where the window hangs over its edge (padding: "
                                                   "{top} above, {bottom} below, {left} left, {right} right)",
                                                   top=_plural(pt, ROW, ROWS), bottom=pb,
                                                   left=_plural(pl, COLUMN, COLUMNS), right=pr)))
    if act is not None:
        lines, act_symbols = _activation_lines(act, f_out)
        equations += lines
        symbols += act_symbols
    symbols.append(_output_symbol(layer, act))
    shapes = [rf"\mathbf{{x}} \in {space(layer.in_shape)}", rf"W \in {space((f_out, c_in, kh, kw))}"]
    if layer.use_bias:
        shapes.append(rf"\mathbf{{b}} \in {space((f_out,))}")
    shapes.append(rf"\mathbf{{y}} \in {space(layer.out_shape)}")
    numbers = None
    if w is not None and kh <= MAX_SIDE and kw <= MAX_SIDE and f_out * c_in <= MAX_MATRICES:
        parts = [rf"W_{{{f + 1},{c + 1}}} = {matrix(w['weight'][f, c])}" for f in range(f_out) for c in range(c_in)]
        if layer.use_bias:
            parts.append(r"\mathbf{b} = " + matrix(w["bias"]))
        numbers = r",\quad ".join(parts)
    return {"equations": equations, "shapes": shapes, "symbols": symbols, "numbers": numbers}


def _pool(layer: Layer, act: Layer | None, w: Weights) -> dict:
    (kh, kw), (sh, sw) = layer.size, layer.stride
    ho, wo, c = layer.out_shape
    window = r"x_{" + f"{_offset(sh, 0, 'i', 'u')},\\ {_offset(sw, 0, 'j', 'v')},\\ c" + "}"
    limits = r"u=1 \ldots " + str(kh) + r",\ v=1 \ldots " + str(kw)
    if layer.type == "maxpool2d":
        formula = r"y_{i,j,c} = \max_{" + limits + "} " + window
        what = Symbol(r"\max", t("the largest of the {count} values in the window", count=kh * kw))
    else:
        formula = (r"y_{i,j,c} = \frac{1}{" + str(kh * kw) + r"} \sum_{u=1}^{" + str(kh) + r"} \sum_{v=1}^{"
                   + str(kw) + "} " + window)
        what = Symbol(r"\frac{1}{" + str(kh * kw) + r"} \sum", t("the average of the {count} values in the window",
                                                                 count=kh * kw))
    symbols = [_input_symbol(layer), what,
               Symbol(r"i,\ j", t("the output pixel: row i = 1…{rows}, column j = 1…{columns}; each sees a {height} × "
                                  "{width} window that moves {down} down and {across} across per pixel", rows=ho,
                                  columns=wo, height=kh, width=kw, down=_plural(sh, ROW, ROWS),
                                  across=_plural(sw, COLUMN, COLUMNS))),
               Symbol("c", t("the channel, 1…{count}: each channel is pooled on its own", count=c)),
               _output_symbol(layer), _no_weights(t("nothing here is learned"))]
    shapes = [rf"\mathbf{{x}} \in {space(layer.in_shape)}", rf"\mathbf{{y}} \in {space(layer.out_shape)}"]
    return {"equations": [formula], "shapes": shapes, "symbols": symbols}


def _flatten(layer: Layer, act: Layer | None, w: Weights) -> dict:
    if len(layer.in_shape) == 3:
        h, wd, c = layer.in_shape
        formula = (r"y_{" + f"{wd * c}(i-1) + {c}(j-1) + c" + r"} = x_{i,j,c}" if c > 1
                   else r"y_{" + f"{wd}(i-1) + j" + r"} = x_{i,j,1}")
        words = t("row by row: all of row 1 (each pixel's {channels} together), then row 2, … up to row {rows}",
                  channels=_plural(c, CHANNEL, CHANNELS), rows=h)
    else:
        formula, words = r"\mathbf{y} = \mathbf{x}", t("the input is already one row of numbers: nothing moves")
    symbols = [_input_symbol(layer), Symbol(r"y_k", t("the same numbers in one row of {count}, {how}",
                                                      count=layer.out_shape[0], how=words)),
               _no_weights(t("nothing here is learned or computed: values only move"))]
    shapes = [rf"\mathbf{{x}} \in {space(layer.in_shape)}", rf"\mathbf{{y}} \in {space(layer.out_shape)}"]
    return {"equations": [formula], "shapes": shapes, "symbols": symbols}


def _reshape(layer: Layer, act: Layer | None, w: Weights) -> dict:
    symbols = [_input_symbol(layer),
               Symbol(r"\operatorname{vec}", t("all the values in one row, read row by row (height, then width, then "
                                               "channel)")),
               Symbol(r"\mathbf{y}", t("the same values in the new shape {shape}",
                                       shape=" × ".join(map(str, layer.out_shape)))),
               _no_weights(t("nothing here is learned or computed: values only move"))]
    shapes = [rf"\mathbf{{x}} \in {space(layer.in_shape)}", rf"\mathbf{{y}} \in {space(layer.out_shape)}"]
    return {"equations": [r"\operatorname{vec}(\mathbf{y}) = \operatorname{vec}(\mathbf{x})"], "shapes": shapes,
            "symbols": symbols}


def _dropout(layer: Layer, act: Layer | None, w: Weights) -> dict:
    p = number(layer.rate)
    keep = number(1 - layer.rate)
    chance = _text(t("with probability") + " ") + " "
    equations = [_text(t("training:")) + r"\quad y_k = \frac{m_k}{1 - " + p + r"}\, x_k,\qquad m_k = \begin{cases} 1 & "
                 + chance + keep + r" \\ 0 & " + chance + p + r"\end{cases}",
                 _text(t("predicting:")) + r"\quad \mathbf{y} = \mathbf{x}"]
    symbols = [_input_symbol(layer),
               Symbol(r"m_k", t("a fresh random 0 or 1 for every value at every training step: {share} of the values "
                                "are switched off", share=p)),
               Symbol(r"\frac{1}{1 - " + p + "}", t("scales up the values that stay, so their total stays the same "
                                                    "on average")),
               Symbol(r"\mathbf{y} = \mathbf{x}", t("when the trained network predicts, nothing is switched off")),
               _output_symbol(layer)]
    shapes = [rf"\mathbf{{x}},\ \mathbf{{y}} \in {space(layer.in_shape)}"]
    return {"equations": equations, "shapes": shapes, "symbols": symbols}


def _norm(layer: Layer, act: Layer | None, w: Weights) -> dict:
    n = layer.channels
    eps = number(layer.eps)
    images = len(layer.in_shape) == 3
    index = r"_{i,j,c}" if images else r"_{c}"
    if layer.type == "batchnorm":
        normalised = r"\frac{x" + index + r" - \mu_c}{\sqrt{\sigma_c^2 + " + eps + r"}}"
        where = (_text(t("training:") + " ") + r" \mu_c,\ \sigma_c^2 = " + _text(t("mean, variance of channel") + " ")
                 + " c " + _text(" " + t("over the batch")) + r"\quad " + _text(t("predicting:") + " ")
                 + r" \mu_c = \hat\mu_c,\ \sigma_c^2 = \hat\sigma_c^2")
        running = (r"\hat\mu_c \leftarrow " + number(1 - layer.momentum) + r"\,\hat\mu_c + " + number(layer.momentum)
                   + r"\,\mu_c,\quad \hat\sigma_c^2 \leftarrow " + number(1 - layer.momentum) + r"\,\hat\sigma_c^2 + "
                   + number(layer.momentum) + r"\,\frac{M}{M - 1}\,\sigma_c^2")
        equations = [r"y" + index + r" = \gamma_c\, " + normalised + r" + \beta_c", where, running]
        stats = [Symbol(r"\mu_c,\ \sigma_c^2",
                        t("the mean and variance of channel c over the batch and all pixels, while training") if images
                        else t("the mean and variance of channel c over the batch, while training")),
                 Symbol(r"\hat\mu_c,\ \hat\sigma_c^2", t("running averages of those, kept from training and used when "
                                                         "predicting")),
                 Symbol("M", t("how many values channel c has in a batch ({what}); M/(M - 1) makes the running "
                               "variance unbiased", what=t("batch size × pixels") if images else t("batch size")))]
    else:
        mean = r"\mu = \frac{1}{" + str(n) + r"} \sum_{c=1}^{" + str(n) + r"} x" + index
        var = r"\sigma^2 = \frac{1}{" + str(n) + r"} \sum_{c=1}^{" + str(n) + r"} (x" + index + r" - \mu)^2"
        equations = [r"y" + index + r" = \gamma_c\, \frac{x" + index + r" - \mu}{\sqrt{\sigma^2 + " + eps
                     + r"}} + \beta_c", mean + r",\qquad " + var]
        stats = [Symbol(r"\mu,\ \sigma^2", t("the mean and variance of this sample's {count} values at pixel (i, j)",
                                             count=n) if images else
                        t("the mean and variance of this sample's {count} values", count=n))]
    symbols = [_input_symbol(layer), *stats,
               Symbol(eps, t("a tiny number that keeps the division safe when the variance is 0")),
               Symbol(r"\gamma_c,\ \beta_c", t("a learned scale and shift for each of the {count} channels", count=n)
                      if images else t("a learned scale and shift for each of the {count} features", count=n)),
               _output_symbol(layer)]
    shapes = [rf"\mathbf{{x}},\ \mathbf{{y}} \in {space(layer.in_shape)}",
              rf"\boldsymbol{{\gamma}},\ \boldsymbol{{\beta}} \in {space((n,))}"]
    numbers = None
    if w is not None and n <= MAX_SIDE:
        parts = [r"\boldsymbol{\gamma} = " + matrix(w["weight"]), r"\boldsymbol{\beta} = " + matrix(w["bias"])]
        if layer.type == "batchnorm":
            parts += [r"\hat{\boldsymbol{\mu}} = " + matrix(w["running_mean"]),
                      r"\hat{\boldsymbol{\sigma}}^2 = " + matrix(w["running_var"])]
        numbers = r",\quad ".join(parts)
    return {"equations": equations, "shapes": shapes, "symbols": symbols, "numbers": numbers}


def _activation(layer: Layer, act: Layer | None, w: Weights) -> dict:
    name, _, _ = ACTIVATION_TEX[layer.type]
    images = len(layer.in_shape) == 3
    if layer.type == "softmax":
        n = layer.in_shape[-1]
        formula = (r"\mathbf{y}_{i,j} = \operatorname{softmax}(\mathbf{x}_{i,j})" if images
                   else r"\mathbf{y} = \operatorname{softmax}(\mathbf{x})")
        scope = (t("applied over the {channels} of each pixel (i, j)", channels=_plural(n, CHANNEL, CHANNELS))
                 if images else t("applied over all {count} values", count=n))
    else:
        n = 0
        formula = r"y_k = " + name + r"(x_k)"
        scope = t("applied to each of the {count} values on its own", count=int(np.prod(layer.in_shape)))
    lines, act_symbols = _activation_lines(layer, n)
    symbols = [_input_symbol(layer), Symbol(act_symbols[0].tex, f"{act_symbols[0].meaning}; {scope}"),
               _output_symbol(layer), _no_weights(t("nothing here is learned"))]
    shapes = [rf"\mathbf{{x}},\ \mathbf{{y}} \in {space(layer.in_shape)}"]
    return {"equations": [formula, *lines], "shapes": shapes, "symbols": symbols}


FORMULAS: dict[str, Callable[[Layer, Layer | None, Weights], dict]] = {
    "dense": _dense, "conv2d": _conv2d, "maxpool2d": _pool, "avgpool2d": _pool, "flatten": _flatten,
    "reshape": _reshape, "dropout": _dropout, "batchnorm": _norm, "layernorm": _norm,
    **{kind: _activation for kind in ACTIVATION_TEX},
}
assert set(FORMULAS) == set(LAYERS), "every layer kind the engine has is written out"


def layer_math(layer: Layer, activation: Layer | None = None,
               weights: Mapping[str, np.ndarray] | None = None) -> LayerMath:
    """One spec position: `layer`, the `activation` unit that follows it (dense, conv2d), and its weights
    by local name ("weight", "bias", "running_mean"), or None to leave the numbers out."""
    parts = FORMULAS[layer.type](layer, activation, weights)
    title = layer.where
    if activation is not None:
        title = t("{layer}, then {activation}", layer=title, activation=activation.type)
    return LayerMath(layer.position, layer.type, title, tuple(parts["equations"]), r",\quad ".join(parts["shapes"]),
                     tuple(parts["symbols"]), parts.get("numbers"))


def network_math(spec: ModelSpec, weights: Mapping[str, np.ndarray] | None = None) -> list[LayerMath]:
    """Every layer of `spec` in order; `weights` (global names, as `Trainer.weights()` gives them) fill in
    the numbers of small layers."""
    out = []
    units = list(spec.units)
    while units:
        layer = units.pop(0)
        activation = units.pop(0) if units and units[0].position == layer.position else None
        local = None
        if weights is not None and spec.names(layer):
            local = {name: np.asarray(weights[key]) for name, key in spec.names(layer).items()}
        out.append(layer_math(layer, activation, local))
    return out
