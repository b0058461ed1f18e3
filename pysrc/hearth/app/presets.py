"""Ready-made networks for the Build page, fitted to the data's input shape and number of classes."""

from __future__ import annotations

from typing import Any

from hearth.i18n import N_, t
from hearth.train.layers import SpecError, build

PRESETS: dict[str, str] = {
    "logistic": N_("Logistic regression"),
    "mlp": N_("MLP"),
    "small_cnn": N_("Small CNN"),
    "lenet": N_("LeNet"),
}
NEEDS_IMAGES = {"small_cnn", "lenet"}


def unavailable(name: str, input_shape: tuple[int, ...]) -> str | None:
    """Why a preset does not fit this input (None: it does)."""
    if name in NEEDS_IMAGES and len(input_shape) != 3:
        return t("{preset} needs images; this data has {count} numbers per sample", preset=t(PRESETS[name]),
                 count=input_shape[0])
    return None


def _head(outputs: int, classification: bool) -> dict[str, Any]:
    layer: dict[str, Any] = {"type": "dense", "units": outputs}
    if classification:
        layer["activation"] = "softmax"
    return layer


def preset(name: str, input_shape: tuple[int, ...], outputs: int, classification: bool = True
           ) -> list[dict[str, Any]]:
    """The layers of preset `name` for this input and number of outputs (classes or targets)."""
    if name not in PRESETS:
        raise ValueError(f"no preset {name!r}; choose one of {', '.join(PRESETS)}")
    reason = unavailable(name, input_shape)
    if reason:
        raise ValueError(reason)
    flat = [{"type": "flatten"}] if len(input_shape) == 3 else []
    head = _head(outputs, classification)
    if name == "logistic":
        return [*flat, head]
    if name == "mlp":
        return [*flat, {"type": "dense", "units": 64, "activation": "relu"}, head]
    if name == "small_cnn":
        layers = [{"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "relu"}]
        return _then_pool(layers, input_shape) + [{"type": "flatten"}, head]
    # LeNet-5's shape of things, shrunk to fit small inputs (8x8 digits keep every stage, padded)
    layers = [{"type": "conv2d", "filters": 6, "kernel": 5, "padding": "same", "activation": "relu"}]
    layers = _then_pool(layers, input_shape)
    second = {"type": "conv2d", "filters": 16, "kernel": 5, "padding": "valid", "activation": "relu"}
    if not _fits([*layers, second], input_shape):
        second["padding"] = "same"
    layers = _then_pool([*layers, second], input_shape)
    return layers + [{"type": "flatten"}, {"type": "dense", "units": 120, "activation": "relu"},
                     {"type": "dense", "units": 84, "activation": "relu"}, head]


def _fits(layers: list[dict[str, Any]], input_shape: tuple[int, ...]) -> bool:
    shape, source = input_shape, t("the input")
    try:
        for position, config in enumerate(layers, start=1):
            units = build(config, position, shape, source)
            shape, source = units[-1].out_shape, units[0].where
    except SpecError:
        return False
    return True


def _then_pool(layers: list[dict[str, Any]], input_shape: tuple[int, ...]) -> list[dict[str, Any]]:
    pooled = [*layers, {"type": "maxpool2d", "size": 2}]
    return pooled if _fits(pooled, input_shape) else layers
