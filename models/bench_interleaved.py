"""Decode/prefill timing of several decoder files, interleaved, best and median of N rounds.

On a shared machine the load comes and goes, so each round runs every file once in turn, and the
best round (the closest to an idle machine) is reported next to the median.

    PYTHONPATH=pysrc python models/bench_interleaved.py MODEL_DIR onnx/a.onnx onnx/b.onnx [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from bench_llm import greedy, session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, default=1000)
    parser.add_argument("--decode-tokens", type=int, default=32)
    args = parser.parse_args()
    config = json.loads((args.model_dir / "config.json").read_text())
    prompt = np.random.default_rng(0).integers(100, config["vocab_size"], args.prompt_tokens).tolist()
    sessions = {}
    loads = {}
    for name in args.files:
        sessions[name], loads[name] = session(args.model_dir / name, args.threads)
    results: dict[str, dict[str, list[float]]] = {n: {"prefill_s": [], "decode_long": [], "decode_short": []}
                                                  for n in args.files}
    for _ in range(args.rounds):
        for name, s in sessions.items():
            _, _, steps = greedy(s, config, prompt[:16], args.decode_tokens + 1, -1)
            results[name]["decode_short"].append(len(steps) / sum(steps))
            _, prefill, steps = greedy(s, config, prompt, args.decode_tokens + 1, -1)
            results[name]["prefill_s"].append(prefill)
            results[name]["decode_long"].append(len(steps) / sum(steps))
    for name, r in results.items():
        print(json.dumps({
            "file": name, "threads": args.threads, "load_s": round(loads[name], 2),
            f"prefill_{args.prompt_tokens}_s_best": round(min(r["prefill_s"]), 2),
            "prefill_s_median": round(statistics.median(r["prefill_s"]), 2),
            "decode_tok_s_short_ctx_best": round(max(r["decode_short"]), 1),
            "decode_tok_s_short_ctx_median": round(statistics.median(r["decode_short"]), 1),
            f"decode_tok_s_ctx{args.prompt_tokens}_best": round(max(r["decode_long"]), 1),
            "decode_tok_s_long_ctx_median": round(statistics.median(r["decode_long"]), 1),
        }))


if __name__ == "__main__":
    main()
