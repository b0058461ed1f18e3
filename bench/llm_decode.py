"""Language model decoding in headless Chromium: Hearth against transformers.js and wllama.

    .venv/bin/python bench/llm_decode.py [--rounds 2] [--new-tokens 64] [--prompt-tokens 1000] [--threads 2]
                                         [--contenders hearth,tjs,wllama] [--reuse-dist] [--profile]
                                         [--prefill-chunk N] [--aci-bench PATH/valid.csv]

`--profile`: each decode token split into the time inside onnxruntime-web's session.run (Hearth and
transformers.js), Hearth's bridge around it and the rest of Hearth's Python loop. `--prefill-chunk N`:
Hearth reads the prompt N tokens per call (0: in one call; default: the decoder's own, 256).

The built-in SmolLM2-135M-Instruct, greedy, the same prompt for all: an ACI-Bench transcript
(D2N068 of `--aci-bench`, by default ../shared/data/aci-bench/valid.csv beside the repository) with
the reference's summary instruction in the chat template, cut to `--prompt-tokens` tokens; then
`--new-tokens` new tokens.

- hearth: the app's own worker (web/worker.js: Pyodide, Hearth, onnxruntime-web 1.30 wasm) runs
  `hearth.llm` from Python, as the Chat page does: `load_site_model("smollm2")` (the site's
  `onnx/model_q4_unpacked.onnx`), then `LanguageModel.stream_ids` on the prompt ids.
- tjs: transformers.js (npm @huggingface/transformers) in a worker, on the wasm-only build of the
  onnxruntime-web it depends on (1.31.0-dev; its bundled WebGPU build lacks the uint4 Cast kernel,
  see bench/pages/llm-tjs-worker.js), `AutoModelForCausalLM.from_pretrained` with `allowRemoteModels = false` from a served
  folder holding the very same ONNX bytes under the name its `dtype: "q4"` looks for
  (`onnx/model_q4.onnx`), then `model.generate({input_ids, do_sample: false})` on the same ids.
- wllama: npm @wllama/wllama (llama.cpp in wasm) on the GGUF the built-in model is converted from
  (SmolLM2-135M-Instruct.Q4_1.gguf), `createCompletion` with temperature 0 on the prompt's text
  (llama.cpp tokenizes it itself, from the same GGUF vocabulary).

All run with `--threads` wasm threads on one cross-origin-isolated page (bench/pages/llm.html)
served from a throwaway copy of dist/ with the peers' files beside it (bench/harness.py); every
request leaving 127.0.0.1 is blocked and reported. One warm-up generation each, then the rounds,
interleaved (each round starts one contender later). Per run: time to first token = from the call
to the first new token (prefill + first sample), decode tok/s = (new tokens - 1) / (last token -
first token). Reported: the median of each, the median per-round ratios, PASS/FAIL against
TARGETS, and the renderer process's peak RSS (all contenders share that process). Results go
to bench/results/llm_decode.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from harness import REPO, BenchSite, built_dist, close, foreign_line, link_or_copy, renderer_memory, write_results

ACI_BENCH = REPO.parent / "shared" / "data" / "aci-bench" / "valid.csv"  # where developer machines keep it
TRANSCRIPT_ID = "D2N068"
INSTRUCTION = "Summarize this doctor-patient conversation as a short clinical note.\n\n"  # the reference's
MODEL_DIR = "models/smollm2-135m-instruct"
CONTENDERS = ("hearth", "tjs", "wllama")
TARGETS = {  # Hearth / peer ratios the bench must reach
    ("tjs", "decode"): (">=", 1.3),
    ("tjs", "ttft"): ("<=", 0.7),
    ("wllama", "decode"): (">=", 1.5),
}
TJS_FILES = "node_modules/@huggingface/transformers/dist/transformers.min.js"
TJS_ORT = "node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist"
WLLAMA = "node_modules/@wllama/wllama/esm"
BOOT_WAIT_MS = 600_000


# ------------------------------------------------------------------------------------------ prompt
def transcript(valid_csv: Path, encounter_id: str) -> str:
    csv.field_size_limit(sys.maxsize)
    with valid_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["encounter_id"] == encounter_id:
                return row["dialogue"]
    raise KeyError(f"{encounter_id} is not in {valid_csv}")


def make_prompt(model_dir: Path, tokens: int, valid_csv: Path) -> tuple[str, list[int]]:
    """The chat-templated summary request, with the transcript cut so the whole prompt is `tokens` long."""
    from hearth.llm.text.chat import render_chat
    from hearth.llm.text.tokenizer import Tokenizer

    tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    tokenizer = Tokenizer.from_dict(json.loads((model_dir / "tokenizer.json").read_text()))
    dialogue = transcript(valid_csv, TRANSCRIPT_ID)

    def encode(chars: int) -> tuple[str, list[int]]:
        text = render_chat(tokenizer_config, [{"role": "user", "content": INSTRUCTION + dialogue[:chars].rstrip()}])
        return text, tokenizer.encode(text, add_special_tokens=False)

    lo, hi = 0, len(dialogue)
    if len(encode(hi)[1]) < tokens:
        raise ValueError(f"{TRANSCRIPT_ID} is shorter than {tokens} tokens")
    while hi - lo > 1:  # the longest cut that still fits
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if len(encode(mid)[1]) <= tokens else (lo, mid)
    return encode(lo)


# ---------------------------------------------------------------------------------------- serving
def stage_peers(root: Path, dist: Path, gguf: Path, prompt: dict) -> None:
    """transformers.js, wllama and the model under each one's layout, and the prompt, into the served bench/."""
    bench = root / "bench"
    missing = [p for p in (TJS_FILES, TJS_ORT, WLLAMA) if not (REPO / p).exists()]
    if missing:
        sys.exit(f"{missing} missing: run `npm ci` (transformers.js and wllama are devDependencies for this benchmark)")
    link_or_copy(REPO / TJS_FILES, bench / "tjs" / "transformers.min.js")
    for name in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"):
        link_or_copy(REPO / TJS_ORT / name, bench / "tjs" / "ort" / name)
    link_or_copy(REPO / WLLAMA / "index.js", bench / "wllama" / "index.js")
    link_or_copy(REPO / WLLAMA / "wasm" / "wllama.wasm", bench / "wllama" / "wllama.wasm")
    link_or_copy(gguf, bench / "wllama" / gguf.name)
    model = dist / MODEL_DIR
    manifest = json.loads((model / "manifest.json").read_text())
    tjs_model = bench / "tjs-models" / "smollm2"
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        link_or_copy(model / name, tjs_model / name)
    link_or_copy(model / manifest["default_onnx"], tjs_model / "onnx" / "model_q4.onnx")  # the same bytes
    (bench / "prompt.json").write_text(json.dumps(prompt))


# ------------------------------------------------------------------------------------- contenders
HEARTH_LOAD = """
import time
from js import hearthOrt
hearthOrt.setThreads({threads})
from hearth.llm.files.site_model import load_site_model
from hearth.llm.model.generate import GenerationSettings
_started = time.perf_counter()
bench_model = await load_site_model("smollm2", provider="wasm")
{{"load_s": time.perf_counter() - _started, "threads": int(await hearthOrt.threads()),
  "onnx": bench_model.decoder.session.provider}}
"""

HEARTH_PROFILE = """
import functools
_session = bench_model.decoder.session
_session_run = getattr(_session, "_bench_unwrapped", _session.run)
bench_run_times = []
bench_ort_times = []

@functools.wraps(_session_run)
async def _timed_run(*a, **k):
    _t0 = time.perf_counter()
    try:
        return await _session_run(*a, **k)
    finally:
        bench_run_times.append(time.perf_counter() - _t0)
        bench_ort_times.append(_session.last_run_ms / 1000)

_session._bench_unwrapped = _session_run
_session.run = _timed_run
"""

HEARTH_GENERATE = """
bench_run_times = [] if "bench_run_times" not in globals() else bench_run_times
bench_run_times.clear()
bench_ort_times = [] if "bench_ort_times" not in globals() else bench_ort_times
bench_ort_times.clear()
bench_model.forget()  # the same prompt every round: without this the stored prompt would be reused
bench_model.decoder.prefill_chunk = {chunk}
_times = []
_tokens = []
_started = time.perf_counter()
async for _t in bench_model.stream_ids({ids}, GenerationSettings(max_new_tokens={new}, stop_token_ids=[])):
    _times.append(time.perf_counter())
    _tokens.append(_t)
{{"started": _started * 1000, "times": [t * 1000 for t in _times], "tokens": _tokens,
  "run_s": list(bench_run_times), "ort_s": list(bench_ort_times)}}
"""


def python(page, code: str) -> Any:
    return page.evaluate("([code]) => bench.python('hearth', code)", [code])


def generate(page, who: str, prompt: dict, new_tokens: int, prefill_chunk: int | None = None,
             profile: bool = False) -> dict:
    if who == "hearth":
        raw = python(page, HEARTH_GENERATE.format(ids=prompt["ids"], new=new_tokens, chunk=prefill_chunk))
    elif who == "tjs":
        raw = page.evaluate("([ids, n]) => bench.tjs('tjs', {type: 'generate', ids, newTokens: n})",
                            [prompt["ids"], new_tokens])
    else:
        raw = page.evaluate("([text, n]) => bench.wllamaGenerate({prompt: text, newTokens: n})",
                            [prompt["text"], new_tokens])
    times = raw["times"]
    ttft = (times[0] - raw["started"]) / 1000
    decode = (len(times) - 1) / ((times[-1] - times[0]) / 1000) if len(times) > 1 else float("nan")
    out = {"ttft_s": ttft, "decode_tok_s": decode, "chunks": len(times), "tokens": raw.get("tokens"),
           "text": raw.get("text"), "timings": raw.get("timings")}
    decode_steps = len(times) - 1  # the runs after the first token; the prompt took one run per chunk
    if profile and raw.get("ort_s") and decode_steps:  # ms per decode step, inside onnxruntime-web's session.run
        per_token = (times[-1] - times[0]) / decode_steps
        ort_ms = sum(raw["ort_s"][-decode_steps:]) / decode_steps * 1000
        out["profile"] = {"decode_ms_per_token": per_token, "ort_run_ms": ort_ms}
        if raw.get("run_s"):  # Hearth: the Python call around it (bridge) and the rest of the loop
            inside = sum(raw["run_s"][-decode_steps:]) / decode_steps * 1000
            out["profile"].update(bridge_ms=inside - ort_ms, python_loop_ms=per_token - inside)
    return out


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    from hearth.llm.files.builtin_models import smollm2_gguf

    dist = built_dist(args.reuse_dist, needs=f"{MODEL_DIR}/manifest.json")
    text, ids = make_prompt(dist / MODEL_DIR, args.prompt_tokens, args.aci_bench)
    prompt = {"text": text, "ids": ids}
    print(f"prompt: {len(ids)} tokens ({TRANSCRIPT_ID}), {args.new_tokens} new tokens, {args.threads} threads",
          flush=True)
    gguf = smollm2_gguf()
    results: dict = {"contenders": args.contenders, "prompt_tokens": len(ids), "new_tokens": args.new_tokens,
                     "threads": args.threads, "setup": {}, "rounds": []}
    with BenchSite(dist, prefix="hearth-llm-bench-") as site, sync_playwright() as pw:
        results["foreign_requests"] = site.foreign
        stage_peers(site.root, dist, gguf, prompt)
        context, tag = site.open_context(pw)
        page = site.open_page(context, "bench/llm.html", BOOT_WAIT_MS, args.verbose)
        results["cross_origin_isolated"] = page.evaluate("bench.isolated")
        results["chromium"] = context.browser.version
        setup = results["setup"]
        for who in args.contenders:  # one at a time: loading is not what is measured
            if who == "hearth":
                page.evaluate("bench.startHearth('hearth')")
                setup[who] = python(page, HEARTH_LOAD.format(threads=args.threads))
                if args.profile:
                    python(page, HEARTH_PROFILE)
            elif who == "tjs":
                setup[who] = page.evaluate("(t) => bench.startTjs('tjs', {modelId: 'smollm2', dtype: 'q4', threads: t})",
                                           args.threads)
            else:
                setup[who] = page.evaluate(
                    "([url, t]) => bench.startWllama({ggufUrl: url, threads: t, nCtx: 2048})",
                    [f"wllama/{gguf.name}", args.threads])
            print(f"{who}: loaded {setup[who]}", flush=True)
        warm = {"text": prompt["text"][:200], "ids": ids[:48]}
        for who in args.contenders:
            generate(page, who, warm, 4, args.prefill_chunk)
        for r in range(args.rounds):
            row = {}
            order = args.contenders[r % len(args.contenders):] + args.contenders[:r % len(args.contenders)]
            for who in order:
                time.sleep(1.0)  # let the previous contender's threads go idle
                row[who] = generate(page, who, prompt, args.new_tokens, args.prefill_chunk, args.profile)
                print(f"  round {r + 1} {who:<7} first token {row[who]['ttft_s']:6.2f} s   decode "
                      f"{row[who]['decode_tok_s']:5.1f} tok/s", flush=True)
                if "profile" in row[who]:
                    print("          per token: " + ", ".join(f"{k} {v:.1f}" for k, v in row[who]["profile"].items()),
                          flush=True)
            results["rounds"].append(row)
        results["renderer_memory"] = renderer_memory(tag)
        close(context)
    return results


# ----------------------------------------------------------------------------------------- report
def summarize(results: dict) -> dict:
    rounds, contenders = results["rounds"], results["contenders"]
    med = {who: {k: statistics.median(r[who][k] for r in rounds) for k in ("ttft_s", "decode_tok_s")}
           for who in contenders}
    ratios, verdicts = {}, {}
    if "hearth" in contenders:
        for peer in (c for c in contenders if c != "hearth"):
            ratios[peer] = {
                "decode": statistics.median(r["hearth"]["decode_tok_s"] / r[peer]["decode_tok_s"] for r in rounds),
                "ttft": statistics.median(r["hearth"]["ttft_s"] / r[peer]["ttft_s"] for r in rounds),
            }
            for (who, what), (op, bound) in TARGETS.items():
                if who == peer:
                    value = ratios[peer][what]
                    verdicts[f"{who} {what}"] = value >= bound if op == ">=" else value <= bound
    same = None
    if {"hearth", "tjs"} <= set(contenders):
        same = all(r["hearth"]["tokens"] == r["tjs"]["tokens"] for r in rounds)
    return {"median": med, "ratios": ratios, "pass": verdicts, "hearth_tjs_same_tokens": same}


def report(results: dict, summary: dict) -> str:
    names = {"hearth": "Hearth (Python in Pyodide, ORT-web 1.30)", "tjs": "transformers.js 4.3.1 (same ONNX)",
             "wllama": "wllama 3.8.1 (Q4_1 GGUF)"}
    lines = ["", f"SmolLM2-135M-Instruct, {results['prompt_tokens']}-token prompt, {results['new_tokens']} new tokens,"
             f" greedy, {results['threads']} threads, median of {len(results['rounds'])} interleaved rounds:", "",
             "| | time to first token | decode |", "|---|---:|---:|"]
    for who, m in summary["median"].items():
        lines.append(f"| {names[who]} | {m['ttft_s']:.2f} s | {m['decode_tok_s']:.1f} tok/s |")
    lines += ["", "Hearth / peer (median of per-round ratios) against the targets:", ""]
    for peer, r in summary["ratios"].items():
        for what in ("decode", "ttft"):
            target = TARGETS.get((peer, what))
            verdict = "" if target is None else (
                f"  target {target[0]} {target[1]}x: {'PASS' if summary['pass'][f'{peer} {what}'] else 'FAIL'}")
            lines.append(f"  {what:<6} hearth/{peer}: {r[what]:.2f}x{verdict}")
    if summary["hearth_tjs_same_tokens"] is not None:
        lines.append(f"\nHearth and transformers.js generated the same tokens: {summary['hearth_tjs_same_tokens']}")
    mem = ", ".join(f"{v['peak_mb']} MB peak" for v in results["renderer_memory"].values())
    lines += [f"renderer process(es), all contenders together: {mem}",
              "threads as each reports them: " + ", ".join(f"{w}: {s.get('threads')}" for w, s in results["setup"].items()),
              f"cross-origin isolated: {results['cross_origin_isolated']}; Chromium {results['chromium']}",
              foreign_line(results["foreign_requests"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help=f"any of {', '.join(CONTENDERS)}")
    parser.add_argument("--profile", action="store_true",
                        help="also split each decode token: inside onnxruntime-web's session.run (Hearth and "
                             "transformers.js), Hearth's bridge and the rest of its Python loop")
    parser.add_argument("--prefill-chunk", type=int, default=None,
                        help="Hearth's prompt tokens per decoder call (default: the decoder's own, "
                             "hearth.llm.model.generate.PREFILL_CHUNK; 0: the whole prompt in one call)")
    parser.add_argument("--verbose", action="store_true", help="print the page's console and requests")
    parser.add_argument("--reuse-dist", action="store_true", help="use the dist/ that is there instead of building")
    parser.add_argument("--aci-bench", type=Path, default=ACI_BENCH,
                        help="ACI-Bench's valid.csv, whose transcript D2N068 is the prompt (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.aci_bench.is_file():
        parser.error(f"ACI-Bench's valid.csv is not at {args.aci_bench}: get the data set "
                     "(https://github.com/wyim/aci-bench) and pass its valid.csv with --aci-bench PATH")
    args.contenders = [c for c in args.contenders.split(",") if c]
    if args.prefill_chunk is None:
        from hearth.llm.model.generate import PREFILL_CHUNK
        args.prefill_chunk = PREFILL_CHUNK
    args.prefill_chunk = args.prefill_chunk or None  # 0: one call
    if unknown := [c for c in args.contenders if c not in CONTENDERS]:
        parser.error(f"unknown contender(s) {unknown}")
    results = run(args)
    summary = summarize(results)
    print(report(results, summary))
    write_results("llm_decode.json", {**results, "summary": summary})
    return 1 if results["foreign_requests"] else 0


if __name__ == "__main__":
    sys.exit(main())
