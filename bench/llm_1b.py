"""The Llama-3.2-1B-shaped model (random 4-bit weights) in headless Chromium: speed and peak memory.

    PYTHONPATH=pysrc .venv/bin/python models/make_llama32_1b_shaped.py --quant q4    # once: ~/.cache/hearth/models/
    .venv/bin/python bench/llm_1b.py [--quant q4] [--prompt-tokens 64] [--new-tokens 8] [--threads 2]

Hearth's app worker (as in bench/llm_decode.py) opens the model's ONNX file by URL (onnxruntime-web
fetches it; it never passes through Python) and runs `hearth.llm.model.generate.Decoder` on random token
ids (the model has no real tokenizer), greedy. Memory: the peak resident set (VmHWM) of the page's
renderer process, which holds the page, Pyodide, onnxruntime-web's wasm heap and every worker, read
from /proc before loading, after loading and after generating, and sampled every 0.5 s (VmHWM alone can
miss a short peak). The target: under 1.6 GB (TARGET_MB). By default the model is first downloaded into the
model store (OPFS, sha256-checked) and used once; the browser then quits and starts again on the same
profile, and the measured page is that later visit, as a user runs a downloaded model; `--source url`
opens it from the site instead.
The model folder is served from the cache, never copied into the repository.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from pathlib import Path

from harness import REPO, BenchSite, close, foreign_line, link_or_copy, renderer_memory, write_results

TARGET_MB = 1600
WAIT_MS = 3_600_000

LOAD = """
import json, time
from js import hearthOrt
hearthOrt.setThreads({threads})
from hearth.runtime import get_runtime, site_file
from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.generate import Decoder, GenerationSettings
_rt = get_runtime()
_started = time.perf_counter()
_session = await _rt.session("{source}", "wasm", options={options})
bench_decoder = Decoder(_session, LlamaConfig.from_hf(json.loads(await site_file("bench/llama1b/config.json"))), _rt)
{{"load_s": time.perf_counter() - _started, "threads": int(await hearthOrt.threads())}}
"""

DOWNLOAD = """
import json
from js import Object, hearthModels, self as _self
from pyodide.ffi import to_js
_files = [{{"path": p, "size": f["size"], "sha256": f["sha256"]}} for p, f in json.loads({files!r}).items()]
_started = time.perf_counter()
await hearthModels.download({model_id!r}, _self.location.origin + "/bench/llama1b/",
                            to_js(_files, dict_converter=Object.fromEntries))
{{"download_s": time.perf_counter() - _started}}
"""

GENERATE = """
import random
random.seed(0)
_ids = [random.randrange(1000, 120000) for _ in range({prompt})]
_times = []
_started = time.perf_counter()
async for _t in bench_decoder.generate(_ids, GenerationSettings(max_new_tokens={new}), stop_ids=[]):
    _times.append(time.perf_counter())
{{"ttft_s": _times[0] - _started,
  "decode_tok_s": (len(_times) - 1) / (_times[-1] - _times[0]) if len(_times) > 1 else None,
  "tokens": len(_times)}}
"""


def peak(tag: str) -> dict[str, int]:
    found = renderer_memory(tag)
    return max(found.values(), key=lambda m: m["peak_mb"]) if found else {}


class RssTrace:
    """The renderer's resident set every `every` seconds while a step runs: where in loading the peak is."""

    def __init__(self, tag: str, every: float = 0.5) -> None:
        self.tag, self.every, self.samples = tag, every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        started = time.perf_counter()
        while not self._stop.wait(self.every):
            self.samples.append((round(time.perf_counter() - started, 1), peak(self.tag).get("rss_mb", 0)))

    def __enter__(self) -> RssTrace:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self, points: int = 12) -> str:
        step = max(1, len(self.samples) // points)
        return " ".join(f"{t}s:{mb}" for t, mb in self.samples[::step])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quant", default="q4", help="which made model folder: llama3.2-1b-shaped-random-QUANT")
    parser.add_argument("--model-dir", type=Path, help="a model folder instead (config.json, manifest.json, onnx/)")
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--session-options", default="{}", help='onnxruntime-web session options (JSON), e.g. '
                        '\'{"enableCpuMemArena": false, "extra": {"session": {"disable_prepacking": "1"}}}\'')
    parser.add_argument("--source", choices=("store", "url"), default="store",
                        help="store: download into the model store (OPFS) in one page, then load it in a fresh "
                        "page, as a user does (default); url: open it by URL from the site")
    parser.add_argument("--service-worker", action=argparse.BooleanOptionalAction, default=True,
                        help="visit the app first so its service worker serves the site from Cache Storage")
    parser.add_argument("--tag", default="", help="a suffix for the results file")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from hearth.llm.files.builtin_models import cache_root

    model = args.model_dir or cache_root() / "models" / f"llama3.2-1b-shaped-random-{args.quant}"
    manifest = model / "manifest.json"
    if not manifest.exists():
        sys.exit(f"{model} has no manifest.json: make it with models/make_llama32_1b_shaped.py --quant {args.quant}")
    onnx = json.loads(manifest.read_text())["default_onnx"]
    dist = REPO / "dist"
    if not (dist / "index.html").exists():
        sys.exit("dist/ is not built: run `.venv/bin/python build.py build`")
    onnx_bytes = sum(p.stat().st_size for p in (model / onnx).parent.glob(Path(onnx).name + "*"))  # with .onnx_data
    results: dict = {"model": str(model), "onnx": onnx, "onnx_mb": round(onnx_bytes / 1e6, 1),
                     "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens}
    with BenchSite(dist, prefix="hearth-llm1b-") as site, sync_playwright() as pw:
        results["foreign_requests"] = site.foreign
        # llm.js imports wllama, which this bench does not run
        link_or_copy(REPO / "node_modules/@wllama/wllama/esm/index.js", site.root / "bench" / "wllama" / "index.js")
        (site.root / "bench" / "llama1b").symlink_to(model)  # the server follows it; nothing is copied
        profile = site.root / "profile"  # one browser profile: storage, service worker and code cache persist

        def open_hearth(context) -> tuple:
            page = site.open_page(context, "bench/llm.html", WAIT_MS)
            page.evaluate("bench.startHearth('hearth')")
            python = functools.partial(page.evaluate, "([code]) => bench.python('hearth', code)")
            python(["import time"])
            return page, python

        context, tag = site.open_context(pw, profile=profile)
        if args.service_worker:  # the app's first visit: its service worker precaches the site (onnxruntime's
            # wasm included), so later the bench page's worker loads it from Cache Storage, as the app does offline
            first = context.new_page()
            first.set_default_timeout(WAIT_MS)
            first.goto(site.url)
            first.evaluate("async () => { await navigator.serviceWorker.ready; }")
            first.close()
        files = json.loads(manifest.read_text())["files"]
        results["session_options"] = options = json.loads(args.session_options)
        results["source"] = args.source
        if args.source == "store":  # downloaded (and sha256-checked) and used once; measured on a later visit
            page, python = open_hearth(context)
            results["download"] = python([DOWNLOAD.format(files=json.dumps(files), model_id="bench-llama1b")])
            print(f"downloaded into the model store in {results['download']['download_s']:.1f} s", flush=True)
            source = f"store:bench-llama1b/{onnx}"
            python([LOAD.format(threads=args.threads, source=source, options=repr(options))])
            results["first_use"] = python([GENERATE.format(prompt=args.prompt_tokens, new=2)])
            results["first_use_peak"] = peak(tag)
            print(f"first use, right after the download: first token {results['first_use']['ttft_s']:.1f} s, "
                  f"renderer {results['first_use_peak']}", flush=True)
            context.close()  # the browser quits; the later visit is a fresh start on the same profile
            context, tag = site.open_context(pw, profile=profile)
        else:
            source = f"bench/llama1b/{onnx}"
            if f"{onnx}_data" in files:  # weights beside the graph
                data_name = Path(onnx).name + "_data"
                options.setdefault("externalData", [{"path": data_name, "data": data_name}])
        page, python = open_hearth(context)
        results["booted"] = peak(tag)
        print(f"Hearth booted: renderer {results['booted']}", flush=True)
        with RssTrace(tag) as trace:
            results["load"] = python([LOAD.format(threads=args.threads, source=source, options=repr(options))])
        results["loaded"] = peak(tag)
        results["load_rss_trace_mb"] = trace.samples
        print(f"loaded {onnx} ({results['onnx_mb']} MB) in {results['load']['load_s']:.1f} s: renderer "
              f"{results['loaded']}\n  RSS while loading (s:MB): {trace.summary()}", flush=True)
        with RssTrace(tag) as trace:
            results["run"] = python([GENERATE.format(prompt=args.prompt_tokens, new=args.new_tokens)])
        results["generated"] = peak(tag)
        results["run_rss_trace_mb"] = trace.samples
        print(f"  RSS while generating (s:MB): {trace.summary()}", flush=True)
        close(context)
    run = results["run"]
    # VmHWM is updated lazily by Linux and can miss a short peak that the 0.5 s RSS samples catch
    sampled = max((mb for _, mb in results["load_rss_trace_mb"] + results["run_rss_trace_mb"]), default=0)
    top = results["peak_mb"] = max(results["generated"].get("peak_mb", 0), sampled)
    print(f"\nLlama-3.2-1B-shaped, {onnx} ({results['onnx_mb']} MB), {args.threads} threads, "
          f"{args.prompt_tokens}-token prompt: first token {run['ttft_s']:.1f} s, decode {run['decode_tok_s']:.2f} tok/s")
    print(f"session options: {results['session_options']}")
    print(f"renderer peak RSS: {top} MB (VmHWM {results['generated'].get('peak_mb')}, highest sample {sampled}; "
          f"after boot {results['booted'].get('peak_mb')} MB); target < {TARGET_MB} MB: "
          f"{'PASS' if 0 < top < TARGET_MB else 'FAIL'}")
    print(foreign_line(results["foreign_requests"]))
    write_results(f"llm_1b_{Path(onnx).stem}{args.tag}.json", results)
    return 1 if results["foreign_requests"] else 0


if __name__ == "__main__":
    sys.exit(main())
