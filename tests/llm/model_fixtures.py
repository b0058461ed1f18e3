"""Tiny random-weight Llama models from transformers (the float reference), and a plain decoder loop.

Imported by the model tests (not a conftest: the tokenizer tests own that file).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort

from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.weights import EMBED, LM_HEAD, LlamaWeights, as_float

LLAMA3_ROPE = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 32}


def tiny_hf_config(**overrides: Any) -> dict[str, Any]:
    """GQA (4 query heads, 2 KV heads), llama3 rope scaling with a short original context so that
    the scaled, smoothed and unscaled frequency bands all occur within the test's positions."""
    config = dict(vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  rope_theta=500000.0, rope_scaling=LLAMA3_ROPE, tie_word_embeddings=True,
                  rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, model_type="llama",
                  architectures=["LlamaForCausalLM"])
    config.update(overrides)
    return config


def torch_llama(config: dict[str, Any], seed: int = 0) -> Any:
    import torch
    from transformers import LlamaConfig as HFConfig
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(HFConfig(**config)).eval()
    with torch.no_grad():  # random init has tiny weights; widen them so logits differ clearly between tokens
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0, 0.08)
    return model


def weights_of(model: Any) -> LlamaWeights:
    config = LlamaConfig.from_hf(model.config.to_dict())
    tensors = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    if config.tie_word_embeddings:
        tensors.pop(LM_HEAD, None)
    return LlamaWeights(config, tensors).validate()


def load_into(model: Any, weights: LlamaWeights) -> Any:
    """Put (dequantized) weights into the torch model, so it is the reference for quantized graphs."""
    import torch

    state = {k: torch.tensor(as_float(weights.tensors.get(k, weights.tensors[EMBED]))) for k in model.state_dict()}
    model.load_state_dict(state)
    return model


def session(model_bytes: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def empty_cache(config: LlamaConfig, batch: int = 1) -> dict[str, np.ndarray]:
    empty = np.zeros((batch, config.num_key_value_heads, 0, config.head_dim), np.float32)
    return {f"past_key_values.{i}.{kv}": empty for i in range(config.num_hidden_layers) for kv in ("key", "value")}


def run(s: ort.InferenceSession, config: LlamaConfig, ids: np.ndarray, mask: np.ndarray, positions: np.ndarray,
        cache: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One decoder call; returns logits and the next call's past_key_values."""
    names = [o.name for o in s.get_outputs()]
    out = dict(zip(names, s.run(None, {"input_ids": ids, "attention_mask": mask, "position_ids": positions,
                                         **cache}), strict=True))
    nxt = {f"past_key_values.{i}.{kv}": out[f"present.{i}.{kv}"]
           for i in range(config.num_hidden_layers) for kv in ("key", "value")}
    return out["logits"], nxt


def greedy(s: ort.InferenceSession, config: LlamaConfig, prompt: list[int], n: int) -> list[int]:
    cache = empty_cache(config)
    ids = np.array([prompt], np.int64)
    start, out = 0, []
    for _ in range(n):
        total = start + ids.shape[1]
        logits, cache = run(s, config, ids, np.ones((1, total), np.int64),
                            np.arange(start, total, dtype=np.int64)[None], cache)
        out.append(int(np.argmax(logits[0, -1])))
        start, ids = total, np.array([[out[-1]]], np.int64)
    return out


def torch_greedy(model: Any, prompt: list[int], n: int) -> list[int]:
    """transformers' forward, argmax, no cache and no end-of-text handling: n tokens, whatever they are."""
    import torch

    ids = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[len(prompt):]


def small_quantized_hf_config(vocab_size: int) -> dict[str, Any]:
    """A small Llama (2 layers, hidden 128, GQA) for tests that need quantized weights but no PyTorch."""
    return dict(vocab_size=vocab_size, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
                max_position_embeddings=512, tie_word_embeddings=True, model_type="llama", bos_token_id=1,
                eos_token_id=2)


def random_quantized_weights(hf: dict[str, Any], seed: int) -> LlamaWeights:
    """Random weights stored as the converter stores them: 4-bit linear layers, 8-bit tied embedding."""
    from hearth.llm.files.quantize import quantize_q4, quantize_q8
    from hearth.llm.model.weights import FINAL_NORM, layer_names

    c = LlamaConfig.from_hf(hf)
    rng = np.random.default_rng(seed)
    hidden, q_out = c.hidden_size, c.num_attention_heads * c.head_dim
    kv_out = c.num_key_value_heads * c.head_dim
    t: dict[str, Any] = {EMBED: quantize_q8(rng.normal(0, 0.5, (c.vocab_size, hidden)).astype(np.float32)),
                         FINAL_NORM: np.ones(hidden, np.float32)}
    for i in range(c.num_hidden_layers):
        n = layer_names(i)
        for role, shape in {"q": (q_out, hidden), "k": (kv_out, hidden), "v": (kv_out, hidden), "o": (hidden, q_out),
                            "gate": (c.intermediate_size, hidden), "up": (c.intermediate_size, hidden),
                            "down": (hidden, c.intermediate_size)}.items():
            t[n[role]] = quantize_q4(rng.normal(0, 0.1, shape).astype(np.float32))
        t[n["attn_norm"]] = t[n["mlp_norm"]] = np.ones(hidden, np.float32)
    return LlamaWeights(c, t).validate()
