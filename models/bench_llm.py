"""Measure converted decoders: greedy equality with the reference, size, load, prefill and decode speed.

    PYTHONPATH=pysrc python models/bench_llm.py MODEL_DIR [--files onnx/a.onnx ...] [--threads 1]
        [--reference models/reference/smollm2_greedy.json] [--repeat 3]

Runs onnxruntime (CPython) directly with a fixed thread count, since single-thread CPU speed is our
proxy for the browser's wasm backend (see also models/bench_wasm.mjs for onnxruntime-web itself).
Prints one JSON line per file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def session(path: Path, threads: int) -> tuple[ort.InferenceSession, float]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    start = time.perf_counter()
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return s, time.perf_counter() - start


def greedy(s: ort.InferenceSession, config: dict, prompt: list[int], max_new: int, eos: int,
           stop_at_eos: bool = True) -> tuple[list[int], float, list[float]]:
    """Greedy ids (eos included when hit), prefill seconds, per-token decode seconds."""
    layers, kv, hd = config["num_hidden_layers"], config["num_key_value_heads"], config["head_dim"]
    names = [o.name for o in s.get_outputs()]
    feeds = {"input_ids": np.array([prompt], np.int64), "attention_mask": np.ones((1, len(prompt)), np.int64),
             "position_ids": np.arange(len(prompt), dtype=np.int64)[None]}
    for i in range(layers):
        feeds[f"past_key_values.{i}.key"] = feeds[f"past_key_values.{i}.value"] = np.zeros((1, kv, 0, hd), np.float32)
    start = time.perf_counter()
    out = dict(zip(names, s.run(None, feeds), strict=True))
    prefill = time.perf_counter() - start
    ids: list[int] = []
    steps = []
    while True:
        token = int(np.argmax(out["logits"][0, -1]))
        ids.append(token)
        if len(ids) >= max_new or (token == eos and stop_at_eos):
            return ids, prefill, steps
        total = len(prompt) + len(ids)
        feeds = {"input_ids": np.array([[token]], np.int64), "attention_mask": np.ones((1, total), np.int64),
                 "position_ids": np.array([[total - 1]], np.int64)}
        for i in range(layers):
            feeds[f"past_key_values.{i}.key"] = out[f"present.{i}.key"]
            feeds[f"past_key_values.{i}.value"] = out[f"present.{i}.value"]
        start = time.perf_counter()
        out = dict(zip(names, s.run(None, feeds), strict=True))
        steps.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--files", nargs="*")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reference", type=Path, default=Path(__file__).parent / "reference" / "smollm2_greedy.json")
    parser.add_argument("--repeat", type=int, default=1, help="timing repeats of the long case (median reported)")
    parser.add_argument("--prompt-tokens", type=int,
                        help="timing only: a random prompt of this many tokens, no reference (random-weight models)")
    args = parser.parse_args()
    config = json.loads((args.model_dir / "config.json").read_text())
    if args.prompt_tokens:
        prompt = np.random.default_rng(0).integers(0, config["vocab_size"], args.prompt_tokens).tolist()
        reference = {"eos_token_id": -1, "cases": [
            {"name": "short", "prompt_ids": prompt[:32], "max_new_tokens": 1, "greedy_ids": None},
            {"name": "aci_bench_summary", "prompt_ids": prompt, "max_new_tokens": 32, "greedy_ids": None}]}
    else:
        reference = json.loads(args.reference.read_text())
    found = (args.model_dir / "onnx").glob("*.onnx")
    files = args.files or sorted(p.relative_to(args.model_dir).as_posix() for p in found)
    for name in files:
        path = args.model_dir / name
        s, load = session(path, args.threads)
        equal, prefill, decode = {}, [], []
        for case in reference["cases"]:
            ids, pre, steps = greedy(s, config, case["prompt_ids"], case["max_new_tokens"], reference["eos_token_id"])
            equal[case["name"]] = ids == case["greedy_ids"]
            if case["greedy_ids"] is None:
                equal[case["name"]] = None
            elif not equal[case["name"]]:
                first = next((i for i, (a, b) in enumerate(zip(ids, case["greedy_ids"], strict=False)) if a != b),
                             min(len(ids), len(case["greedy_ids"])))
                equal[case["name"]] = f"differs at token {first}"
            if case["name"] == "aci_bench_summary":
                prefill.append(pre)
                decode.append(len(steps) / sum(steps))
                for _ in range(args.repeat - 1):
                    _, pre, steps = greedy(s, config, case["prompt_ids"], case["max_new_tokens"], -1)
                    prefill.append(pre)
                    decode.append(len(steps) / sum(steps))
        short = reference["cases"][0]
        _, _, steps = greedy(s, config, short["prompt_ids"], 32, -1, stop_at_eos=False)
        print(json.dumps({
            "file": name, "mb": round(path.stat().st_size / 1e6, 1), "threads": args.threads,
            "load_s": round(load, 2), "equal": equal,
            "prefill_s_long": round(statistics.median(prefill), 2) if prefill else None,
            "prompt_tokens_long": len(reference["cases"][-1]["prompt_ids"]),
            "decode_tok_s_long_ctx": round(statistics.median(decode), 1) if decode else None,
            "decode_tok_s_short_ctx": round(len(steps) / sum(steps), 1),
        }), flush=True)
        del s


if __name__ == "__main__":
    main()
