"""Take a trained model out of Hearth: an inference ONNX file, and a PyTorch script.

The ONNX file is the prediction graph with the weights embedded (x in the user's layout ->
probabilities). The PyTorch script rebuilds the same network from torch.nn modules, carries the
weights inline (base64 npz) or beside it, and prints or saves predictions: a student can take the
model into "real" deep learning code and see that it is the same model.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping

import numpy as np

from hearth.train.layers.activations import Activation
from hearth.train.losses import get_loss
from hearth.train.spec import ModelSpec
from hearth.train.step_graph import build_predict


def export_onnx(spec: ModelSpec, loss: str, weights: Mapping[str, np.ndarray], classes: list[str] | None = None,
                extra: Mapping[str, str] | None = None) -> bytes:
    """Inference model: input "x" (batch, *input HWC), output "probabilities" (batch, classes)."""
    metadata = {"hearth.spec": spec.to_json(), "hearth.loss": loss}
    if classes:
        metadata["hearth.classes"] = json.dumps(list(classes))
    metadata.update(extra or {})
    return build_predict(spec, get_loss(loss, spec.units_out), dict(weights), metadata=metadata)


# ---------------------------------------------------------------- PyTorch

_HELPERS = '''
class ChannelsFirst(nn.Module):
    """Hearth takes images as (batch, height, width, channels); torch convolutions want NCHW."""

    def forward(self, x):
        return x.permute(0, 3, 1, 2)


class Reshape(nn.Module):
    """Reshape in (height, width, channels) order, as Hearth's flatten and reshape layers do."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        x = x.reshape(x.shape[0], *self.shape)
        return x.permute(0, 3, 1, 2) if len(self.shape) == 3 else x


class ChannelLayerNorm(nn.Module):
    """Layer normalisation over the channels of each pixel (Hearth's layernorm on an image)."""

    def __init__(self, channels, eps):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
'''

_ACTIVATIONS = {"relu": "nn.ReLU()", "gelu": "nn.GELU()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()",
                "softmax": "nn.Softmax(dim=1)"}


def torch_modules(spec: ModelSpec) -> tuple[list[str], dict[str, str]]:
    """Constructor expressions for an nn.Sequential, and Hearth weight name -> state_dict key."""
    modules: list[str] = []
    keys: dict[str, str] = {}

    def add(expr: str, unit=None, names: Mapping[str, str] | None = None) -> None:
        index = len(modules)
        modules.append(expr)
        if unit is not None:
            for local, full in spec.names(unit).items():
                keys[full] = f"{index}.{(names or {}).get(local, local)}"

    if len(spec.input_shape) == 3:
        add("ChannelsFirst()")
    for unit in spec.units:
        t = unit.type
        if isinstance(unit, Activation):
            if t == "leaky_relu":
                add(f"nn.LeakyReLU({unit.alpha!r})")
            elif t == "elu":
                add(f"nn.ELU({unit.alpha!r})")
            else:
                add(_ACTIVATIONS[t])
        elif t == "dense":
            add(f"nn.Linear({unit.in_shape[0]}, {unit.units}, bias={unit.use_bias})", unit)
        elif t == "conv2d":
            pt, pl, pb, pr = unit.pads
            padding = (pt, pl)
            if (pt, pl) != (pb, pr):
                add(f"nn.ZeroPad2d(({pl}, {pr}, {pt}, {pb}))")
                padding = (0, 0)
            add(f"nn.Conv2d({unit.channels}, {unit.filters}, kernel_size={unit.kernel}, stride={unit.stride}, "
                f"padding={padding}, bias={unit.use_bias})", unit)
        elif t == "maxpool2d":
            add(f"nn.MaxPool2d(kernel_size={unit.size}, stride={unit.stride})")
        elif t == "avgpool2d":
            add(f"nn.AvgPool2d(kernel_size={unit.size}, stride={unit.stride})")
        elif t in ("flatten", "reshape"):
            if unit.in_shape != unit.out_shape:
                add(f"Reshape({list(unit.out_shape)})")
        elif t == "dropout":
            add(f"nn.Dropout({unit.rate!r})")
        elif t == "batchnorm":
            kind = "BatchNorm2d" if unit.rank == 3 else "BatchNorm1d"
            add(f"nn.{kind}({unit.channels}, eps={unit.eps!r}, momentum={unit.momentum!r})", unit)
        elif t == "layernorm":
            if unit.rank == 3:
                add(f"ChannelLayerNorm({unit.channels}, eps={unit.eps!r})", unit,
                    {"weight": "norm.weight", "bias": "norm.bias"})
            else:
                add(f"nn.LayerNorm({unit.channels}, eps={unit.eps!r})", unit)
        else:  # pragma: no cover - every layer type is handled above
            raise NotImplementedError(f"no PyTorch module for {t}")
    return modules, keys


def torch_state(spec: ModelSpec, weights: Mapping[str, np.ndarray], steps: int = 0) -> dict[str, np.ndarray]:
    """The state_dict (as numpy) that `torch_modules`' Sequential loads."""
    _, keys = torch_modules(spec)
    state = {keys[name]: np.asarray(weights[name], np.float32) for name in keys}
    for unit in spec.units:
        if unit.type == "batchnorm":
            prefix = keys[f"{unit.key}.weight"].rsplit(".", 1)[0]
            state[f"{prefix}.num_batches_tracked"] = np.asarray(steps, np.int64)
    return state


def export_pytorch(spec: ModelSpec, loss: str, weights: Mapping[str, np.ndarray], classes: list[str] | None = None,
                   weights_file: str | None = None, steps: int = 0) -> tuple[str, bytes]:
    """(script text, npz bytes). The npz is embedded in the script unless `weights_file` names a
    file to write it to, next to the script (better for big models)."""
    modules, _ = torch_modules(spec)
    buffer = io.BytesIO()
    np.savez(buffer, **torch_state(spec, weights, steps))
    npz = buffer.getvalue()
    absorbs = get_loss(loss, spec.units_out).absorbs
    post = absorbs if absorbs is not None and spec.units[-1].type != absorbs else None
    body = ",\n        ".join(modules)
    if weights_file is None:
        encoded = base64.b64encode(npz).decode()
        lines = "\n".join(f'    "{encoded[i:i + 100]}"' for i in range(0, len(encoded), 100))
        source = f'WEIGHTS_NPZ_BASE64 = (\n{lines}\n)\n\n\ndef _weights():\n' \
                 '    return np.load(io.BytesIO(base64.b64decode(WEIGHTS_NPZ_BASE64)))\n'
    else:
        source = f'WEIGHTS_FILE = {weights_file!r}\n\n\ndef _weights():\n' \
                 '    return np.load(Path(__file__).with_name(WEIGHTS_FILE))\n'
    return f'''"""{spec.name}: a model trained in Hearth, rebuilt with torch.nn.

    python {spec.name}.py                               check the model loads and runs, and say how to use it
    python {spec.name}.py inputs.npy                    print the predicted class and probabilities per row
    python {spec.name}.py inputs.npy predictions.npy    save the probabilities

Input: float32 of shape (batch, {", ".join(map(str, spec.input_shape))}) — images as (height, width, channels),
preprocessed as in Hearth. Output: class probabilities (batch, {spec.units_out}).
"""

import argparse
import base64
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

CLASSES = {json.dumps(list(classes or []))}
OUTPUT_ACTIVATION = {post!r}  # applied by predict() when the network ends in logits
{_HELPERS}

def build_model():
    return nn.Sequential(
        {body},
    )


{source}

def load_model():
    model = build_model()
    model.load_state_dict({{k: torch.from_numpy(np.asarray(v)) for k, v in _weights().items()}})
    return model.eval()


def predict(model, x):
    with torch.no_grad():
        out = model(torch.as_tensor(np.asarray(x, dtype=np.float32)))
        if OUTPUT_ACTIVATION == "softmax":
            out = torch.softmax(out, dim=1)
        elif OUTPUT_ACTIVATION == "sigmoid":
            out = torch.sigmoid(out)
    return out.numpy()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="?", help=".npy file of inputs; left out: check the model and stop")
    parser.add_argument("output", nargs="?", help="where to save the probabilities (.npy); printed if left out")
    args = parser.parse_args()
    model = load_model()
    if args.inputs is None:
        print(model)
        print(f"{{sum(p.numel() for p in model.parameters()):,}} parameters loaded from Hearth's trained weights.")
        blank = predict(model, np.zeros((1, {", ".join(map(str, spec.input_shape))}), np.float32))
        print(f"A blank input runs through it: {{blank.shape[1]}} class probabilities summing to {{blank.sum():.3f}}.")
        print("Give it inputs: python", Path(__file__).name, "inputs.npy [predictions.npy]")
        raise SystemExit(0)
    probabilities = predict(model, np.load(args.inputs))
    if args.output:
        np.save(args.output, probabilities)
        print(f"Saved the probabilities of {{len(probabilities)}} inputs ({{probabilities.shape[1]}} classes) "
              f"to {{args.output}}.")
    else:
        for row in probabilities:
            label = CLASSES[int(row.argmax())] if CLASSES else int(row.argmax())
            print(label, " ".join(f"{{p:.4f}}" for p in row))
''', npz
