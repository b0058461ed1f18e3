"""Same seed, same curve: Hearth's Trainer in Chromium (onnxruntime-web) against CPython (onnxruntime).

The same Python text runs in the app's worker and here; every batch loss, every epoch metric and
the final weights must agree. wasm runs the same MLAS-derived kernels as CPython, so it must match
to 1e-5. WebGPU (SwiftShader here) runs its own shaders; see `test_webgpu_training_follows_cpython`
for its tolerance. One booted page serves the whole module.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.conftest import RequestLog, python, wait_ready

pytestmark = pytest.mark.browser

# Trains `SPEC` (one placeholder per case) and reports everything a user could see of the run.
TRAIN = """
import numpy as np
from hearth.runtime import get_runtime, site_file
from hearth.train import Dataset, ModelSpec, Trainer, load_builtin

data = load_builtin("digits", await site_file("data/digits.npz"))
if LIMIT:
    data = Dataset(data.x[:LIMIT], data.y[:LIMIT], data.classes, name="digits")
trainer = Trainer(ModelSpec(SPEC), data, provider=PROVIDER, steps_per_call=STEPS_PER_CALL, threads=THREADS)
losses = []
history = [m.to_dict() async for m in trainer.fit(EPOCHS, on_batch=lambda p: losses.append(p.loss))]
weights = await trainer.weights()
result = {
    "runtime": get_runtime().name,
    "provider": trainer.engine._sessions["train"].provider,
    "threads": getattr(trainer.engine._sessions["train"], "threads", None),
    "losses": losses,
    "history": [{k: h[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")} for h in history],
    "weights": {k: v.ravel().tolist() for k, v in weights.items()},
}
if len(trainer.val_data):
    report = await trainer.evaluate()
    result["confusion"] = report.confusion.tolist()
    result["probabilities"] = report.probabilities.tolist()
"""

MLP = {"version": 1, "input": [8, 8, 1], "layers": [
    {"type": "flatten"},
    {"type": "dense", "units": 32, "activation": "relu"},
    {"type": "dropout", "rate": 0.1},
    {"type": "dense", "units": 10, "activation": "softmax"}],
    "training": {"optimizer": {"type": "sgd", "momentum": 0.9}, "learning_rate": 0.05, "batch_size": 32,
                 "seed": 11}}
CNN = {"version": 1, "input": [8, 8, 1], "layers": [
    {"type": "conv2d", "filters": 6, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "batchnorm"},
    {"type": "maxpool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.2},
    {"type": "dense", "units": 24, "activation": "gelu"},
    {"type": "dense", "units": 10, "activation": "softmax"}],
    "training": {"optimizer": "adam", "learning_rate": 0.005, "batch_size": 32, "seed": 3}}
# LeNet's pattern: max pooling right after a ReLU (CPU graphs apply the ReLU's mask on the pooled grid)
RELU_POOL_CNN = {"version": 1, "input": [8, 8, 1], "layers": [
    {"type": "conv2d", "filters": 6, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool2d", "size": 3, "stride": 1},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"}],
    "training": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 32, "seed": 5}}


def code(spec: dict, *, provider: str | None = None, epochs: int = 1, limit: int = 0, steps_per_call: int = 16,
         threads: int | None = None) -> str:
    return (TRAIN.replace("SPEC", repr(spec)).replace("PROVIDER", repr(provider)).replace("EPOCHS", str(epochs))
            .replace("LIMIT", str(limit)).replace("STEPS_PER_CALL", str(steps_per_call))
            .replace("THREADS", repr(threads)))


def on_cpython(text: str) -> dict:
    """The same Python on CPython's onnxruntime (in a thread: Playwright's loop owns this one)."""
    namespace: dict = {}
    body = "async def _go():\n" + "\n".join("    " + line for line in text.strip().splitlines())
    exec(body + "\n    return result", namespace)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, namespace["_go"]()).result()


def in_browser(page, text: str) -> dict:
    return python(page, text + "\nresult")


@pytest.fixture(scope="module")
def app(browser, site, browser_context_args):
    """One booted Hearth page for the module (boot is most of a test's time)."""
    context = browser.new_context(**browser_context_args)
    log = RequestLog(site.url.rstrip("/"))
    context.route("**/*", log.route)
    page = context.new_page()
    wait_ready(page, site.url)
    yield page
    context.close()
    assert log.foreign == [], "training fetched something from outside the site"


def max_weight_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(np.subtract(a[k], b[k])))) for k in a)


def assert_same_run(web: dict, native: dict, atol: float) -> None:
    assert len(web["losses"]) == len(native["losses"])
    loss_gap = float(np.max(np.abs(np.subtract(web["losses"], native["losses"]))))
    print(f"{web['provider']}: max |loss difference| {loss_gap:.2e}, "
          f"max |weight difference| {max_weight_difference(web['weights'], native['weights']):.2e}")
    np.testing.assert_allclose(web["losses"], native["losses"], rtol=0, atol=atol)
    for ours, theirs in zip(web["history"], native["history"], strict=True):
        for key, value in ours.items():
            assert value == pytest.approx(theirs[key], abs=atol), (key, ours, theirs)


@pytest.mark.parametrize("name, spec", [("mlp_sgd_momentum_dropout", MLP), ("cnn_batchnorm_adam", CNN),
                                        ("cnn_relu_maxpool_adam", RELU_POOL_CNN)])
def test_same_seed_same_curve_on_wasm(app, name, spec):
    text = code(spec)
    web, native = in_browser(app, text), on_cpython(text)
    assert (web["runtime"], web["provider"]) == ("onnxruntime-web", "wasm")
    assert web["threads"] == 1  # small models train on a 1-thread copy of onnxruntime-web
    assert native["runtime"] == "onnxruntime"
    # 1,437 training digits in batches of 32: 45 steps, in runs of 16 + 16 + 13 (the short last batch too)
    assert len(native["losses"]) == 45
    assert np.mean(native["losses"][-5:]) < 0.6 * np.mean(native["losses"][:5]), "the model did not learn"
    assert_same_run(web, native, atol=1e-5)
    assert max_weight_difference(web["weights"], native["weights"]) < 1e-5
    assert web["confusion"] == native["confusion"]
    np.testing.assert_allclose(web["probabilities"], native["probabilities"], rtol=0, atol=1e-5)


def test_training_on_the_default_threads_follows_the_same_curve(app):
    """Trainer(threads=2) runs on the app's default onnxruntime-web (the language model's, with its
    thread pool) instead of the 1-thread copy; threads only split sums differently."""
    default = python(app, "from js import hearthOrt\nawait hearthOrt.threads()")
    assert default >= 2, "the test page should be cross-origin isolated, with threads"
    one, two = in_browser(app, code(CNN)), in_browser(app, code(CNN, threads=2))
    assert (one["threads"], two["threads"]) == (1, 2)
    assert_same_run(two, one, atol=1e-5)
    assert max_weight_difference(two["weights"], one["weights"]) < 1e-4


TINY_CNN = {"version": 1, "input": [8, 8, 1], "layers": [
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "avgpool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"}],
    "training": {"optimizer": "sgd", "learning_rate": 0.1, "batch_size": 8, "seed": 1, "validation_split": 0}}


@pytest.mark.parametrize("name, spec, samples", [
    ("mlp", {**MLP, "training": {**MLP["training"], "batch_size": 16, "validation_split": 0}}, 128),
    ("cnn_pooling", TINY_CNN, 32),
])
def test_webgpu_training_follows_cpython(app, name, spec, samples):
    """Short runs on WebGPU (SwiftShader emulates the GPU on the CPU, far slower than wasm, so 8 steps of
    16 and 4 of 8 digits).

    WebGPU's shaders sum in their own order (tiled MatMul, workgroup reductions) and WGSL's exp/log
    may be several ULP off, so float32 results differ from the CPU's in their last bits. Here
    (SwiftShader) both runs end one float32 ULP from CPython (2.4e-7 in loss, 3e-8 in weights); a GPU's
    looser exp/log and other tiling can be 10-100x further off, so 1e-4 (4e-5 of a loss near 2.3)
    — still 100x below what one wrong kernel does (a skipped bias update or a mis-scaled gradient
    moves the loss by > 1e-2 within two steps).
    """
    app.locator("html[data-backends]").wait_for(state="attached")
    if "webgpu" not in app.evaluate("document.documentElement.dataset.backends"):
        pytest.fail("no WebGPU adapter: Chromium should offer SwiftShader's (see CHROMIUM_ARGS)")
    steps = samples // spec["training"]["batch_size"]
    text = code(spec, provider="webgpu", limit=samples, steps_per_call=4)
    web, native = in_browser(app, text), on_cpython(text.replace("provider='webgpu'", "provider=None"))
    assert web["provider"] == "webgpu"
    assert len(native["losses"]) == steps
    assert_same_run(web, native, atol=1e-4)
    assert max_weight_difference(web["weights"], native["weights"]) < 1e-4
