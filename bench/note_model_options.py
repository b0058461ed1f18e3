"""Two ways to ship the note model, measured: a merged second model file, or LoRA branches in the graph.

    PYTHONPATH=pysrc .venv/bin/python bench/note_model_options.py ADAPTER_DIR [--rounds 5] [--threads 1]

- merged: the adapter merged into the built-in weights and stored again as Q4_1 (`ensure_note_model`): a
  second model file as large as the built-in one; the graph is the built-in graph's.
- branches: the built-in weights unchanged plus y += (x A^T) B^T per adapted layer (`build_decoder(lora=)`):
  the site would ship the adapter (a few MB) and the base weights once for Chat and Notes.

Both in onnxruntime (CPython, `--threads`), the same random prompt, rounds interleaved (each round runs every
file once) because the machine is shared; prints download sizes, prefill seconds and decode tokens/s per
file (best and median) and the median of the per-round ratios branches / merged, and how many greedy tokens
the two write alike (the merged file is quantized again, so they may part after a while).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "models"))

from bench_llm import greedy, session  # noqa: E402
from hearth.llm.files.builtin_models import ensure_note_model, ensure_smollm2, note_adapter, smollm2_gguf  # noqa: E402
from hearth.llm.files.convert import prepare_weights  # noqa: E402
from hearth.llm.files.gguf_weights import read_gguf  # noqa: E402
from hearth.llm.files.lora import ADAPTER_FILES, branches, read_adapter  # noqa: E402
from hearth.llm.model.decoder import build_decoder  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("adapter", type=Path, help="adapter folder (peft files, card.txt, manifest.json)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--prompt-tokens", type=int, default=1000)
    p.add_argument("--decode-tokens", type=int, default=32)
    p.add_argument("--keep", type=Path, help="leave the three files in KEEP/onnx/ beside a config.json, for "
                   "models/bench_wasm.mjs (onnxruntime-web's wasm in Node)")
    args = p.parse_args()

    found = note_adapter(args.adapter)
    if found is None:
        raise SystemExit(f"{args.adapter} holds no adapter")
    folder, _card = found
    base_dir = ensure_smollm2()
    manifest = json.loads((base_dir / "manifest.json").read_text())
    base_file = base_dir / manifest["default_onnx"]
    merged_file = ensure_note_model(args.adapter) / manifest["default_onnx"]
    work = args.keep or Path(tempfile.mkdtemp(prefix="note-options-"))
    (work / "onnx").mkdir(parents=True, exist_ok=True)
    weights, _ = read_gguf(smollm2_gguf())
    branch_file = work / "onnx" / "branches.onnx"
    branch_file.write_bytes(build_decoder(prepare_weights(weights, "q4-unpacked"), weights_mode="unpacked",
                                          lora=branches(read_adapter(folder))))
    adapter_bytes = sum((folder / n).stat().st_size for n in ADAPTER_FILES)
    files = {"base": base_file, "merged": merged_file, "branches": branch_file}
    if args.keep:
        shutil.copyfile(base_dir / "config.json", work / "config.json")
        for name in ("base", "merged"):
            shutil.copyfile(files[name], work / "onnx" / f"{name}.onnx")
        print(f"for wasm: node models/bench_wasm.mjs {work} onnx/base.onnx onnx/merged.onnx onnx/branches.onnx")
    sizes = {"base_file_MB": base_file.stat().st_size / 1e6, "merged_file_MB": merged_file.stat().st_size / 1e6,
             "branches_graph_MB": branch_file.stat().st_size / 1e6, "adapter_files_MB": adapter_bytes / 1e6}
    print(json.dumps({k: round(v, 2) for k, v in sizes.items()}))

    config = json.loads((base_dir / "config.json").read_text())
    import numpy as np

    prompt = np.random.default_rng(0).integers(100, config["vocab_size"], args.prompt_tokens).tolist()
    sessions = {}
    for name, path in files.items():
        sessions[name], load = session(path, args.threads)
        print(json.dumps({"file": name, "load_s": round(load, 2)}))
    tokens: dict[str, list[int]] = {}
    results = {n: {"prefill_s": [], "decode_tok_s": []} for n in files}
    for _ in range(args.rounds):
        for name, s in sessions.items():
            ids, prefill, steps = greedy(s, config, prompt, args.decode_tokens + 1, -1, stop_at_eos=False)
            tokens[name] = ids
            results[name]["prefill_s"].append(prefill)
            results[name]["decode_tok_s"].append(len(steps) / sum(steps))
    for name, r in results.items():
        print(json.dumps({"file": name, "threads": args.threads,
                          f"prefill_{args.prompt_tokens}_s_best": round(min(r["prefill_s"]), 3),
                          "prefill_s_median": round(statistics.median(r["prefill_s"]), 3),
                          "decode_tok_s_best": round(max(r["decode_tok_s"]), 1),
                          "decode_tok_s_median": round(statistics.median(r["decode_tok_s"]), 1)}))
    b, m = results["branches"], results["merged"]
    alike = next((i for i, (x, y) in enumerate(zip(tokens["branches"], tokens["merged"], strict=True)) if x != y),
                 len(tokens["merged"]))
    print(json.dumps({
        "prefill_time_branches_over_merged_median": round(statistics.median(
            x / y for x, y in zip(b["prefill_s"], m["prefill_s"], strict=True)), 3),
        "decode_speed_branches_over_merged_median": round(statistics.median(
            x / y for x, y in zip(b["decode_tok_s"], m["decode_tok_s"], strict=True)), 3),
        "greedy_tokens_alike_branches_vs_merged": f"{alike} of {len(tokens['merged'])}"}))


if __name__ == "__main__":
    main()
