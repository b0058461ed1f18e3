"""Training throughput of Hearth's step graphs, Python in the loop, in samples/s.

    PYTHONPATH=pysrc python bench/train_steps.py [--steps 300] [--chunk 50]        # CPython onnxruntime
    node tests/train/wasm/run.mjs ROOT pysrc/hearth/runtime/browser.py bench/train_steps.py .
                                                                  # Pyodide + onnxruntime-web wasm, 1 thread

The two models of bench/train_throughput.py, an MLP 784-128-10 at batch 64 and LeNet-5 on 28x28
at batch 32, on random data, each step a full forward + backward + update graph, `--chunk` steps
per runtime call (as the Trainer does). Prints one JSON line per model and optimizer. The browser numbers (wasm,
against TF.js) come from the Chromium benchmark; this is the floor Python-side overheads add to.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import numpy as np

from hearth.train.engine import Engine
from hearth.train.spec import ModelSpec, TrainConfig

MODELS = {
    "mlp_784_128_10": ({"version": 1, "input": [784], "layers": [
        {"type": "dense", "units": 128, "activation": "relu"},
        {"type": "dense", "units": 10, "activation": "softmax"}]}, 64),
    "lenet5_28x28": ({"version": 1, "input": [28, 28, 1], "layers": [
        {"type": "conv2d", "filters": 6, "kernel": 5, "padding": "same", "activation": "relu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "conv2d", "filters": 16, "kernel": 5, "activation": "relu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 120, "activation": "relu"},
        {"type": "dense", "units": 84, "activation": "relu"},
        {"type": "dense", "units": 10, "activation": "softmax"}]}, 32),
}


async def measure(name: str, optimizer: str, steps: int, chunk: int) -> dict:
    spec_dict, batch = MODELS[name]
    spec = ModelSpec(spec_dict)
    engine = Engine(spec, TrainConfig(optimizer=optimizer, learning_rate=0.01), spec.init_weights(0))
    rng = np.random.default_rng(0)
    pool = [{"x": rng.random((batch, *spec.input_shape), dtype=np.float32),
             "y": np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]} for _ in range(chunk)]
    await engine.train(pool[:5], 0.01)  # session creation and first-run allocation, not timed
    done, started = 0, time.perf_counter()
    while done < steps:
        await engine.train(pool, 0.01)
        done += len(pool)
    seconds = time.perf_counter() - started
    return {"model": name, "optimizer": optimizer, "batch": batch, "steps": done,
            "ms_per_step": round(1000 * seconds / done, 3), "samples_per_s": round(done * batch / seconds)}


async def main(steps: int = 300, chunk: int = 50) -> None:
    from hearth.runtime import get_runtime

    for name in MODELS:
        for optimizer in ("sgd", "adam"):
            result = await measure(name, optimizer, steps, chunk)
            print(json.dumps({"runtime": get_runtime().name, **result}), flush=True)


if __name__ == "__main__" and sys.platform == "emscripten":  # Pyodide: tests/train/wasm/run.mjs awaits `task`
    task = asyncio.ensure_future(main())
elif __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.steps, args.chunk))
