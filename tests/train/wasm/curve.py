"""Train a small CNN on digits for 3 epochs and print every batch loss and epoch metric as JSON.

Run by test_wasm_parity.py twice: on CPython (onnxruntime) and in Pyodide (onnxruntime-web, wasm).
"""

import asyncio
import json
import sys

from hearth.runtime import get_runtime
from hearth.train import ModelSpec, Trainer, load_builtin

SPEC = {"version": 1, "input": [8, 8, 1], "layers": [
    {"type": "conv2d", "filters": 6, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "batchnorm"},
    {"type": "maxpool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.2},
    {"type": "dense", "units": 24, "activation": "gelu"},
    {"type": "dense", "units": 10, "activation": "softmax"}],
    "training": {"optimizer": "adam", "learning_rate": 0.005, "batch_size": 32, "seed": 3}}


async def main() -> None:
    trainer = Trainer(ModelSpec(SPEC), load_builtin("digits"), steps_per_call=16)
    losses: list[float] = []
    history = [m.to_dict() async for m in trainer.fit(3, on_batch=lambda p: losses.append(p.loss))]
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    print(json.dumps({"runtime": get_runtime().name, "platform": sys.platform, "losses": losses,
                      "history": [{k: h[k] for k in keys} for h in history]}))


if sys.platform == "emscripten":
    task = asyncio.ensure_future(main())  # run.mjs awaits it
else:
    asyncio.run(main())
