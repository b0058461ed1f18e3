"""The ONNX decoder against transformers' LlamaForCausalLM on tiny random models."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from hearth.llm.files.quantize import quantize
from hearth.llm.model.config import LlamaConfig
from hearth.llm.model.decoder import build_decoder, io_names
from hearth.llm.model.weights import BlockQuantized, LlamaWeights
from tests.llm.model_fixtures import (
    empty_cache,
    greedy,
    load_into,
    run,
    session,
    tiny_hf_config,
    torch_greedy,
    torch_llama,
    weights_of,
)

MODES = ["fp32", "unpacked", "nbits"]
VARIANTS = [(mode, "plain") for mode in MODES] + [(mode, "gqa") for mode in MODES]


def quantized(weights: LlamaWeights) -> LlamaWeights:
    """4-bit linear layers, 8-bit embedding: what the converter stores for float checkpoints."""
    tensors = {k: (quantize(v, 8 if "embed" in k else 4) if v.ndim == 2 else v) for k, v in weights.tensors.items()}
    return LlamaWeights(weights.config, tensors)


@pytest.fixture(scope="module")
def tiny():
    model = torch_llama(tiny_hf_config())
    return model, weights_of(model)


@pytest.fixture(scope="module")
def graphs(tiny):
    """(mode, attention) -> (session, torch reference holding exactly the weights that graph stores)."""
    model, weights = tiny
    out = {}
    for mode in MODES:
        w = weights if mode == "fp32" else quantized(weights)
        reference = load_into(torch_llama(tiny_hf_config()), w)
        for attention in ("plain", "gqa"):
            out[mode, attention] = (session(build_decoder(w, weights_mode=mode, attention=attention)), reference)
    return out


def test_graph_passes_onnx_checker_and_names_io_like_onnx_community(tiny):
    _, weights = tiny
    model = onnx.load_from_string(build_decoder(weights, weights_mode="fp32"))
    onnx.checker.check_model(model)
    inputs, outputs = io_names(weights.config)
    assert [i.name for i in model.graph.input] == inputs
    assert [o.name for o in model.graph.output] == outputs
    assert inputs[:5] == ["input_ids", "attention_mask", "position_ids", "past_key_values.0.key",
                          "past_key_values.0.value"]
    dims = [d.dim_value or d.dim_param for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["batch_size", 1, 300]  # last position only
    assert {p.key: p.value for p in model.metadata_props}["hearth.logits"] == "last"


@pytest.mark.parametrize(("mode", "attention"), VARIANTS)
def test_prefill_logits_match_transformers(graphs, tiny, mode, attention):
    s, reference = graphs[mode, attention]
    config = tiny[1].config
    ids = torch.randint(0, config.vocab_size, (1, 120), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference(ids).logits[0, -1].numpy()
    logits, cache = run(s, config, ids.numpy(), np.ones((1, 120), np.int64), np.arange(120)[None], empty_cache(config))
    assert logits.shape == (1, 1, config.vocab_size)
    np.testing.assert_allclose(logits[0, 0], expected, atol=2e-4, rtol=1e-4)
    assert cache["past_key_values.1.key"].shape == (1, 2, 120, 16)


@pytest.mark.parametrize(("mode", "attention"), VARIANTS)
def test_kv_cache_gives_the_same_logits_as_one_pass(graphs, tiny, mode, attention):
    s, reference = graphs[mode, attention]
    config = tiny[1].config
    ids = torch.randint(0, config.vocab_size, (1, 100), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = reference(ids).logits[0].numpy()
    cache = empty_cache(config)
    logits, cache = run(s, config, ids[:, :70].numpy(), np.ones((1, 70), np.int64), np.arange(70)[None], cache)
    np.testing.assert_allclose(logits[0, 0], expected[69], atol=2e-4, rtol=1e-4)
    for t in range(70, 100):  # one token at a time, cache fed back
        logits, cache = run(s, config, ids[:, t : t + 1].numpy(), np.ones((1, t + 1), np.int64), np.array([[t]]), cache)
        np.testing.assert_allclose(logits[0, 0], expected[t], atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize(("mode", "attention"), VARIANTS)
def test_greedy_tokens_equal_transformers(graphs, tiny, mode, attention):
    s, reference = graphs[mode, attention]
    config = tiny[1].config
    prompt = [1, 17, 42, 99, 5, 250, 31]
    expected = torch_greedy(reference, prompt, 40)
    assert greedy(s, config, prompt, 40) == expected


def test_left_padded_batch_matches_each_sequence_alone(graphs, tiny):
    """attention_mask zeros (left padding) hide those positions; position_ids restart after the padding."""
    s, reference = graphs["fp32", "plain"]  # GroupQueryAttention reads the mask as lengths: no left padding
    config = tiny[1].config
    long = [5, 6, 7, 8, 9, 10, 11, 12]
    short = [20, 21, 22]
    ids = np.array([long, [0] * 5 + short], np.int64)
    mask = np.array([[1] * 8, [0] * 5 + [1] * 3], np.int64)
    positions = np.array([list(range(8)), [0] * 5 + [0, 1, 2]], np.int64)
    logits, cache = run(s, config, ids, mask, positions, empty_cache(config, batch=2))
    with torch.no_grad():
        for row, seq in enumerate((long, short)):
            expected = reference(torch.tensor([seq])).logits[0, -1].numpy()
            np.testing.assert_allclose(logits[row, 0], expected, atol=2e-4, rtol=1e-4)
    # one more step with the padded cache
    nxt = np.array([[30], [31]], np.int64)
    mask = np.concatenate([mask, np.ones((2, 1), np.int64)], axis=1)
    logits, _ = run(s, config, nxt, mask, np.array([[8], [3]], np.int64), cache)
    with torch.no_grad():
        expected = reference(torch.tensor([short + [31]])).logits[0, -1].numpy()
    np.testing.assert_allclose(logits[1, 0], expected, atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("overrides", [
    dict(num_key_value_heads=4, rope_scaling=None, rope_theta=10000.0, tie_word_embeddings=False),
    dict(num_key_value_heads=1, rope_scaling={"rope_type": "linear", "factor": 4.0}),
], ids=["mha-untied-default-rope", "mqa-linear-rope"])
def test_other_llama_shapes_match_transformers(overrides):
    model = torch_llama(tiny_hf_config(**overrides), seed=3)
    weights = weights_of(model)
    config = weights.config
    ids = torch.randint(0, config.vocab_size, (1, 64), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = model(ids).logits[0, -1].numpy()
    for mode in MODES:
        w = weights if mode == "fp32" else quantized(weights)
        reference = load_into(torch_llama(tiny_hf_config(**overrides)), w)
        with torch.no_grad():
            expected = reference(ids).logits[0, -1].numpy()
        logits, _ = run(session(build_decoder(w, weights_mode=mode)), config, ids.numpy(), np.ones((1, 64), np.int64),
                        np.arange(64)[None], empty_cache(config))
        np.testing.assert_allclose(logits[0, 0], expected, atol=2e-4, rtol=1e-4, err_msg=mode)


def test_rope_inverse_frequencies_equal_transformers_bit_for_bit():
    from transformers import LlamaConfig as HFConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    for extra in ({"rope_theta": 100000.0, "rope_scaling": None},
                  {"rope_theta": 500000.0, "rope_scaling": {**tiny_hf_config()["rope_scaling"],
                                                            "original_max_position_embeddings": 8192}}):
        hf = HFConfig(**tiny_hf_config(hidden_size=2048, num_attention_heads=32, num_key_value_heads=8, **extra))
        expected = LlamaRotaryEmbedding(hf).inv_freq.numpy()
        assert np.array_equal(LlamaConfig.from_hf(hf.to_dict()).inv_freq(), expected)


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_lm_head_in_vocabulary_chunks_gives_the_same_logits_and_embeddings(tied):
    """A large "nbits" head runs as several MatMulNBits (so wasm expands one chunk at a time): the
    logits must be the very same numbers, and tokens from every chunk (edges included) must embed
    exactly as before, in prefill and in decode."""
    from hearth.llm.model.layouts import head_chunks

    model = torch_llama(tiny_hf_config(tie_word_embeddings=tied), seed=5)
    w = quantized(weights_of(model))
    config = w.config
    assert head_chunks(config.vocab_size, config.hidden_size, 64) == [(0, 64), (64, 128), (128, 192), (192, 256),
                                                                      (256, 300)]
    assert len(head_chunks(49152, 576)) == 14  # SmolLM2's head
    assert len(head_chunks(128256, 2048)) == 126  # Llama 3's: 1,024 rows, 8 MB as float32
    whole = session(build_decoder(w, weights_mode="nbits", head_chunk_rows=config.vocab_size))
    chunked_bytes = build_decoder(w, weights_mode="nbits", head_chunk_rows=64)
    names = {i.name for i in onnx.load_from_string(chunked_bytes).graph.initializer}
    assert ("embed_tokens.hi4.4" in names) == tied and ("lm_head.4.q4" in names) == (not tied)
    ids = [0, 63, 64, 65, 127, 128, 200, 255, 256, 299, 1, 150]
    # then decode steps whose token sits in the last, a middle and the first chunk
    assert_same_outputs(whole, session(chunked_bytes), config, ids, steps=[299, 64, 0])


def assert_same_outputs(first, second, config, ids: list[int], steps: list[int], rtol: float = 0.0) -> None:
    """Both sessions give the same logits and KV cache (the very same with rtol=0) for a prefill of `ids`,
    then for each decode step."""
    def same(a: np.ndarray, b: np.ndarray) -> None:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol / 10)

    n = len(ids)
    start = (np.array([ids], np.int64), np.ones((1, n), np.int64), np.arange(n)[None])
    a, cache_a = run(first, config, *start, empty_cache(config))
    b, cache_b = run(second, config, *start, empty_cache(config))
    same(a, b)
    for name in cache_a:
        same(cache_a[name], cache_b[name])
    for t, token in enumerate(steps):
        step = np.array([[token]], np.int64)
        mask, pos = np.ones((1, n + t + 1), np.int64), np.array([[n + t]])
        a, cache_a = run(first, config, step, mask, pos, cache_a)
        b, cache_b = run(second, config, step, mask, pos, cache_b)
        same(a, b)


@pytest.mark.parametrize("source", ["q4_0", "q4_1"])
def test_linear_layers_in_row_chunks_give_the_same_logits(source):
    """"nbits" layers split by output rows into several MatMulNBits (so wasm expands a few MB at a
    time): the same logits and KV cache as one MatMulNBits per layer, Q4_1 minima included. Up to float
    rounding: onnxruntime's one-token kernel sums a narrower weight in another order (2.4e-7 seen here)."""
    from hearth.llm.model.layouts import row_chunks

    assert row_chunks(16384, 2048, 2 << 20) == [(a, a + 256) for a in range(0, 16384, 256)]
    assert row_chunks(10, 4, 64) == [(0, 4), (4, 8), (8, 10)]
    model = torch_llama(tiny_hf_config(), seed=6)
    w = quantized(weights_of(model))
    if source == "q4_1":  # GGUF Q4_1's form: a float minimum per block (w = d*q + m)
        rng = np.random.default_rng(6)
        w = LlamaWeights(w.config, {k: BlockQuantized(v.codes, v.scale, 4, v.block, offset=rng.normal(
            0, 0.01, v.scale.shape).astype(np.float32)) if isinstance(v, BlockQuantized) and v.bits == 4 else v
            for k, v in w.tensors.items()})
    config = w.config
    whole_bytes = build_decoder(w, weights_mode="nbits", linear_chunk_bytes=1 << 30)
    chunked_bytes = build_decoder(w, weights_mode="nbits", linear_chunk_bytes=16 * config.hidden_size * 4)
    count = [sum(n.op_type == "MatMulNBits" for n in onnx.load_from_string(b).graph.node)
             for b in (whole_bytes, chunked_bytes)]
    assert count[1] > 2 * count[0]
    assert_same_outputs(session(whole_bytes), session(chunked_bytes), config, [1, 17, 200, 3, 99, 42, 7], steps=[5, 250],
                        rtol=1e-5)


# The graph's bytes for fixed weights, pinned: a refactor of decoder.py or layouts.py must build the very
# same file (a built model's sha256 is part of what a download checks and what a cache key finds). A
# change meant to alter the graph updates these, and says why in its commit.
PINNED_SHA256 = {
    ("fp32", "plain"): "9c66f29fb6280949e2d227f459515a59715e197d644bfd01d2dba450d437ddba",
    ("fp32", "gqa"): "76b5d1ff48d76b0170f4d6215042762d6f097da78dfd4fa3544ade5cd6682427",
    ("unpacked", "plain"): "6ff1ac55973172064d98fb13d641b7395e46da8c64372bc0d68726dfe1612f8d",
    ("unpacked", "gqa"): "0e3f9a64befc5864aa78c201f21c3b10a42e73f353533a242be64bef7a57014a",
    ("nbits", "plain"): "f50ff5bfdea92c24f25b9579b7a9767707b89f353db32c893b4efb0f0e574adc",
    ("nbits", "gqa"): "7ca5ddce0e2a6c55bf1f8f801fb08d55bb5791b52ec026b11375542c1a9e5141",
}


@pytest.mark.parametrize("mode, attention", sorted(PINNED_SHA256))
def test_the_graph_bytes_stay_the_same_for_the_same_weights(mode: str, attention: str) -> None:
    import hashlib

    from tests.llm.model_fixtures import random_quantized_weights, small_quantized_hf_config

    weights = random_quantized_weights(small_quantized_hf_config(vocab_size=1000), seed=0)
    built = build_decoder(weights, weights_mode=mode, attention=attention, head_chunk_rows=300)
    assert hashlib.sha256(built).hexdigest() == PINNED_SHA256[mode, attention]


@pytest.mark.parametrize("mode", MODES)
def test_lora_branches_give_the_logits_of_the_merged_weights(tiny, mode: str) -> None:
    """build_decoder(lora=): y = x W^T + (x A^T) B^T beside the stored weights equals the graph of W + B A
    (fp32), on every kind of layer (fused q/k/v and gate/up with some of their parts adapted, o, down)."""
    from hearth.llm.model.weights import as_float, layer_names

    _, weights = tiny
    base = weights if mode == "fp32" else quantized(weights)
    rng = np.random.default_rng(1)
    lora = {}
    for i in range(base.config.num_hidden_layers):
        for role in ("q", "v", "o", "up", "down"):  # k and gate left out: a fused matmul with a part unadapted
            name = layer_names(i)[role]
            rows, cols = base[name].shape
            lora[name] = (rng.normal(0, 0.2, (3, cols)).astype(np.float32),
                          rng.normal(0, 0.2, (rows, 3)).astype(np.float32))
    merged = LlamaWeights(base.config, {k: (as_float(v) + lora[k][1] @ lora[k][0] if k in lora else v)
                                        for k, v in base.tensors.items()})
    with_branches = session(build_decoder(base, weights_mode=mode, lora=lora))
    reference = session(build_decoder(merged, weights_mode="fp32"))
    plain = session(build_decoder(base, weights_mode=mode))
    config, prompt = base.config, [1, 17, 200, 3, 99, 42, 7]
    ids, mask, pos = np.array([prompt]), np.ones((1, len(prompt)), np.int64), np.arange(len(prompt))[None]
    got = run(with_branches, config, ids, mask, pos, empty_cache(config))[0]
    want = run(reference, config, ids, mask, pos, empty_cache(config))[0]
    without = run(plain, config, ids, mask, pos, empty_cache(config))[0]
    assert np.abs(want - without).max() > 0.1  # the branches matter
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
