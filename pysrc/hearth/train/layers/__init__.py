"""The layers a spec may use, one module per kind, each with its forward and backward side by side.

`build()` turns one spec entry into the units the graph is made of: a dense or conv2d layer with an
`activation` option becomes two units (the layer, then the activation) sharing one position, so
that the loss can take over a final softmax or sigmoid and stay numerically stable.
"""

from __future__ import annotations

import difflib
from typing import Any

from hearth.i18n import t
from hearth.train.layers.activations import ACTIVATIONS, Activation
from hearth.train.layers.base import Build, Layer, SpecError, describe, internal
from hearth.train.layers.conv2d import Conv2D
from hearth.train.layers.dense import Dense
from hearth.train.layers.dropout import Dropout
from hearth.train.layers.norm import BatchNorm, LayerNorm
from hearth.train.layers.pooling import AvgPool2D, MaxPool2D
from hearth.train.layers.reshape import Flatten, Reshape

LAYERS: dict[str, type[Layer]] = {
    cls.type: cls for cls in (Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, Reshape, Dropout, BatchNorm, LayerNorm)
}
LAYERS.update(ACTIVATIONS)

__all__ = ["LAYERS", "ACTIVATIONS", "Activation", "Build", "Layer", "SpecError", "build", "describe", "internal"]


def build(config: Any, position: int, in_shape: tuple[int, ...], source: str) -> list[Layer]:
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise SpecError(t("layer at position {position} must be an object with a \"type\", got {value}",
                          position=position, value=repr(config)))
    kind = config["type"]
    if kind not in LAYERS:
        close = difflib.get_close_matches(kind, LAYERS, n=1)
        hint = t("did you mean {name}?", name=repr(close[0])) if close else \
            t("known types: {types}", types=", ".join(sorted(LAYERS)))
        raise SpecError(t("layer at position {position} has an unknown type {kind}; {hint}", position=position,
                          kind=repr(kind), hint=hint))
    layer = LAYERS[kind](config, position, in_shape, source)
    units = [layer]
    activation = layer.config.get("activation") if kind in ("dense", "conv2d") else None
    if activation not in (None, "linear", "none"):
        act_config = {"type": activation} if isinstance(activation, str) else activation
        if not isinstance(act_config, dict) or act_config.get("type") not in ACTIVATIONS:
            raise SpecError(f"{layer.where}: activation must be one of {', '.join(ACTIVATIONS)} or null, "
                            f"got {activation!r}")
        units.append(ACTIVATIONS[act_config["type"]](act_config, position, layer.out_shape, layer.where))
    return units
