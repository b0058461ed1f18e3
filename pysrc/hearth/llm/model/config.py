"""The shape of a Llama-family model, read from (and written back to) a Hugging Face `config.json`.

Why a dataclass of our own: GGUF files, HF checkpoints and the onnx-community exports all describe
the same handful of numbers under different keys (and transformers 5 renamed `rope_scaling` to
`rope_parameters`); everything downstream (the decoder graph, generation, the converter) reads
them from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class ModelConfigError(ValueError):
    """A config.json that does not describe a Llama model Hearth can run."""


SUPPORTED_ARCHITECTURES = ("llama", "LlamaForCausalLM", "mistral", "MistralForCausalLM")


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: dict[str, Any] | None = None
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def groups(self) -> int:
        """Query heads per key/value head (grouped-query attention)."""
        return self.num_attention_heads // self.num_key_value_heads

    @classmethod
    def from_hf(cls, config: dict[str, Any]) -> LlamaConfig:
        """From a Hugging Face config.json dict (transformers 4 or 5 spelling)."""
        model_type = config.get("model_type", "llama")
        architectures = config.get("architectures") or []
        if model_type not in SUPPORTED_ARCHITECTURES and not any(a in SUPPORTED_ARCHITECTURES for a in architectures):
            raise ModelConfigError(
                f"config.json describes a {model_type!r} model ({architectures}); Hearth runs Llama-architecture "
                "models only (model_type 'llama')."
            )
        missing = [k for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                               "num_attention_heads") if k not in config]
        if missing:
            raise ModelConfigError(f"config.json lacks {', '.join(missing)}; is it a Llama model's config?")
        heads = int(config["num_attention_heads"])
        kv_heads = int(config.get("num_key_value_heads") or heads)
        head_dim = int(config.get("head_dim") or config["hidden_size"] // heads)
        if heads % kv_heads:
            raise ModelConfigError(
                f"num_attention_heads ({heads}) is not a multiple of num_key_value_heads ({kv_heads})")
        rope = dict(config.get("rope_parameters") or {})
        theta = float(config.get("rope_theta", rope.pop("rope_theta", 10000.0)))
        rope.pop("rope_theta", None)
        scaling = config.get("rope_scaling") or (rope if rope.get("rope_type", "default") != "default" else None)
        if scaling is not None:
            scaling = dict(scaling)
            kind = scaling.get("rope_type", scaling.get("type", "default"))
            scaling["rope_type"] = kind
            if kind not in ("default", "linear", "llama3"):
                raise ModelConfigError(f"rope scaling {kind!r} is not supported; Hearth supports 'linear' and 'llama3'")
            if kind == "default":
                scaling = None
        if config.get("attention_bias") or config.get("mlp_bias"):
            raise ModelConfigError("attention/MLP biases are not supported (attention_bias/mlp_bias must be false)")
        known = set(cls.__dataclass_fields__) | {"rope_parameters", "model_type", "architectures"}
        return cls(
            vocab_size=int(config["vocab_size"]),
            hidden_size=int(config["hidden_size"]),
            intermediate_size=int(config["intermediate_size"]),
            num_hidden_layers=int(config["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            head_dim=head_dim,
            rms_norm_eps=float(config.get("rms_norm_eps", 1e-5)),
            rope_theta=theta,
            rope_scaling=scaling,
            max_position_embeddings=int(config.get("max_position_embeddings", 2048)),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            bos_token_id=config.get("bos_token_id"),
            eos_token_id=config.get("eos_token_id"),
            pad_token_id=config.get("pad_token_id"),
            extra={k: v for k, v in config.items() if k not in known},
        )

    def to_hf(self) -> dict[str, Any]:
        """A config.json in the transformers 4 spelling, which transformers.js and onnx-community read."""
        out: dict[str, Any] = {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": self.rope_scaling,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "attention_bias": False,
            "mlp_bias": False,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "use_cache": True,
        }
        out.update({k: v for k, v in self.extra.items() if k not in out and k != "quantization_config"})
        return out

    def inv_freq(self) -> np.ndarray:
        """RoPE inverse frequencies (float32, head_dim/2), with linear or llama3 scaling.

        Same arithmetic as transformers' rope init functions, so positions rotate identically.
        """
        dim = self.head_dim
        exponents = np.arange(0, dim, 2, dtype=np.int64).astype(np.float32) / np.float32(dim)
        # torch rounds theta**e to float32 before the reciprocal; doing the same keeps every bit equal.
        inv = np.float32(1.0) / (np.float64(self.rope_theta) ** exponents.astype(np.float64)).astype(np.float32)
        scaling = self.rope_scaling or {}
        kind = scaling.get("rope_type", "default")
        if kind == "linear":
            return (inv / np.float32(scaling["factor"])).astype(np.float32)
        if kind == "llama3":
            factor = float(scaling["factor"])
            low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
            old_context = float(scaling["original_max_position_embeddings"])
            low_wavelen, high_wavelen = old_context / low, old_context / high
            wavelen = np.float32(2 * math.pi) / inv
            scaled = np.where(wavelen > low_wavelen, inv / np.float32(factor), inv).astype(np.float32)
            smooth = ((old_context / wavelen - low) / (high - low)).astype(np.float32)
            smoothed = ((1 - smooth) * scaled / np.float32(factor) + smooth * scaled).astype(np.float32)
            medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
            return np.where(medium, smoothed, scaled).astype(np.float32)
        return inv
