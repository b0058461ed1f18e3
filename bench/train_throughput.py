"""Training throughput in headless Chromium: Hearth's whole engine against TensorFlow.js 4.22.

    python bench/train_throughput.py [--rounds 5] [--models mlp,lenet] [--seconds 4]

Two models, the issue's: an MLP 784-128-10 at batch 64 and LeNet-5 on 28x28 at batch 32, trained
with Adam (lr 1e-3) on the same bytes: sklearn's 1,797 digits upscaled from 8x8 to 28x28.

- Hearth: the app's own worker (web/worker.js: Pyodide, Panel, Hearth, onnxruntime-web wasm) runs
  `Trainer.fit` — Python in the loop, exactly what the app's Train button does. One epoch per
  measurement, timed in Python.
- TensorFlow.js: `model.fit` (the Layers API a TF.js user writes) in a worker per backend: wasm with
  1 and with 2 threads, cpu, webgl (SwiftShader here: software, so slow). One epoch over as many
  samples as fill about `--seconds` (a prefix of the same data), timed in the worker.

All contenders live on one page (bench/pages/train.html) served from a throwaway copy of dist/
with TF.js's files beside it (never in dist/); every request leaving 127.0.0.1 is blocked and
reported. After one warm-up epoch each (sessions, wasm compilation, kernel caches), the rounds run
interleaved — Hearth, wasm-1, wasm-2, cpu, webgl, Hearth, ... — so that the load of this shared
machine hits every contender alike. Reported: the median samples/s of each, and the median of the
per-round ratios Hearth / TF.js-wasm. Results also go to bench/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sitebuild.server import Handler, SiteServer  # noqa: E402
from sitebuild.site import CSP  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run", "--disable-default-apps", "--disable-extensions",
    # WebGL (TF.js webgl) on the SwiftShader software rasterizer: there is no GPU here.
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]
TFJS_FILES = {
    "@tensorflow/tfjs/dist/tf.min.js": "tf.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js": "tf-backend-wasm.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm": "tfjs-backend-wasm.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm": "tfjs-backend-wasm-simd.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm": "tfjs-backend-wasm-threaded-simd.wasm",
}
MODELS = {
    "mlp": {"title": "MLP 784-128-10", "batch": 64, "input": [784], "layers": [
        {"type": "dense", "units": 128, "activation": "relu"},
        {"type": "dense", "units": 10, "activation": "softmax"}]},
    "lenet": {"title": "LeNet-5 28x28", "batch": 32, "input": [28, 28, 1], "layers": [
        {"type": "conv2d", "filters": 6, "kernel": 5, "padding": "same", "activation": "relu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "conv2d", "filters": 16, "kernel": 5, "activation": "relu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 120, "activation": "relu"},
        {"type": "dense", "units": 84, "activation": "relu"},
        {"type": "dense", "units": 10, "activation": "softmax"}]},
}
TFJS = {  # contender -> (backend, wasm threads)
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
# The site's policy, except that scripts may come from blob: (TF.js's threaded wasm build starts its
# pthread workers that way) and may eval (tf.min.js's globalThis polyfill does), and connections may
# go nowhere but this origin.
BENCH_CSP = "; ".join("script-src 'self' blob: 'unsafe-eval' 'wasm-unsafe-eval'" if d.startswith("script-src") else
                      "connect-src 'self'" if d.startswith("connect-src") else d for d in CSP.split("; "))


class BenchHandler(Handler):
    """dist/'s headers (COOP/COEP for threads), with BENCH_CSP on the bench's own pages."""

    def end_headers(self) -> None:
        if self.path.split("?")[0].startswith("/bench/"):
            self.send_security_headers = False
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            self.send_header("Content-Security-Policy", BENCH_CSP)
        super().end_headers()


def stage_site(dist: Path, root: Path, x: np.ndarray, y: np.ndarray) -> None:
    """dist/ plus bench/ (pages, TF.js, data) in a throwaway folder."""
    shutil.copytree(dist, root, dirs_exist_ok=True)
    bench = root / "bench"
    shutil.copytree(REPO / "bench" / "pages", bench, dirs_exist_ok=True)
    (bench / "tfjs").mkdir(parents=True, exist_ok=True)
    for src, name in TFJS_FILES.items():
        path = REPO / "node_modules" / src
        if not path.exists():
            sys.exit(f"{path} is missing: run `npm ci` (TF.js is a devDependency for this benchmark)")
        shutil.copy2(path, bench / "tfjs" / name)
    (bench / "data").mkdir(exist_ok=True)
    (bench / "data" / "x.f32").write_bytes(x.tobytes())
    (bench / "data" / "y.f32").write_bytes(y.tobytes())


# ---------------------------------------------------------------------------------- Hearth's side
HEARTH_SETUP = """
import time
import numpy as np
from hearth.runtime import site_file
from hearth.train import Dataset, ModelSpec, Trainer
from js import hearthOrt

_x = np.frombuffer(await site_file("bench/data/x.f32"), np.float32).reshape({samples}, *{input})
_y = np.frombuffer(await site_file("bench/data/y.f32"), np.float32).reshape({samples}, {classes})
_spec = {{"version": 1, "input": {input}, "layers": {layers},
         "training": {{"optimizer": "{optimizer}", "learning_rate": {lr}, "batch_size": {batch},
                      "validation_split": 0, "seed": 0}}}}
bench_trainer = Trainer(ModelSpec(_spec), Dataset(_x, _y, [str(i) for i in range({classes})]){kwargs})
{{"threads": int(await hearthOrt.threads()), "steps_per_call": bench_trainer.steps_per_call}}
"""

HEARTH_EPOCH = """
_started = time.perf_counter()
async for _m in bench_trainer.fit(1):
    pass
{"samples": len(bench_trainer.train_data), "seconds": time.perf_counter() - _started, "loss": _m.loss}
"""


# ------------------------------------------------------------------------------------------ running
def measure(page, who: str, model: str, samples: int) -> dict:
    batch = MODELS[model]["batch"]
    if who == "hearth":
        return page.evaluate("code => bench.python(code)", HEARTH_EPOCH)
    return page.evaluate("([who, msg]) => bench.tfjs(who, msg)", [who, {"type": "epoch", "samples": samples,
                                                                           "batch": batch}])


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    dist = REPO / "dist"
    if not (dist / "index.html").exists():
        from sitebuild.site import build

        build()
    x, y = digits_28x28()
    contenders = ["hearth", *[c for c in TFJS if c in args.contenders]]
    results: dict = {"contenders": contenders, "models": {}, "foreign_requests": []}
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp, sync_playwright() as pw:
        root = Path(tmp)
        stage_site(dist, root, x, y)
        server = SiteServer(root)
        server.httpd.RequestHandlerClass = functools.partial(BenchHandler, directory=str(root))
        server.start()
        origin = server.url.rstrip("/")
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()

        def route(r) -> None:
            parts = urlsplit(r.request.url)
            if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == origin:
                r.continue_()
            else:
                results["foreign_requests"].append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: m.type in ("error", "warning") and print(f"  [page {m.type}] {m.text}",
                                                                               file=sys.stderr))
        page.goto(server.url + "bench/train.html")
        page.wait_for_function("() => window.bench !== undefined")
        results["cross_origin_isolated"] = page.evaluate("bench.isolated")
        page.evaluate("bench.startHearth()")
        for who in contenders[1:]:
            backend, threads = TFJS[who]
            info = page.evaluate("([n, b, t]) => bench.startTfjs(n, b, t)", [who, backend, threads])
            print(f"{who}: {info}", flush=True)
        page.set_default_timeout(BOOT_WAIT_MS)
        started = time.perf_counter()
        page.evaluate("code => bench.python(code)", "1")
        print(f"hearth: worker booted in {time.perf_counter() - started:.1f} s", flush=True)

        for model in args.models:
            m = MODELS[model]
            n, classes = len(x), y.shape[1]
            shape = m["input"]
            kwargs = f", steps_per_call={args.steps_per_call}" if args.steps_per_call else ""
            info = page.evaluate("code => bench.python(code)", HEARTH_SETUP.format(
                samples=n, input=shape, classes=classes, layers=json.dumps(m["layers"]), optimizer=OPTIMIZER,
                lr=LEARNING_RATE, batch=m["batch"], kwargs=kwargs))
            print(f"\n{m['title']}, batch {m['batch']}: hearth {info}", flush=True)
            for who in contenders[1:]:
                page.evaluate("([who, msg]) => bench.tfjs(who, msg)", [who, {
                    "type": "model", "name": model, "inputShape": shape, "optimizer": OPTIMIZER,
                    "learningRate": LEARNING_RATE, "dataUrl": "data/", "samples": n, "classes": classes}])
            # warm-up epoch: also sizes each TF.js epoch to about args.seconds
            sizes = {}
            for who in contenders:
                warm = measure(page, who, model, min(n, 8 * m["batch"]) if who != "hearth" else n)
                rate = warm["samples"] / warm["seconds"]
                sizes[who] = int(min(n, max(4 * m["batch"], args.seconds * rate // m["batch"] * m["batch"])))
                print(f"  warm-up {who}: {rate:.0f} samples/s", flush=True)
            rounds: list[dict[str, dict]] = []
            for r in range(args.rounds):
                row = {}
                for who in contenders:
                    row[who] = measure(page, who, model, sizes[who])
                    row[who]["samples_per_s"] = row[who]["samples"] / row[who]["seconds"]
                rounds.append(row)
                print(f"  round {r + 1}: " + "  ".join(f"{w} {row[w]['samples_per_s']:.0f}" for w in contenders),
                      flush=True)
            results["models"][model] = summarize(model, contenders, rounds, info)
        browser.close()
        server.stop()
    return results


def summarize(model: str, contenders: list[str], rounds: list[dict], info: dict) -> dict:
    out = {"title": MODELS[model]["title"], "batch": MODELS[model]["batch"], "hearth": info,
           "samples_per_s": {w: statistics.median(r[w]["samples_per_s"] for r in rounds) for w in contenders},
           "rounds": rounds, "ratios": {}}
    for who in contenders[1:]:
        out["ratios"][who] = statistics.median(r["hearth"]["samples_per_s"] / r[who]["samples_per_s"] for r in rounds)
    return out


def report(results: dict) -> str:
    contenders = results["contenders"]
    lines = ["", "samples/s (median of rounds); ratio = median over rounds of Hearth / contender", "",
             "| model | " + " | ".join(contenders) + " |", "|---|" + "---:|" * len(contenders)]
    for model in results["models"].values():
        lines.append(f"| {model['title']} (batch {model['batch']}) | "
                     + " | ".join(f"{model['samples_per_s'][w]:.0f}" for w in contenders) + " |")
    lines.append("| Hearth / contender | - | " + " | ".join("" for _ in contenders[1:]) + " |")
    for model in results["models"].values():
        lines.append(f"| {model['title']} | 1 | "
                     + " | ".join(f"{model['ratios'][w]:.2f}x" for w in contenders[1:]) + " |")
    lines.append("")
    lines.append(f"cross-origin isolated: {results['cross_origin_isolated']}; requests that left 127.0.0.1: "
                 f"{len(results['foreign_requests'])} {results['foreign_requests'][:5]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", default="mlp,lenet")
    parser.add_argument("--contenders", default=",".join(TFJS), help=f"TF.js contenders: {', '.join(TFJS)}")
    parser.add_argument("--seconds", type=float, default=3.0, help="about how long each TF.js epoch runs")
    parser.add_argument("--steps-per-call", type=int, default=0, help="Hearth's Trainer(steps_per_call=); 0: default")
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.contenders = [c for c in args.contenders.split(",") if c]
    unknown = [m for m in args.models if m not in MODELS] + [c for c in args.contenders if c not in TFJS]
    if unknown:
        parser.error(f"unknown model/contender {unknown}")
    results = run(args)
    print(report(results))
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "train_throughput.json").write_text(json.dumps(results, indent=1))
    return 1 if results["foreign_requests"] else 0


if __name__ == "__main__":
    sys.exit(main())
