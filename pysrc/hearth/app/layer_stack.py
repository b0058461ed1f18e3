"""Checking a layer stack as it is edited: each layer's output shape and size, or what is wrong with it.

The Build page shows the result at every layer, so the check walks the stack one layer at a time
with the engine's own `build()` (the very code `ModelSpec` runs) and pins each error to the layer
that raised it; the layers after a broken one wait for it to be fixed. Only a stack with no error
becomes a `ModelSpec`, so what trains is always a model that built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hearth.i18n import t
from hearth.train.layers import SpecError, build
from hearth.train.spec import ModelSpec


@dataclass
class LayerReport:
    position: int  # 1-based, as shown
    type: str
    output_shape: tuple[int, ...] | None = None  # None: not known (this layer or one before it is broken)
    params: int = 0
    error: str | None = None


@dataclass
class StackReport:
    input_shape: tuple[int, ...]
    layers: list[LayerReport]
    spec: ModelSpec | None  # the built model, when nothing is wrong
    error: str | None  # the first problem, for a summary line

    @property
    def ok(self) -> bool:
        return self.spec is not None

    @property
    def param_count(self) -> int:
        return sum(layer.params for layer in self.layers)


def _fit_message(last: LayerReport, outputs: int, classes: Sequence[str]) -> str | None:
    """The last layer against the data: one output per class (or 1 for two classes), or per target."""
    units = last.output_shape[0] if last.output_shape and len(last.output_shape) == 1 else None
    if units is None or units == outputs or (classes and len(classes) == 2 and units == 1):
        return None
    if classes:
        shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
        return t("{layer} at position {position} gives {units} output(s) but the data has {classes} classes ({shown}); "
                 "set its units to {classes}", layer=last.type, position=last.position, units=units,
                 classes=len(classes), shown=shown)
    return t("{layer} at position {position} gives {units} output(s) but the data has {outputs} target(s); "
             "set its units to {outputs}", layer=last.type, position=last.position, units=units, outputs=outputs)


def check_stack(input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]], *, outputs: int | None = None,
                classes: Sequence[str] = (), problems: Mapping[int, str] | None = None, name: str = "model"
                ) -> StackReport:
    """Check `layers` on `input_shape`. `outputs`: what the data needs from the last layer (classes
    or targets; None: any). `problems`: messages the editor already has for a layer (a box that
    does not parse), by position."""
    shape: tuple[int, ...] = tuple(input_shape)
    source = t("the input")
    reports: list[LayerReport] = []
    first_error: str | None = None
    for position, config in enumerate(layers, start=1):
        report = LayerReport(position, str(config.get("type", "?")))
        reports.append(report)
        if first_error is not None:
            continue
        problem = (problems or {}).get(position)
        if problem:
            report.error = first_error = problem
            continue
        try:
            units = build(dict(config), position, shape, source)
        except SpecError as error:
            report.error = first_error = str(error)
            continue
        shape = units[-1].out_shape
        source = units[0].where
        report.output_shape = shape
        report.params = sum(unit.param_count for unit in units)
    if not reports:
        return StackReport(tuple(input_shape), reports, None, t("add at least one layer"))
    spec = None
    if first_error is None:
        try:
            spec = ModelSpec({"name": name, "input": list(input_shape), "layers": [dict(c) for c in layers]})
        except SpecError as error:  # whole-model rules, e.g. the output must be flat: shown at the last layer
            reports[-1].error = first_error = str(error)
    if spec is not None and outputs is not None:
        message = _fit_message(reports[-1], outputs, list(classes))
        if message:
            reports[-1].error = first_error = message
            spec = None
    return StackReport(tuple(input_shape), reports, spec, first_error)
