"""The Python a no-code model corresponds to: the same network, data and training settings as code.

Two scripts: one with Hearth's own Python API (what the pages run, line for line), and one in
PyTorch, so a student can carry the model into "real" deep learning code. Both are generated from
the checked spec, the training settings and where the data came from.
"""

from __future__ import annotations

import json
import pprint
from typing import Any

from hearth.train.augment import TORCH_SOURCE as AUGMENT_SOURCE
from hearth.train.export import _HELPERS, torch_modules
from hearth.train.spec import ModelSpec, TrainConfig

# Where the data came from (set by the Data page): {"kind": "builtin", "name": "digits"}, {"kind": "csv",
# "file": "plants.csv", "label": "species", "features": ["height", "width"] (when some are left out),
# "normalize": "standard", "task": "auto"}, {"kind": "images",
# "file": "pets.zip", "size": [28, 28], "channels": 1}, {"kind": "webcam", "size": [32, 32], "channels": 3}
DataSource = dict[str, Any]

SKLEARN = {"digits": "load_digits", "iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer"}


def _literal(value: Any) -> str:
    return pprint.pformat(value, width=100, sort_dicts=False)


def _settings(config: TrainConfig) -> dict[str, Any]:
    """The training settings that differ from Hearth's defaults (the rest go without saying)."""
    defaults = TrainConfig().to_dict()
    return {k: v for k, v in config.to_dict().items() if v != defaults[k] or k in ("loss", "epochs")}


def _hearth_data(source: DataSource | None) -> tuple[str, str]:
    """(import names, the line that loads the data) for Hearth's loaders."""
    kind = (source or {}).get("kind", "builtin")
    if kind == "builtin":
        return "load_builtin", f"data = load_builtin({(source or {}).get('name', 'digits')!r})"
    if kind == "csv":
        normalize = source.get("normalize")
        features = f"features={source['features']!r}, " if source.get("features") else ""
        return "load_csv", (f"data = load_csv(open({source.get('file', 'data.csv')!r}, 'rb').read(), "
                            f"label={source.get('label')!r}, {features}normalize={normalize!r}, "
                            f"task={source.get('task', 'auto')!r})")
    size, channels = tuple(source.get("size", (28, 28))), source.get("channels", 1)
    if kind == "webcam":
        note = "# Your webcam shots stay in the browser: save them as a ZIP with one folder per class.\n"
        return "load_images", note + f"data = load_images(open('shots.zip', 'rb').read(), size={size}, " \
                                     f"channels={channels})"
    return "load_images", f"data = load_images(open({source.get('file', 'images.zip')!r}, 'rb').read(), " \
                          f"size={size}, channels={channels})"


def hearth_script(spec: ModelSpec, config: TrainConfig, source: DataSource | None = None) -> str:
    """A script that trains this model with Hearth's Python API (on CPython with onnxruntime)."""
    loader, load_line = _hearth_data(source)
    model = spec.to_dict()
    model["training"] = _settings(config)
    return f'''"""Train the network built on Hearth's pages, with Hearth's Python API."""

import asyncio

from hearth.train import ModelSpec, Trainer, {loader}

spec = ModelSpec({_literal(model)})

{load_line}
trainer = Trainer(spec, data)  # the settings come from spec["training"]


async def main():
    async for epoch in trainer.fit():
        line = f"epoch {{epoch.epoch}}: loss {{epoch.loss:.4f}}"
        if epoch.val_accuracy is not None:
            line += f", validation accuracy {{epoch.val_accuracy:.3f}}"
        print(line)
    if len(trainer.val_data):
        report = await trainer.evaluate()
        print("confusion matrix (rows: true class, columns: predicted):")
        print(report.confusion)


asyncio.run(main())
'''


def _torch_data(source: DataSource | None, spec: ModelSpec) -> str:
    kind = (source or {}).get("kind", "builtin")
    name = (source or {}).get("name", "digits")
    if kind == "builtin" and name in SKLEARN:
        lines = [f"from sklearn.datasets import {SKLEARN[name]}", "", f"raw = {SKLEARN[name]}()"]
        if name == "digits":
            lines.append("x = (raw.images / 16.0).astype(np.float32)[..., None]  # 8x8 images, values 0..1")
        else:
            lines.append("x = raw.data.astype(np.float64)")
            lines.append("x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)  # standardised, as in Hearth")
        lines.append("y = raw.target")
        lines.append("classes = [str(c) for c in raw.target_names]")
        return "\n".join(lines)
    loader, load_line = _hearth_data(source)
    return "\n".join([f"# The same data, prepared by Hearth's loader.\nfrom hearth.train import {loader}", "",
                      load_line, "x = data.x", "y = data.y.argmax(axis=1) if data.classes else data.y",
                      "classes = data.classes"])


def _torch_optimizer(config: TrainConfig) -> str:
    o = {**config.optimizer_options}
    lr = config.learning_rate
    if config.optimizer == "sgd":
        extra = f", momentum={o.get('momentum', 0.0)}, nesterov={o.get('nesterov', False)}" if o.get("momentum") else ""
        return f"torch.optim.SGD(model.parameters(), lr={lr}{extra})"
    if config.optimizer == "adam":
        return (f"torch.optim.Adam(model.parameters(), lr={lr}, betas=({o.get('beta1', 0.9)}, "
                f"{o.get('beta2', 0.999)}), eps={o.get('epsilon', 1e-8)})")
    if config.optimizer == "rmsprop":
        return (f"torch.optim.RMSprop(model.parameters(), lr={lr}, alpha={o.get('alpha', 0.99)}, "
                f"eps={o.get('epsilon', 1e-8)})")
    return (f"torch.optim.Adagrad(model.parameters(), lr={lr}, eps={o.get('epsilon', 1e-10)}, "
            f"initial_accumulator_value={o.get('initial_accumulator', 0.0)})")


def pytorch_script(spec: ModelSpec, config: TrainConfig, source: DataSource | None = None) -> str:
    """A PyTorch script with the same layers, loss, optimizer and batches; weights start anew."""
    modules, _ = torch_modules(spec)
    last = spec.units[-1].type
    if config.loss == "categorical_crossentropy":
        loss_line, target = "nn.CrossEntropyLoss()  # takes the scores before softmax", "torch.as_tensor(y[batch])"
        absorbed = "softmax"
    elif config.loss == "binary_crossentropy":
        loss_line = "nn.BCEWithLogitsLoss()  # takes the scores before sigmoid"
        target = ("torch.as_tensor(y[batch], dtype=torch.float32)[:, None]" if spec.units_out == 1 else
                  "nn.functional.one_hot(torch.as_tensor(y[batch]), len(classes)).float()")
        absorbed = "sigmoid"
    else:
        loss_line, target, absorbed = "nn.MSELoss()", "torch.as_tensor(y[batch], dtype=torch.float32)", None
    dropped = ""
    if absorbed is not None and last == absorbed:
        modules = modules[:-1]
        dropped = f"  # the final {absorbed} is inside the loss"
    helpers = [h for h in ("ChannelsFirst", "Reshape", "ChannelLayerNorm") if any(m.startswith(h) for m in modules)]
    helper_code = "\n\n".join(block for block in _HELPERS.strip().split("\n\n\n")
                              if any(block.startswith(f"class {h}(") for h in helpers))
    classification = config.loss != "mean_squared_error"
    accuracy = ("""        if classes:
            predicted = scores.argmax(1) if scores.shape[1] > 1 else (scores[:, 0] > 0).long()
            accuracy = (predicted.numpy() == y[val]).mean()
            line += f", validation accuracy {accuracy:.3f}"
""" if classification else "")
    body = ",\n    ".join(modules)
    inputs = "torch.as_tensor(x[batch])"
    augment = ""
    if config.augmentation:  # the same random changes to each training batch, in torch ops
        inputs = f"augment({inputs})"
        augment = f"AUGMENTATION = {config.augmentation!r}\n\n\n{AUGMENT_SOURCE.strip()}\n\n\n"
    return f'''"""The network built on Hearth's pages, trained with PyTorch: same layers, loss, optimizer, batches."""

import numpy as np
import torch
from torch import nn

{_torch_data(source, spec)}

{helper_code + chr(10) * 3 if helper_code else ""}{augment}model = nn.Sequential(
    {body},
){dropped}

SEED, EPOCHS, BATCH_SIZE, VALIDATION = {config.seed}, {config.epochs}, {config.batch_size}, {config.validation_split}
torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
order = rng.permutation(len(x))
val, train = order[:round(len(x) * VALIDATION)], order[round(len(x) * VALIDATION):]
optimizer = {_torch_optimizer(config)}
loss_fn = {loss_line}

for epoch in range(1, EPOCHS + 1):
    model.train()
    shuffled = rng.permutation(train)
    total = 0.0
    for start in range(0, len(shuffled), BATCH_SIZE):
        batch = shuffled[start:start + BATCH_SIZE]
        optimizer.zero_grad()
        loss = loss_fn(model({inputs}), {target})
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    line = f"epoch {{epoch}}: loss {{total / len(train):.4f}}"
    model.eval()
    with torch.no_grad():
        scores = model(torch.as_tensor(x[val]))
{accuracy}    print(line)
'''


def spec_json(spec: ModelSpec, config: TrainConfig) -> str:
    model = spec.to_dict()
    model["training"] = _settings(config)
    return json.dumps(model, indent=2)
