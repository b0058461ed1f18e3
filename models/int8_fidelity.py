"""How far 8-bit integer layouts move SmolLM2's logits, and whether they keep the reference's tokens.

    .venv/bin/python models/int8_fidelity.py [--variants s7,s7-float,...] [--calibration ACI-BENCH/train.csv]

A measurement for models/README.md (issue: Llama-3.2-1B at reading speed on CPU), not product code. Every
variant changes only how the linear layers are stored and multiplied (the token table stays the exact
Q8_0 one), by swapping `WeightStore.linear` while the graph is built. Each runs teacher-forced over the
six cases of models/reference/smollm2_greedy.json: the prompt is read, then the reference's greedy
tokens are fed one at a time, and at every position the variant's top token is compared with the
reference's. Printed per variant: positions where the top token differs (of all positions), and the
logits' RMS error against the exact graph relative to the logits' spread (mean and worst position).
Also printed: the smallest top-1/top-2 logit gap on the reference paths, the precision that keeping
the reference's tokens asks for.

Variants (weights per output row; activations as the kernel sees them):
  s7           int8 in 63 steps (the "int8" layout before 2026-12-08), DynamicQuantizeMatMul (8-bit
               activations per call: one scale for all the tokens of a prompt)
  u8           uint8 with a zero point, 255 steps, DynamicQuantizeMatMul
  s7-float, u8-float   the same rounded weights, float activations (the weights' share of the error)
  s7-token, u8-token   8-bit activations per token (MatMulInteger; one scale per row of the prompt)
  layout       the "int8" layout itself as the converter writes it: u8-token, and its token table too
  u8-token-smooth-A    u8-token after SmoothQuant's channel scaling with alpha A: x / s, W * s, with
               s = max|x|^A / max|W|^(1-A) per input channel, max|x| read from --calibration visits
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "pysrc"), str(REPO)]

import hearth.llm.model.layouts as layouts  # noqa: E402
from hearth.llm.files.builtin_models import smollm2_gguf  # noqa: E402
from hearth.llm.files.convert import prepare_weights  # noqa: E402
from hearth.llm.files.gguf_weights import read_gguf  # noqa: E402
from hearth.llm.model.decoder import build_decoder  # noqa: E402
from tests.llm.model_fixtures import empty_cache, run, session  # noqa: E402

REFERENCE = json.loads((REPO / "models/reference/smollm2_greedy.json").read_text())
MS = "com.microsoft"
VARIANTS = ["s7", "s7-float", "u8", "u8-float", "s7-token", "u8-token", "u8-token-smooth-0.5", "u8-token-smooth-0.7",
            "layout"]


# ---------------------------------------------------------------- weight rounding


def s7_rows(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The "int8" layout until 2026-12-08: int8 in 63 steps either side of 0, one scale per row."""
    scale = np.abs(f).max(axis=1) / np.float32(63)
    scale = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)
    return np.clip(np.rint(f / scale[:, None]), -63, 63).astype(np.int8), scale, np.zeros(f.shape[0], np.int8)


def u8_rows(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return layouts.uint8_channels(f)


# ---------------------------------------------------------------- the swapped linear layer


def make_linear(variant: str, act_max: dict[str, np.ndarray]):
    original = layouts.WeightStore.linear
    rows = u8_rows if variant.startswith("u8") else s7_rows

    def linear(self, x: str, name: str, w):
        if not isinstance(w, layouts.BlockQuantized):
            return original(self, x, name, w)
        g, f = self.g, layouts.as_float(w)
        if "-smooth-" in variant:
            alpha = float(variant.rsplit("-", 1)[1])
            s = np.maximum(act_max[name], 1e-5) ** alpha / np.maximum(np.abs(f).max(axis=0), 1e-5) ** (1 - alpha)
            s = np.clip(s, 1e-2, 1e3).astype(np.float32)
            f = f * s[None, :]
            x = g.op("Mul", x, g.initializer(f"{name}.smooth", (1 / s).astype(np.float32)))
        codes, scale, zero = rows(f)
        if variant.endswith("-float"):
            rounded = (codes.astype(np.float32) - zero[:, None].astype(np.float32)) * scale[:, None]
            return g.op("MatMul", x, g.initializer(name, np.ascontiguousarray(rounded.T)))
        b = g.initializer(f"{name}.codes", np.ascontiguousarray(codes.T))
        if "-token" not in variant:
            return g.op("DynamicQuantizeMatMul", x, b, g.initializer(f"{name}.scale", scale),
                        g.initializer(f"{name}.zero", zero), domain=MS)
        # 8-bit activations with one scale per token: the layout's own products
        return self.int8_matmul(x, b, g.initializer(f"{name}.scale", scale), g.initializer(f"{name}.zero", zero),
                                f.shape[1])

    return linear


# ---------------------------------------------------------------- calibration and teacher forcing


def activation_max(weights, calibration: Path, visits: int = 4) -> dict[str, np.ndarray]:
    """max |input| per channel of every linear layer (by its graph name) over a few visits, from torch."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from hearth.llm.files.gguf_tokenizer import write_tokenizer_files
    from hearth.llm.text.tokenizer import Tokenizer
    from tests.llm.model_fixtures import load_into

    model = LlamaForCausalLM(LlamaConfig(**weights.config.to_hf())).eval()
    load_into(model, weights)
    out_dir = Path(__import__("tempfile").mkdtemp())
    write_tokenizer_files(smollm2_gguf(), out_dir)
    tokenizer = Tokenizer.from_file(out_dir / "tokenizer.json")
    stats: dict[str, np.ndarray] = {}

    def hook(name: str):
        def record(module, inputs):
            a = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(0).numpy()
            stats[name] = np.maximum(stats.get(name, 0), a)
        return record

    for i, layer in enumerate(model.model.layers):
        layer.self_attn.q_proj.register_forward_pre_hook(hook(f"layers.{i}.qkv_proj"))
        layer.self_attn.o_proj.register_forward_pre_hook(hook(f"layers.{i}.o_proj"))
        layer.mlp.gate_proj.register_forward_pre_hook(hook(f"layers.{i}.gate_up_proj"))
        layer.mlp.down_proj.register_forward_pre_hook(hook(f"layers.{i}.down_proj"))
    with calibration.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:visits]
    with torch.no_grad():
        for row in rows:
            model(torch.tensor([tokenizer.encode(row["dialogue"])[:1500]]))
    return stats


def forced(sess, config, case: dict, n: int) -> np.ndarray:
    """Logits at each of the reference's first n generated positions, fed the reference's tokens."""
    prompt, ref = case["prompt_ids"], case["greedy_ids"][:n]
    p = len(prompt)
    logits, cache = run(sess, config, np.array([prompt], np.int64), np.ones((1, p), np.int64), np.arange(p)[None],
                        empty_cache(config))
    out = [logits[0, -1]]
    for j, token in enumerate(ref[:-1]):
        logits, cache = run(sess, config, np.array([[token]], np.int64), np.ones((1, p + j + 1), np.int64),
                            np.array([[p + j]]), cache)
        out.append(logits[0, -1])
    return np.stack(out)


def cases() -> list[tuple[dict, int]]:
    return [(c, 64 if c["name"] == "aci_bench_summary" else c["max_new_tokens"]) for c in REFERENCE["cases"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--calibration", type=Path, default=None,
                        help="visits (a CSV with a 'dialogue' column, e.g. ACI-Bench train.csv) whose activations set "
                             "SmoothQuant's scales; needed by the -smooth- variants")
    args = parser.parse_args()
    variants = args.variants.split(",")
    if any("smooth" in v for v in variants) and args.calibration is None:
        parser.error("the -smooth- variants need --calibration VISITS.csv")
    weights = prepare_weights(read_gguf(smollm2_gguf())[0], "int8")
    config = weights.config
    act_max = activation_max(weights, args.calibration) if any("smooth" in v for v in variants) else {}

    exact_session = session(build_decoder(weights, weights_mode="unpacked"))
    exact = [forced(exact_session, config, c, n) for c, n in cases()]
    del exact_session
    gaps = [np.diff(np.sort(e, axis=-1)[:, -2:], axis=-1).min() for e in exact]
    spread = np.mean([e.std(axis=-1).mean() for e in exact])
    print(f"smallest top-1/top-2 gap on the reference paths: {min(gaps):.3f} (logit spread {spread:.2f})")
    print("| variant | top token differs | logit RMS error / spread, mean | worst |")
    print("|---|---:|---:|---:|")
    original = layouts.WeightStore.linear
    for variant in variants:
        if variant != "layout":
            layouts.WeightStore.linear = make_linear(variant, act_max)
        try:
            sess = session(build_decoder(weights, weights_mode="int8" if variant == "layout" else "unpacked"))
        finally:
            layouts.WeightStore.linear = original
        differ = total = 0
        errors = []
        for (case, n), ex in zip(cases(), exact, strict=True):
            got = forced(sess, config, case, n)
            differ += int((got.argmax(-1) != np.asarray(case["greedy_ids"][:n])).sum())
            total += len(got)
            errors.append(np.sqrt(((got - ex) ** 2).mean(-1)) / ex.std(-1))
        e = np.concatenate(errors)
        print(f"| {variant} | {differ} of {total} | {e.mean():.3f} | {e.max():.3f} |", flush=True)


if __name__ == "__main__":
    main()
