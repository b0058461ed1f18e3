"""Shared references for the training tests: torch models from the exported script, and a probe
graph that runs any stack of units forward and backward on onnxruntime."""

from __future__ import annotations

import asyncio
import types

import numpy as np
import onnxruntime as ort
import pytest
import torch

from hearth.graph import Graph
from hearth.train.export import export_pytorch, torch_modules, torch_state
from hearth.train.layers import Build, internal
from hearth.train.layers.reshape import to_internal, to_user
from hearth.train.spec import ModelSpec

torch.set_num_threads(1)


def run(coro):
    return asyncio.run(coro)


def torch_script(spec: ModelSpec, loss: str = "categorical_crossentropy") -> types.ModuleType:
    """The exported PyTorch script, imported as a module."""
    text, _ = export_pytorch(spec, loss, spec.init_weights(0))
    module = types.ModuleType("exported")
    exec(compile(text, "exported.py", "exec"), module.__dict__)
    return module


class MaskDropout(torch.nn.Module):
    """Dropout with the mask Hearth used, so torch and Hearth drop the same units."""

    def __init__(self, name: str, masks: dict) -> None:
        super().__init__()
        self.name, self.masks = name, masks

    def forward(self, x):
        return x * torch.from_numpy(self.masks[self.name])


def torch_model(spec: ModelSpec, weights: dict[str, np.ndarray], masks: dict | None = None) -> torch.nn.Sequential:
    module = torch_script(spec)
    model = module.build_model()
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in torch_state(spec, weights).items()})
    modules, _ = torch_modules(spec)
    dropouts = [u for u in spec.units if u.type == "dropout"]
    positions = [i for i, m in enumerate(modules) if m.startswith("nn.Dropout")]
    for i, unit in zip(positions, dropouts, strict=True):
        model[i] = MaskDropout(unit.mask_name, masks if masks is not None else {})
    return model


def probe(spec: ModelSpec, weights: dict[str, np.ndarray], x: np.ndarray, dy: np.ndarray,
          masks: dict[str, np.ndarray] | None = None, cpu: bool = False) -> dict[str, np.ndarray]:
    """Forward in training mode, then every unit's backward from `dy` (user layout): y, dx, the
    gradient of each parameter (as "grad:<name>") and new buffers (as "new:<name>"). `cpu`: as
    the CPU training graph builds them (`Build.cpu`), else as the WebGPU one does."""
    g = Graph("probe")
    b = Build(g, training=True, cpu=cpu)
    shapes = spec.shapes()
    names = {n: g.input(n, "float32", list(shapes[n])) for n in shapes}
    xin = g.input("x", "float32", ["batch", *spec.input_shape])
    b.inv_n = g.op("Reciprocal", g.op("Cast", g.op("Shape", xin, start=0, end=1), to=1))
    h = to_internal(b, xin, len(spec.input_shape))
    saved = []
    for unit in spec.units:
        p = {local: names[full] for local, full in spec.names(unit).items()}
        h, keep = unit.forward(b, h, p)
        saved.append((unit, p, keep))
    out_shape = spec.output_shape
    g.output(to_user(b, h, len(out_shape)), "float32", None, name="y")
    dyin = g.input("dy", "float32", ["batch", *out_shape])
    grad = to_internal(b, dyin, len(out_shape))
    for unit, p, keep in reversed(saved):
        grad, grads = unit.backward(b, grad, keep, p, True)
        for local, value in grads.items():
            g.output(value, "float32", None, name=f"grad:{p[local]}")
    g.output(to_user(b, grad, len(spec.input_shape)), "float32", None, name="dx")
    for name, value in b.buffer_updates.items():
        g.output(value, "float32", None, name=f"new:{name}")
    session = ort.InferenceSession(g.to_bytes(opset=17))
    feeds = {**{k: np.asarray(v, np.float32) for k, v in weights.items()}, "x": x, "dy": dy, **(masks or {})}
    feeds = {k: v for k, v in feeds.items() if k in {i.name for i in session.get_inputs()}}
    outputs = session.run(None, feeds)
    return dict(zip([o.name for o in session.get_outputs()], outputs, strict=True))


def draw_masks(spec: ModelSpec, rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    return {u.mask_name: u.draw_mask(rng, batch) for u in spec.units if u.type == "dropout" and u.rate > 0}


@pytest.fixture
def digits():
    from hearth.train.data import load_builtin

    return load_builtin("digits")


__all__ = ["run", "torch_script", "torch_model", "probe", "draw_masks", "internal"]
