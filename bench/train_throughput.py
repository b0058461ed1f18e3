"""Training throughput in headless Chromium: Hearth's whole engine against TensorFlow.js 4.22.

    python bench/train_throughput.py [--rounds 5] [--models mlp,lenet] [--seconds 4]

Measured ratios and what limits them: README.md, "Training speed".

Two models: an MLP 784-128-10 at batch 64 and LeNet-5 on 28x28 at batch 32, trained
with Adam (lr 1e-3) on the same bytes: sklearn's 1,797 digits upscaled from 8x8 to 28x28.

- Hearth: the app's own worker (web/worker.js: Pyodide, Panel, Hearth, onnxruntime-web wasm) runs
  `Trainer.fit` — Python in the loop, exactly what the app's Train button does. Whole epochs per
  measurement, timed in Python. "hearth" is the app as shipped: its training sessions pick their
  wasm threads by model size (`hearth.train.threads`: 1 for both models here); "hearth-2t" is a
  second app worker whose Trainer asks for 2 threads (`Trainer(threads=2)`). With `--baseline DIST`
  (another build, e.g. of the commit before a change) two more app workers run that build from the
  same page: "before" with its default threads and "before-1t" told `hearthOrt.setThreads(1)`.
- TensorFlow.js: `model.fit` (the Layers API a TF.js user writes) in a worker per backend: wasm with
  1 and with 2 threads, cpu, webgl (SwiftShader here: software, so slow). Whole epochs per
  measurement, timed in the worker; cpu or webgl, when too slow for whole epochs (over 3 x
  `--seconds`), trains on a prefix of the data that takes about `--seconds`. TF.js 4.22's wasm backend gives
  XNNPACK at most half of `navigator.hardwareConcurrency` threads whatever `setThreadsCount` asks
  (1 on a 2-core machine), so a worker asked for n threads is shown 2n cores; each reports the
  threads it really got.

All contenders live on one page (bench/pages/train.html) served from a throwaway copy of dist/
with TF.js's files beside it, never in dist/ (bench/harness.py); every request leaving 127.0.0.1
is blocked and reported. After one warm-up epoch each (sessions, wasm compilation, kernel caches), the rounds run
interleaved — hearth, hearth-2t, wasm-1, wasm-2, cpu, webgl, then the next round starting one
contender later — so that the load of a shared machine hits every contender alike. A measurement
repeats whole epochs until `--min-seconds` have passed: one MLP epoch alone is short enough for a
load spike to halve or double it. Reported: the
median samples/s of each, and the median of the per-round ratios Hearth / TF.js. Results also go
to bench/results/train_throughput.json.

TF.js 4.22's wasm backend has no Conv2DBackpropFilter kernel, so LeNet cannot train on it as
shipped; bench/pages/tfjs-worker.js registers one made of the backend's own wasm kernels (checked
against TF.js's cpu kernel at start-up), which keeps TF.js on its fastest path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness import REPO, SWIFTSHADER_ARGS, BenchSite, built_dist, close, foreign_line, link_or_copy, link_tree, write_results
from train_steps import MODELS as STEP_MODELS

TFJS_FILES = {
    "@tensorflow/tfjs/dist/tf.min.js": "tf.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js": "tf-backend-wasm.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm": "tfjs-backend-wasm.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm": "tfjs-backend-wasm-simd.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm": "tfjs-backend-wasm-threaded-simd.wasm",
}


def _model(title: str, name: str) -> dict:
    spec, batch = STEP_MODELS[name]  # the same two models as the step-graph bench
    return {"title": title, "batch": batch, "input": spec["input"], "layers": spec["layers"]}


MODELS = {"mlp": _model("MLP 784-128-10", "mlp_784_128_10"), "lenet": _model("LeNet-5 28x28", "lenet5_28x28")}
HEARTH = {  # contender -> Trainer(threads=) for its sessions (None: the app's choice by model size)
    "hearth": None,
    "hearth-2t": 2,
}
# With --baseline DIST: another build of Hearth (say, before a change) in the same page, served
# from /baseline/. contender -> hearthOrt.setThreads(n) before its first session (None: its default).
BASELINE = {
    "before": None,
    "before-1t": 1,
}
TFJS = {  # contender -> (backend, wasm threads asked for)
    "tfjs-wasm-1t": ("wasm", 1),
    "tfjs-wasm-2t": ("wasm", 2),
    "tfjs-cpu": ("cpu", None),
    "tfjs-webgl": ("webgl", None),
}
OPTIMIZER, LEARNING_RATE = "adam", 0.001
BOOT_WAIT_MS = 300_000


# ------------------------------------------------------------------------------------------ data
def digits_28x28() -> tuple[np.ndarray, np.ndarray]:
    """The built-in digits, each 8x8 image upscaled to 28x28 (nearest), with one-hot targets."""
    from hearth.train import load_builtin

    data = load_builtin("digits", REPO / "static" / "data")
    images = data.x.reshape(len(data), 8, 8)
    rows = (np.arange(28) * 8) // 28
    x = images[:, rows][:, :, rows].reshape(len(data), 28, 28, 1)
    return np.ascontiguousarray(x, np.float32), np.ascontiguousarray(data.y, np.float32)


# ---------------------------------------------------------------------------------------- serving
def stage_site(root: Path, x: np.ndarray, y: np.ndarray, baseline: Path | None = None) -> None:
    """TF.js and the data into the served bench/; a baseline build (with the data) under baseline/."""
    for src, name in TFJS_FILES.items():
        path = REPO / "node_modules" / src
        if not path.exists():
            sys.exit(f"{path} is missing: run `npm ci` (TF.js is a devDependency for this benchmark)")
        link_or_copy(path, root / "bench" / "tfjs" / name)
    builds = [root] if baseline is None else [root, root / "baseline"]
    if baseline is not None:
        link_tree(baseline, root / "baseline")
    for build in builds:
        (build / "bench" / "data").mkdir(parents=True, exist_ok=True)
        (build / "bench" / "data" / "x.f32").write_bytes(x.tobytes())
        (build / "bench" / "data" / "y.f32").write_bytes(y.tobytes())


# ---------------------------------------------------------------------------------- Hearth's side
HEARTH_SETUP = """
import time
import numpy as np
from hearth.runtime import site_file
from hearth.train import Dataset, ModelSpec, Trainer

_x = np.frombuffer(await site_file("bench/data/x.f32"), np.float32).reshape({samples}, *{input})
_y = np.frombuffer(await site_file("bench/data/y.f32"), np.float32).reshape({samples}, {classes})
_spec = {{"version": 1, "input": {input}, "layers": {layers},
         "training": {{"optimizer": "{optimizer}", "learning_rate": {lr}, "batch_size": {batch},
                      "validation_split": 0, "seed": 0}}}}
bench_trainer = Trainer(ModelSpec(_spec), Dataset(_x, _y, [str(i) for i in range({classes})]){kwargs})
{{"threads": getattr(bench_trainer.engine, "threads", None), "steps_per_call": bench_trainer.steps_per_call}}
"""

HEARTH_EPOCHS = """
_started, _epochs = time.perf_counter(), 0
while not _epochs or time.perf_counter() - _started < {min_seconds}:
    async for _m in bench_trainer.fit(1):
        pass
    _epochs += 1
{{"samples": _epochs * len(bench_trainer.train_data), "seconds": time.perf_counter() - _started, "loss": _m.loss}}
"""


# ------------------------------------------------------------------------------------------ running
def python(page, who: str, code: str) -> Any:
    return page.evaluate("([who, code]) => bench.python(who, code)", [who, code])


def tfjs(page, who: str, msg: dict) -> Any:
    return page.evaluate("([who, msg]) => bench.tfjs(who, msg)", [who, msg])


def measure(page, who: str, model: str, samples: int, min_seconds: float = 0.0) -> dict:
    """Whole epochs (of `samples` for TF.js) until `min_seconds` have passed, at least one."""
    if who in HEARTH or who in BASELINE:
        return python(page, who, HEARTH_EPOCHS.format(min_seconds=min_seconds))
    return tfjs(page, who, {"type": "epoch", "samples": samples, "batch": MODELS[model]["batch"],
                            "minSeconds": min_seconds})


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    dist = built_dist(reuse=True)
    x, y = digits_28x28()
    baselines = BASELINE if args.baseline else {}
    contenders = [c for c in [*HEARTH, *baselines, *TFJS] if c in args.contenders or c in baselines]
    hearths = [c for c in contenders if c in HEARTH or c in BASELINE]
    results: dict = {"contenders": contenders, "models": {}, "setup": {}}
    with BenchSite(dist) as site, sync_playwright() as pw:
        results["foreign_requests"] = site.foreign
        stage_site(site.root, x, y, args.baseline)
        # TF.js's webgl backend draws on SwiftShader where there is no GPU
        context, _ = site.open_context(pw, SWIFTSHADER_ARGS)
        page = site.open_page(context, "bench/train.html", BOOT_WAIT_MS)
        results["cross_origin_isolated"] = page.evaluate("bench.isolated")
        results["hardware_concurrency"] = page.evaluate("navigator.hardwareConcurrency")
        for who in hearths:
            page.evaluate("([name, base]) => bench.startHearth(name, base)", [who, "baseline/" if who in BASELINE else ""])
        for who in contenders:
            if who in TFJS:
                results["setup"][who] = tfjs_info = page.evaluate("([n, b, t]) => bench.startTfjs(n, b, t)",
                                                                  [who, *TFJS[who]])
                print(f"{who}: {tfjs_info}", flush=True)
        for who in hearths:
            started = time.perf_counter()
            if BASELINE.get(who):  # before onnxruntime-web starts: its wasm fixes the thread count
                python(page, who, f"from js import hearthOrt\nhearthOrt.setThreads({BASELINE[who]})")
            threads = python(page, who, "from js import hearthOrt\nawait hearthOrt.threads()")
            results["setup"][who] = {"default_threads": threads}
            print(f"{who}: worker booted in {time.perf_counter() - started:.1f} s, {results['setup'][who]}", flush=True)

        for model in args.models:
            m = MODELS[model]
            n, classes = len(x), y.shape[1]
            shape = m["input"]
            print(f"\n{m['title']}, batch {m['batch']}", flush=True)
            for who in contenders:
                if who in hearths:
                    kwargs = f", steps_per_call={args.steps_per_call}" if args.steps_per_call else ""
                    kwargs += f", threads={HEARTH[who]}" if HEARTH.get(who) else ""
                    info = python(page, who, HEARTH_SETUP.format(
                        samples=n, input=shape, classes=classes, layers=json.dumps(m["layers"]), optimizer=OPTIMIZER,
                        lr=LEARNING_RATE, batch=m["batch"], kwargs=kwargs))
                    results["setup"].setdefault(who, {})[f"{model}_threads"] = info["threads"] or info_default(results, who)
                    print(f"  {who}: {info}", flush=True)
                else:
                    tfjs(page, who, {"type": "model", "name": model, "inputShape": shape, "optimizer": OPTIMIZER,
                                     "learningRate": LEARNING_RATE, "dataUrl": "data/", "samples": n,
                                     "classes": classes})
            # Warm-up (a few batches for TF.js). Every contender then trains whole epochs of the same
            # n samples, except a non-wasm one too slow for that (cpu, webgl): it gets a prefix that
            # takes ~args.seconds.
            sizes = {}
            for who in contenders:
                warm = measure(page, who, model, n if who in hearths else 4 * m["batch"])
                rate = warm["samples"] / warm["seconds"]
                # every wasm contender trains whole epochs; a warm-up's first-run costs must not
                # push one onto a prefix, where per-epoch overheads weigh more
                whole = who in hearths or TFJS[who][0] == "wasm" or n / rate <= 3 * args.seconds
                sizes[who] = n if whole else int(max(4, args.seconds * rate // m["batch"]) * m["batch"])
                print(f"  warm-up {who}: {rate:.0f} samples/s; measuring epochs of {sizes[who]} samples", flush=True)
            rounds: list[dict[str, dict]] = []
            for r in range(args.rounds):
                row = {}
                # each round starts one contender later, so none always runs right after the same other
                for who in contenders[r % len(contenders):] + contenders[:r % len(contenders)]:
                    time.sleep(args.settle)  # let the previous contender's workers go idle
                    row[who] = measure(page, who, model, sizes[who], args.min_seconds)
                    row[who]["samples_per_s"] = row[who]["samples"] / row[who]["seconds"]
                rounds.append(row)
                print(f"  round {r + 1}: " + "  ".join(f"{w} {row[w]['samples_per_s']:.0f}" for w in contenders),
                      flush=True)
            results["models"][model] = summarize(model, contenders, rounds)
        close(context)
    return results


def info_default(results: dict, who: str) -> int:
    return results["setup"][who]["default_threads"]


def summarize(model: str, contenders: list[str], rounds: list[dict]) -> dict:
    out = {"title": MODELS[model]["title"], "batch": MODELS[model]["batch"],
           "samples_per_s": {w: statistics.median(r[w]["samples_per_s"] for r in rounds) for w in contenders},
           "rounds": rounds, "ratios": {}}
    pairs = [(ours, theirs) for ours in contenders if ours in HEARTH or ours in BASELINE
             for theirs in contenders if theirs in TFJS]
    pairs += [("hearth", before) for before in contenders if before in BASELINE and "hearth" in contenders]
    for ours, theirs in pairs:
        out["ratios"][f"{ours} / {theirs}"] = statistics.median(
            r[ours]["samples_per_s"] / r[theirs]["samples_per_s"] for r in rounds)
    return out


def report(results: dict) -> str:
    contenders = results["contenders"]
    models = list(results["models"].values())
    lines = ["", "Training samples/s, median of the rounds:", "",
             "| model | " + " | ".join(contenders) + " |", "|---|" + "---:|" * len(contenders)]
    for model in models:
        lines.append(f"| {model['title']} (batch {model['batch']}) | "
                     + " | ".join(f"{model['samples_per_s'][w]:.0f}" for w in contenders) + " |")
    pairs = list(models[0]["ratios"]) if models else []
    lines += ["", "Hearth / TF.js, median over rounds of the ratio within a round:", "",
              "| ratio | " + " | ".join(m["title"] for m in models) + " |", "|---|" + "---:|" * len(models)]
    for pair in pairs:
        lines.append(f"| {pair} | " + " | ".join(f"{m['ratios'][pair]:.2f}x" for m in models) + " |")
    setup = ", ".join(f"{w}: " + ", ".join(f"{k} {v}" for k, v in info.items() if "thread" in k)
                      for w, info in results["setup"].items())
    lines += ["", f"threads as each reports them: {setup}; navigator.hardwareConcurrency "
              f"{results['hardware_concurrency']}; cross-origin isolated: {results['cross_origin_isolated']}",
              foreign_line(results["foreign_requests"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", default="mlp,lenet")
    parser.add_argument("--contenders", default=",".join([*HEARTH, *TFJS]),
                        help=f"any of {', '.join([*HEARTH, *TFJS])}")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="TF.js cpu/webgl: over 3x this an epoch, they train on a prefix taking about this")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds of rest before each measurement")
    parser.add_argument("--min-seconds", type=float, default=1.0,
                        help="each measurement repeats whole epochs until this long (one MLP epoch is shorter)")
    parser.add_argument("--steps-per-call", type=int, default=0, help="Hearth's Trainer(steps_per_call=); 0: default")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another built dist/ (e.g. of an older commit) to run as 'before' and 'before-1t'")
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.contenders = [c for c in args.contenders.split(",") if c]
    unknown = [m for m in args.models if m not in MODELS] + [c for c in args.contenders if c not in {**HEARTH, **TFJS}]
    if unknown:
        parser.error(f"unknown model/contender {unknown}")
    results = run(args)
    print(report(results))
    write_results("train_throughput.json", results)
    return 1 if results["foreign_requests"] else 0


if __name__ == "__main__":
    sys.exit(main())
