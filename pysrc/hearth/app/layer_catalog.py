"""The layers the Build page offers: what each is for, and which settings a beginner or an expert sees.

Beginner mode offers a few sensible values per setting (filters 4-64, kernel 3 or 5, ...), so every
choice is one click and none is silly; expert mode shows every option the spec takes, typed in.
The spec (hearth.train.spec) stays the judge of what builds: this module only describes the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hearth.i18n import N_
from hearth.train.layers import LAYERS
from hearth.train.layers.base import INITS

ACTIVATIONS = ("none", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "gelu")
BEGINNER_ACTIVATIONS = ("relu", "softmax", "sigmoid", "tanh", "none")


@dataclass(frozen=True)
class Option:
    name: str
    label: str  # marked with N_, shown with t()
    kind: str  # int | float | choice | bool | size (a number or [height, width]) | shape (a list)
    choices: tuple = ()  # every value, for kind "choice"
    beginner: tuple = ()  # what beginner mode offers; empty: an expert-only setting
    blank_is_none: bool = False  # an empty box means "not set" (a pooling stride that follows the size)


@dataclass(frozen=True)
class LayerType:
    type: str
    title: str  # marked with N_, shown with t()
    explain: str
    beginner: bool
    options: tuple[Option, ...] = ()
    new: dict[str, Any] = field(default_factory=dict)  # a fresh layer's settings

    def default(self, option: str) -> Any:
        value = LAYERS[self.type].options.get(option)
        return None if value is not None and type(value) is object else value  # REQUIRED has no default


_activation = Option("activation", N_("Activation"), "choice", ACTIVATIONS, BEGINNER_ACTIVATIONS)
_bias = Option("use_bias", N_("Use a bias"), "bool")
_init = Option("init", N_("Initial weights"), "choice", INITS)

CATALOG: dict[str, LayerType] = {t.type: t for t in [
    LayerType("dense", N_("Dense"), N_("Every output is a weighted sum of all the inputs."), True,
              (Option("units", N_("Units"), "int", beginner=(2, 4, 8, 16, 32, 64, 128, 256)), _activation, _bias,
               _init), {"units": 32, "activation": "relu"}),
    LayerType("conv2d", N_("Convolution"), N_("Slides small filters over the image to find patterns such as edges."), True,
              (Option("filters", N_("Filters"), "int", beginner=(4, 6, 8, 16, 32, 64)),
               Option("kernel", N_("Kernel size"), "size", beginner=(3, 5)),
               Option("padding", N_("Padding"), "choice", ("valid", "same"), ("same", "valid")), _activation,
               Option("stride", N_("Stride"), "size"), _bias, _init),
              {"filters": 8, "kernel": 3, "padding": "same", "activation": "relu"}),
    LayerType("maxpool2d", N_("Max pooling"), N_("Keeps the strongest value of each window: smaller maps, same patterns."),
              True, (Option("size", N_("Window size"), "size", beginner=(2, 3)),
                     Option("stride", N_("Stride"), "size", blank_is_none=True)), {"size": 2}),
    LayerType("avgpool2d", N_("Average pooling"), N_("Averages each window: smaller, smoother maps."), False,
              (Option("size", N_("Window size"), "size", beginner=(2, 3)),
               Option("stride", N_("Stride"), "size", blank_is_none=True)), {"size": 2}),
    LayerType("flatten", N_("Flatten"), N_("Lays an image's values out in one row, so dense layers can read them."), True,
              (), {}),
    LayerType("dropout", N_("Dropout"), N_("Switches off a random share of values while training, against overfitting."),
              True, (Option("rate", N_("Rate"), "float", beginner=(0.1, 0.2, 0.3, 0.5)),), {"rate": 0.2}),
    LayerType("batchnorm", N_("Batch normalisation"), N_("Rescales each channel by its batch statistics."), False,
              (Option("momentum", N_("Momentum"), "float"), Option("epsilon", N_("Epsilon"), "float")), {}),
    LayerType("layernorm", N_("Layer normalisation"), N_("Rescales each sample's values to mean 0, spread 1."), False,
              (Option("epsilon", N_("Epsilon"), "float"),), {}),
    LayerType("reshape", N_("Reshape"), N_("Gives the values a new shape, e.g. [8, 8, 1] from 64."), False,
              (Option("shape", N_("Shape"), "shape"),), {"shape": [-1]}),
    LayerType("relu", N_("ReLU"), N_("Keeps positive values, zeroes the rest."), False),
    LayerType("leaky_relu", N_("Leaky ReLU"), N_("Like ReLU, with a small slope below zero."), False,
              (Option("alpha", N_("Slope below 0"), "float"),)),
    LayerType("elu", N_("ELU"), N_("Smooth below zero."), False, (Option("alpha", N_("Alpha"), "float"),)),
    LayerType("gelu", N_("GELU"), N_("A smooth ReLU used in transformers."), False),
    LayerType("sigmoid", N_("Sigmoid"), N_("Squashes values into 0..1."), False),
    LayerType("tanh", N_("Tanh"), N_("Squashes values into -1..1."), False),
    LayerType("softmax", N_("Softmax"), N_("Turns scores into probabilities that add up to 1."), False),
]}

assert set(CATALOG) == set(LAYERS), "every layer the engine has is offered"


def layer_types(expert: bool, keep: str | None = None) -> list[str]:
    """Types offered in a layer's type menu; `keep` (the layer's own type) is always there."""
    types = [t for t, info in CATALOG.items() if expert or info.beginner]
    if keep is not None and keep not in types:
        types.append(keep)
    return types


def visible_options(layer_type: str, expert: bool) -> list[Option]:
    return [o for o in CATALOG[layer_type].options if expert or o.beginner]


def new_layer(layer_type: str) -> dict[str, Any]:
    return {"type": layer_type, **CATALOG[layer_type].new}
