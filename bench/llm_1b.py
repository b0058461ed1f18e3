"""The Llama-3.2-1B-shaped model (random weights) in headless Chromium: Hearth against wllama, speed and memory.

    PYTHONPATH=pysrc .venv/bin/python models/make_llama32_1b_shaped.py --quant q4 --gguf --tokenizer DIR   # once
    .venv/bin/python bench/llm_1b.py [--quant q4] [--rounds 2] [--prompt-tokens 1000] [--new-tokens 128]
                                     [--threads 2] [--contenders hearth,wllama] [--source store|url]

One headless Chromium, two pages, the same weights in both engines (the maker writes the Q4_0/Q8_0 GGUF
from the very tensors of the ONNX model), the same prompt, greedy, `--threads` wasm threads each:

- hearth: Hearth's app worker (as in bench/llm_decode.py) runs `hearth.llm.model.generate.Decoder` on
  onnxruntime-web. By default the model is first downloaded into the model store (OPFS, sha256-checked)
  and used once; the browser then quits and starts again on the same profile, and the measured pages are
  that later visit, as a user runs a downloaded model; `--source url` opens it from the site instead.
- wllama: npm @wllama/wllama (llama.cpp in wasm, pinned in package-lock.json) on its own page, loading
  the GGUF as a Blob, `createCompletion` with temperature 0 and `ignore_eos` on the prompt's text
  (llama.cpp tokenizes it from the GGUF's vocabulary, the same Llama 3 tokenizer: the same token count).

The prompt: the reference's summary instruction and an ACI-Bench transcript in Llama 3.2's chat template,
cut to `--prompt-tokens` tokens (bench/llm_decode.py's). Rounds are interleaved (each round starts with
the other contender) after one warm-up each. Time to first token = call to first new token; decode =
(new tokens - 1) / (last - first token). Memory: each page's renderer process (its workers included)
peak resident set (VmHWM, and RSS sampled every 0.5 s, since Linux updates VmHWM lazily); the target
is Hearth's renderer under TARGET_MB. Ends with one line, `llm_1b: ...`, of medians and the median of the
per-round ratios. The model folder is served from the cache, never copied into the repository.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import threading
import time
from pathlib import Path

from harness import REPO, BenchSite, close, foreign_line, link_or_copy, renderer_memory, write_results
from llm_decode import ACI_BENCH, make_prompt

TARGET_MB = 2000
TARGETS = {"decode_ratio": (">=", 1.5), "decode_tok_s": (">=", 5.0), "first_token_ratio": ("<=", 0.7)}
WAIT_MS = 3_600_000
GGUF_NAME = "llama3.2-1b-shaped-random-q4_0.gguf"  # models/make_llama32_1b_shaped.py's
WLLAMA = "node_modules/@wllama/wllama/esm"
CONTENDERS = ("hearth", "wllama")

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
bench_decoder.forget()  # the same prompt every round: without this the stored prompt would be reused
bench_decoder.prefill_chunk = {chunk}
_times = []
_tokens = []
_started = time.perf_counter()
async for _t in bench_decoder.generate({ids}, GenerationSettings(max_new_tokens={new}), stop_ids=[]):
    _times.append(time.perf_counter())
    _tokens.append(_t)
{{"started": _started * 1000, "times": [t * 1000 for t in _times], "tokens": _tokens}}
"""


class MemoryTrace:
    """Every renderer process's resident set every `every` seconds, in the background: the highest
    RSS seen per process (Linux updates VmHWM lazily, so a short peak can be missed by VmHWM alone)."""

    def __init__(self, every: float = 0.5) -> None:
        self.every, self.tag = every, ""
        self.top: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            if self.tag:
                for pid, m in renderer_memory(self.tag).items():
                    self.top[pid] = max(self.top.get(pid, 0), m["rss_mb"], m["peak_mb"])

    def peak(self, pids: set[str]) -> int:
        now = renderer_memory(self.tag) if self.tag else {}
        return max([self.top.get(p, 0) for p in pids] + [now[p]["peak_mb"] for p in pids if p in now], default=0)

    def __enter__(self) -> MemoryTrace:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(raw: dict, tokens: int | None = None) -> dict:
    """Time to first token and decode tok/s from a run's start and per-token (or per-chunk) times, in ms."""
    times = raw["times"]
    n = tokens or len(times)
    span = (times[-1] - times[0]) / 1000
    return {"ttft_s": (times[0] - raw["started"]) / 1000,
            "decode_tok_s": (n - 1) / span if n > 1 and span > 0 else float("nan"), "tokens": n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quant", default="q4", help="which made model folder: llama3.2-1b-shaped-random-QUANT")
    parser.add_argument("--model-dir", type=Path, help="a model folder instead (config.json, manifest.json, onnx/, "
                        "tokenizer.json)")
    parser.add_argument("--gguf", type=Path, help=f"wllama's GGUF (default: {GGUF_NAME} beside the model folder)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help=f"any of {', '.join(CONTENDERS)}")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=1000)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prefill-chunk", type=int, default=None,
                        help="Hearth's prompt tokens per decoder call (default: the decoder's own; 0: one call)")
    parser.add_argument("--session-options", default="{}", help='onnxruntime-web session options (JSON), e.g. '
                        '\'{"enableCpuMemArena": false, "extra": {"session": {"disable_prepacking": "1"}}}\'')
    parser.add_argument("--source", choices=("store", "url"), default="store",
                        help="store: download into the model store (OPFS) in one page, then load it in a fresh "
                        "page, as a user does (default); url: open it by URL from the site")
    parser.add_argument("--service-worker", action=argparse.BooleanOptionalAction, default=True,
                        help="visit the app first so its service worker serves the site from Cache Storage")
    parser.add_argument("--aci-bench", type=Path, default=ACI_BENCH,
                        help="ACI-Bench's valid.csv, whose transcript D2N068 is the prompt (default: %(default)s)")
    parser.add_argument("--tag", default="", help="a suffix for the results file")
    args = parser.parse_args(argv)
    contenders = [c for c in args.contenders.split(",") if c]
    if unknown := [c for c in contenders if c not in CONTENDERS]:
        parser.error(f"unknown contender(s) {unknown}")
    if not args.aci_bench.is_file():
        parser.error(f"ACI-Bench's valid.csv is not at {args.aci_bench}: pass it with --aci-bench PATH")
    if args.prefill_chunk is None:
        from hearth.llm.model.generate import PREFILL_CHUNK
        args.prefill_chunk = PREFILL_CHUNK

    from playwright.sync_api import sync_playwright

    from hearth.llm.files.builtin_models import cache_root

    model = args.model_dir or cache_root() / "models" / f"llama3.2-1b-shaped-random-{args.quant}"
    manifest = model / "manifest.json"
    if not manifest.exists():
        sys.exit(f"{model} has no manifest.json: make it with models/make_llama32_1b_shaped.py --quant {args.quant}")
    if not (model / "tokenizer.json").exists():
        sys.exit(f"{model} has no tokenizer.json: make it with models/make_llama32_1b_shaped.py --tokenizer DIR")
    gguf = args.gguf or model.parent / GGUF_NAME
    if "wllama" in contenders and not gguf.exists():
        sys.exit(f"no GGUF at {gguf}: make it with models/make_llama32_1b_shaped.py --gguf --tokenizer DIR")
    onnx = json.loads(manifest.read_text())["default_onnx"]
    dist = REPO / "dist"
    if not (dist / "index.html").exists():
        sys.exit("dist/ is not built: run `.venv/bin/python build.py build`")
    text, ids = make_prompt(model, args.prompt_tokens, args.aci_bench)
    onnx_bytes = sum(p.stat().st_size for p in (model / onnx).parent.glob(Path(onnx).name + "*"))  # with .onnx_data
    results: dict = {"model": str(model), "onnx": onnx, "onnx_mb": round(onnx_bytes / 1e6, 1),
                     "gguf": gguf.name, "gguf_mb": round(gguf.stat().st_size / 1e6, 1) if gguf.exists() else None,
                     "contenders": contenders, "prompt_tokens": len(ids), "new_tokens": args.new_tokens,
                     "threads": args.threads, "prefill_chunk": args.prefill_chunk, "rounds": []}
    print(f"prompt: {len(ids)} tokens, {args.new_tokens} new tokens, {args.threads} threads; Hearth: {onnx} "
          f"({results['onnx_mb']} MB); wllama: {gguf.name} ({results['gguf_mb']} MB)", flush=True)
    with BenchSite(dist, prefix="hearth-llm1b-") as site, sync_playwright() as pw, MemoryTrace() as memory:
        results["foreign_requests"] = site.foreign
        link_or_copy(REPO / WLLAMA / "index.js", site.root / "bench" / "wllama" / "index.js")
        link_or_copy(REPO / WLLAMA / "wasm" / "wllama.wasm", site.root / "bench" / "wllama" / "wllama.wasm")
        (site.root / "bench" / "llama1b").symlink_to(model)  # the server follows these; nothing is copied
        if gguf.exists():
            (site.root / "bench" / "wllama" / gguf.name).symlink_to(gguf)
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
        if "hearth" in contenders and args.source == "store":  # downloaded (sha256-checked) and used once
            page, python = open_hearth(context)
            results["download"] = python([DOWNLOAD.format(files=json.dumps(files), model_id="bench-llama1b")])
            print(f"downloaded into the model store in {results['download']['download_s']:.1f} s", flush=True)
            source = f"store:bench-llama1b/{onnx}"
            python([LOAD.format(threads=args.threads, source=source, options=repr(options))])
            python([GENERATE.format(ids=ids[:16], new=2, chunk=args.prefill_chunk or None)])
            context.close()  # the browser quits; the later visit is a fresh start on the same profile
            context, tag = site.open_context(pw, profile=profile)
        else:
            source = f"bench/llama1b/{onnx}"
            if f"{onnx}_data" in files:  # weights beside the graph
                data_name = Path(onnx).name + "_data"
                options.setdefault("externalData", [{"path": data_name, "data": data_name}])
        memory.tag = tag
        results["chromium"] = context.browser.version if context.browser else None
        pids: dict[str, set[str]] = {}
        setup = results["setup"] = {}
        run = {}
        for who in contenders:  # each on its own page (its own renderer process), loaded one at a time
            before = {pid: m["rss_mb"] for pid, m in renderer_memory(tag).items()}
            if who == "hearth":
                page, python = open_hearth(context)
                setup[who] = python([LOAD.format(threads=args.threads, source=source, options=repr(options))])
                run[who] = functools.partial(python, [GENERATE.format(ids=ids, new=args.new_tokens,
                                                                       chunk=args.prefill_chunk or None)])
                python([GENERATE.format(ids=ids[:48], new=4, chunk=args.prefill_chunk or None)])  # warm-up
            else:
                page = site.open_page(context, "bench/llm.html", WAIT_MS)
                setup[who] = page.evaluate("([url, t, n]) => bench.startWllama({ggufUrl: url, threads: t, nCtx: n})",
                                           [f"wllama/{gguf.name}", args.threads, len(ids) + args.new_tokens + 64])
                run[who] = functools.partial(
                    page.evaluate, "([text, n]) => bench.wllamaGenerate({prompt: text, newTokens: n, everyChunk: true})",
                    [text, args.new_tokens])
                page.evaluate("([text]) => bench.wllamaGenerate({prompt: text, newTokens: 4, everyChunk: true})",
                              [text[:300]])  # warm-up
            # its renderer: the one that grew most while it loaded (a page may reuse a process that already
            # ran, e.g. the service worker's, so new processes alone do not tell)
            grown = {pid: m["rss_mb"] - before.get(pid, 0) for pid, m in renderer_memory(tag).items()}
            pids[who] = {max(grown, key=grown.__getitem__)}
            setup[who]["loaded_peak_mb"] = memory.peak(pids[who])
            print(f"{who}: loaded {setup[who]} (renderer {sorted(pids[who])})", flush=True)
        if len(contenders) == 2 and pids[contenders[0]] & pids[contenders[1]]:
            print("warning: both pages share a renderer process; their memory is reported together", flush=True)
        for r in range(args.rounds):
            row = {}
            order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
            for who in order:
                time.sleep(1.0)  # let the other contender's threads go idle
                raw = run[who]()
                if who == "wllama":
                    t = raw.get("timings") or {}
                    row[who] = {**timed(raw, t.get("predicted_n")), "prompt_n": t.get("prompt_n"),
                                "llama_decode_tok_s": t.get("predicted_per_second"),
                                "llama_prompt_tok_s": t.get("prompt_per_second")}
                else:
                    row[who] = timed(raw)
                print(f"  round {r + 1} {who:<7} first token {row[who]['ttft_s']:7.2f} s   decode "
                      f"{row[who]['decode_tok_s']:6.2f} tok/s   ({row[who]['tokens']} tokens)", flush=True)
            results["rounds"].append(row)
            write_results(f"llm_1b_{Path(onnx).stem}{args.tag}.json", results)  # so far, should a long run be cut
        results["peak_mb"] = {who: memory.peak(pids[who]) for who in contenders}
        close(context)
    summary = results["summary"] = summarize(results)
    print(report(results, summary))
    write_results(f"llm_1b_{Path(onnx).stem}{args.tag}.json", results)
    return 1 if results["foreign_requests"] else 0


def summarize(results: dict) -> dict:
    rounds, contenders = results["rounds"], results["contenders"]
    out: dict = {who: {k: statistics.median(r[who][k] for r in rounds) for k in ("ttft_s", "decode_tok_s")}
                 for who in contenders}
    if set(CONTENDERS) <= set(contenders):
        out["decode_ratio"] = statistics.median(r["hearth"]["decode_tok_s"] / r["wllama"]["decode_tok_s"] for r in rounds)
        out["first_token_ratio"] = statistics.median(r["hearth"]["ttft_s"] / r["wllama"]["ttft_s"] for r in rounds)
    return out


def report(results: dict, summary: dict) -> str:
    lines = ["", f"Llama-3.2-1B-shaped, {results['prompt_tokens']}-token prompt, {results['new_tokens']} new tokens, "
             f"{results['threads']} threads, median of {len(results['rounds'])} interleaved rounds:", ""]
    names = {"hearth": f"Hearth, {results['onnx']}", "wllama": f"wllama, {results['gguf']}"}
    for who in results["contenders"]:
        lines.append(f"  {names[who]:<50} first token {summary[who]['ttft_s']:7.2f} s   decode "
                     f"{summary[who]['decode_tok_s']:6.2f} tok/s   renderer peak {results['peak_mb'][who]} MB")
    checks = {"decode_tok_s": summary.get("hearth", {}).get("decode_tok_s"),
              "decode_ratio": summary.get("decode_ratio"), "first_token_ratio": summary.get("first_token_ratio")}
    for what, value in checks.items():
        if value is not None:
            op, bound = TARGETS[what]
            ok = value >= bound if op == ">=" else value <= bound
            lines.append(f"  {what}: {value:.2f}  target {op} {bound}: {'PASS' if ok else 'FAIL'}")
    if "hearth" in results["peak_mb"]:
        top = results["peak_mb"]["hearth"]
        lines.append(f"  Hearth's renderer peak: {top} MB  target <= {TARGET_MB} MB: "
                     f"{'PASS' if 0 < top <= TARGET_MB else 'FAIL'}")
    lines.append(foreign_line(results["foreign_requests"]))

    def num(v: float | None, digits: int = 2) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    lines.append(f"llm_1b: hearth_decode_tok_s={num(summary.get('hearth', {}).get('decode_tok_s'))} "
                 f"wllama_decode_tok_s={num(summary.get('wllama', {}).get('decode_tok_s'))} "
                 f"decode_ratio={num(summary.get('decode_ratio'))} first_token_ratio={num(summary.get('first_token_ratio'))} "
                 f"peak_mb={results['peak_mb'].get('hearth', '-')}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
