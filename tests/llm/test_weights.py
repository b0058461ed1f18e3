"""Reading weights: GGUF blocks and q/k row order, safetensors, our quantizer, config parsing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter
from gguf.quants import dequantize
from gguf.quants import quantize as gguf_quantize

from hearth.llm.files.gguf_weights import decode_q4_0, decode_q4_1, decode_q8_0, read_gguf
from hearth.llm.files.quantize import quantize_q4, quantize_q8
from hearth.llm.files.safetensors import read_checkpoint, read_safetensors
from hearth.llm.model.config import LlamaConfig, ModelConfigError
from hearth.llm.model.decoder import build_decoder
from hearth.llm.model.weights import WeightsError, as_float
from tests.llm.model_fixtures import greedy, session, tiny_hf_config, torch_greedy, torch_llama

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(("kind", "decode"), [(Q.Q4_0, decode_q4_0), (Q.Q4_1, decode_q4_1), (Q.Q8_0, decode_q8_0)])
def test_gguf_blocks_dequantize_exactly_like_gguf_py(kind, decode):
    w = RNG.standard_normal((48, 96)).astype(np.float32)
    raw = gguf_quantize(w, kind)
    ours = decode(raw, 48)
    assert ours.shape == (48, 96) and ours.block == 32
    assert np.array_equal(ours.dequantize(), dequantize(raw, kind))


# ---------------------------------------------------------------- a tiny GGUF, written the way llama.cpp does


def _llama_cpp_permute(w: np.ndarray, heads: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute: HF rotate-half rows -> llama.cpp's interleaved pairs."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
              "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}


def write_tiny_gguf(model, path: Path) -> None:
    c = model.config
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_block_count(c.num_hidden_layers)
    writer.add_context_length(c.max_position_embeddings)
    writer.add_embedding_length(c.hidden_size)
    writer.add_feed_forward_length(c.intermediate_size)
    writer.add_head_count(c.num_attention_heads)
    writer.add_head_count_kv(c.num_key_value_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(c.rms_norm_eps)
    writer.add_vocab_size(c.vocab_size)
    kinds = [Q.Q4_1, Q.Q4_0, Q.Q8_0]  # a mix, as real files have
    for n, (name, p) in enumerate(model.state_dict().items()):
        w = p.numpy()
        if name == "lm_head.weight":
            continue
        if name == "model.embed_tokens.weight":
            writer.add_tensor("token_embd.weight", gguf_quantize(w, Q.Q8_0), raw_dtype=Q.Q8_0)
            continue
        if name == "model.norm.weight":
            writer.add_tensor("output_norm.weight", w)
            continue
        _, _, layer, *rest = name.split(".")
        role = GGUF_NAMES[".".join(rest[:-1])]
        if role == "attn_q":
            w = _llama_cpp_permute(w, c.num_attention_heads)
        elif role == "attn_k":
            w = _llama_cpp_permute(w, c.num_key_value_heads)
        if w.ndim == 1:
            writer.add_tensor(f"blk.{layer}.{role}.weight", w)
        else:
            kind = kinds[n % 3]
            writer.add_tensor(f"blk.{layer}.{role}.weight", gguf_quantize(w, kind), raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    config = tiny_hf_config(rope_scaling=None, rope_theta=10000.0, num_attention_heads=4, num_key_value_heads=2)
    model = torch_llama(config, seed=5)
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_tiny_gguf(model, path)
    return path


def test_gguf_weights_equal_transformers_gguf_loader(tiny_gguf):
    """transformers undoes llama.cpp's q/k permutation with its own code; our rows must land the same."""
    from transformers import AutoModelForCausalLM

    weights, meta = read_gguf(tiny_gguf)
    assert meta["general.architecture"] == "llama"
    assert weights.config.num_key_value_heads == 2 and weights.config.tie_word_embeddings
    hf = AutoModelForCausalLM.from_pretrained(str(tiny_gguf.parent), gguf_file=tiny_gguf.name, dtype=torch.float32)
    for name, tensor in hf.state_dict().items():
        if name == "lm_head.weight":
            continue
        assert np.array_equal(as_float(weights[name]), tensor.numpy()), name


@pytest.mark.parametrize("mode", ["fp32", "unpacked", "nbits"])
def test_gguf_decoder_greedy_equals_transformers_on_the_gguf(tiny_gguf, mode):
    from transformers import AutoModelForCausalLM

    weights, _ = read_gguf(tiny_gguf)
    hf = AutoModelForCausalLM.from_pretrained(str(tiny_gguf.parent), gguf_file=tiny_gguf.name,
                                              dtype=torch.float32).eval()
    prompt = [3, 14, 15, 92, 65]
    expected = torch_greedy(hf, prompt, 24)
    assert greedy(session(build_decoder(weights, weights_mode=mode)), weights.config, prompt, 24) == expected


def test_unknown_gguf_architecture_is_refused(tmp_path):
    writer = GGUFWriter(str(tmp_path / "x.gguf"), "gpt2")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(WeightsError, match="'gpt2' model; Hearth converts 'llama'"):
        read_gguf(tmp_path / "x.gguf")


# ---------------------------------------------------------------- safetensors


def test_safetensors_reader_matches_the_safetensors_package(tmp_path):
    from safetensors.torch import save_file

    tensors = {
        "a": torch.randn(3, 5),
        "b16": torch.randn(7, 2).to(torch.bfloat16),
        "h": torch.randn(4).to(torch.float16),
        "i": torch.arange(6, dtype=torch.int64).reshape(2, 3),
    }
    save_file(tensors, str(tmp_path / "m.safetensors"), metadata={"format": "pt"})
    ours = read_safetensors((tmp_path / "m.safetensors").read_bytes())
    assert set(ours) == set(tensors)
    for name, t in tensors.items():
        expected = t.float().numpy() if t.is_floating_point() else t.numpy()
        assert ours[name].dtype == expected.dtype and np.array_equal(ours[name], expected), name


def test_truncated_safetensors_says_so(tmp_path):
    from safetensors.torch import save_file

    save_file({"a": torch.randn(100)}, str(tmp_path / "m.safetensors"))
    data = (tmp_path / "m.safetensors").read_bytes()
    with pytest.raises(WeightsError, match="truncated"):
        read_safetensors(data[:20])


def test_checkpoint_missing_a_tensor_names_it(tmp_path):
    model = torch_llama(tiny_hf_config())
    model.save_pretrained(tmp_path)
    weights, _ = read_checkpoint(tmp_path)
    assert np.array_equal(weights["model.layers.1.mlp.down_proj.weight"],
                          model.model.layers[1].mlp.down_proj.weight.detach().numpy())
    from safetensors.torch import load_file, save_file

    state = load_file(str(tmp_path / "model.safetensors"))
    del state["model.layers.1.mlp.up_proj.weight"]
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(WeightsError, match=r"model\.layers\.1\.mlp\.up_proj\.weight"):
        read_checkpoint(tmp_path)


def test_not_a_llama_config_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
                                                      "vocab_size": 10}))
    with pytest.raises(ModelConfigError, match="Llama-architecture models only"):
        read_checkpoint(tmp_path)
    with pytest.raises(ModelConfigError, match="rope scaling 'yarn' is not supported"):
        LlamaConfig.from_hf(tiny_hf_config(rope_scaling={"rope_type": "yarn", "factor": 2.0}))


def test_transformers5_rope_parameters_are_read():
    config = tiny_hf_config(rope_scaling=None)
    config.pop("rope_theta")
    config["rope_parameters"] = {"rope_theta": 250000.0, "rope_type": "default"}
    parsed = LlamaConfig.from_hf(config)
    assert parsed.rope_theta == 250000.0 and parsed.rope_scaling is None
    assert LlamaConfig.from_hf(parsed.to_hf()) == parsed


# ---------------------------------------------------------------- our quantizer


def test_quantizers_stay_within_half_a_step_and_keep_zero_exact():
    w = RNG.standard_normal((64, 128)).astype(np.float32)
    w[0, :32] = 0.0
    for q, levels in ((quantize_q4(w), 15), (quantize_q8(w), 254)):
        error = np.abs(q.dequantize() - w).reshape(64, 4, 32)
        step = q.scale[..., None]
        assert np.all(error <= step / 2 + 1e-6), levels
        assert np.all(q.dequantize()[0, :32] == 0.0)
        assert q.codes.max() <= (15 if levels == 15 else 255)


def test_convert_model_command_takes_a_gguf(tiny_gguf, tmp_path):
    import argparse

    from hearth.llm.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["convert-model", str(tiny_gguf), str(tmp_path), "--quant", "q4"])
    assert args.run(args) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["source"] == {"kind": "gguf", "file": "tiny.gguf",
                                  "sha256": hashlib.sha256(tiny_gguf.read_bytes()).hexdigest()}
    weights, _ = read_gguf(tiny_gguf)
    expected = greedy(session(build_decoder(weights, weights_mode="fp32")), weights.config, [7, 8, 9], 16)
    converted = session((tmp_path / "onnx" / "model_q4.onnx").read_bytes())
    assert greedy(converted, weights.config, [7, 8, 9], 16) == expected
