"""convert-model on a tiny random Hugging Face checkpoint, through the command line."""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np
import onnx
import pytest
import torch

from hearth.llm.cli import register
from hearth.llm.files.convert import QUANTS, prepare_weights
from hearth.llm.files.safetensors import read_checkpoint
from hearth.llm.model.config import LlamaConfig
from tests.llm.model_fixtures import greedy, session, tiny_hf_config, torch_greedy, torch_llama


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.run(args)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf")
    model = torch_llama(tiny_hf_config(tie_word_embeddings=False), seed=7)
    model.save_pretrained(folder)  # config.json + model.safetensors
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>", "chat_template": "{{ x }}"}))
    return folder, model


@pytest.fixture(scope="module")
def converted(checkpoint, tmp_path_factory):
    folder, _ = checkpoint
    out = tmp_path_factory.mktemp("out")
    quants = ["--quant", "q4-unpacked", "--quant", "fp32", "--quant", "q4"]
    assert cli("convert-model", str(folder), str(out), *quants) == 0
    return out


def test_writes_an_onnx_community_layout_with_a_checked_manifest(converted):
    manifest = json.loads((converted / "manifest.json").read_text())
    assert manifest["default_onnx"] == "onnx/model_q4_unpacked.onnx"
    assert set(manifest["files"]) == {"config.json", "generation_config.json", "tokenizer_config.json",
                                      "onnx/model_q4_unpacked.onnx", "onnx/model.onnx", "onnx/model_q4.onnx"}
    for name, info in manifest["files"].items():
        data = (converted / name).read_bytes()
        assert info["size"] == len(data) and info["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["source"]["kind"] == "safetensors" and "model.safetensors" in manifest["source"]["files"]
    config = json.loads((converted / "config.json").read_text())
    assert config["num_key_value_heads"] == 2 and config["rope_scaling"]["rope_type"] == "llama3"
    assert json.loads((converted / "tokenizer_config.json").read_text())["eos_token"] == "</s>"
    sizes = {name: info["size"] for name, info in manifest["files"].items()}
    assert sizes["onnx/model_q4_unpacked.onnx"] < sizes["onnx/model.onnx"] / 3


def test_fp32_conversion_generates_what_transformers_generates(checkpoint, converted):
    _, model = checkpoint
    config = LlamaConfig.from_hf(json.loads((converted / "config.json").read_text()))
    prompt = [1, 50, 60, 70, 80]
    expected = torch_greedy(model, prompt, 30)
    s = session((converted / "onnx" / "model.onnx").read_bytes())
    assert greedy(s, config, prompt, 30) == expected


@pytest.mark.parametrize("quant", ["q4-unpacked", "q4"])
def test_quantized_conversions_equal_transformers_on_the_quantized_weights(checkpoint, converted, quant):
    folder, _ = checkpoint
    weights, hf_config = read_checkpoint(folder)
    stored = prepare_weights(weights, quant)  # what the converter quantized, dequantized into transformers
    reference = torch_llama(hf_config)
    reference.load_state_dict({k: torch.tensor(np.asarray(stored[k].dequantize() if hasattr(stored[k], "codes")
                                                          else stored[k])) for k in reference.state_dict()})
    prompt = [1, 50, 60, 70, 80]
    expected = torch_greedy(reference, prompt, 30)
    s = session((converted / "onnx" / QUANTS[quant][1]).read_bytes())
    assert greedy(s, weights.config, prompt, 30) == expected
    ops = {n.op_type for n in onnx.load_from_string((converted / "onnx" / QUANTS[quant][1]).read_bytes()).graph.node}
    assert ("MatMulNBits" in ops) == (quant == "q4")


def test_bad_sources_get_a_message_and_exit_code_2(tmp_path, capsys):
    assert cli("convert-model", str(tmp_path / "nowhere"), str(tmp_path / "out")) == 2
    assert "neither a checkpoint directory nor a .gguf file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli("convert-model", str(tmp_path / "empty"), str(tmp_path / "out")) == 2
    assert "has no config.json" in capsys.readouterr().err


def test_gqa_attention_option_writes_a_groupqueryattention_file_that_agrees(checkpoint, converted, tmp_path):
    folder, _ = checkpoint
    assert cli("convert-model", str(folder), str(tmp_path), "--quant", "q4-unpacked", "--attention", "gqa") == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["default_onnx"] == "onnx/model_q4_unpacked_gqa.onnx"
    data = (tmp_path / manifest["default_onnx"]).read_bytes()
    assert "GroupQueryAttention" in {n.op_type for n in onnx.load_from_string(data).graph.node}
    config = LlamaConfig.from_hf(json.loads((tmp_path / "config.json").read_text()))
    plain = session((converted / "onnx" / "model_q4_unpacked.onnx").read_bytes())
    assert greedy(session(data), config, [1, 2, 3, 4], 20) == greedy(plain, config, [1, 2, 3, 4], 20)


def test_external_data_decoder_generates_the_same_tokens_and_loads_by_path(checkpoint, converted, tmp_path):
    """Weights in model_q4.onnx_data (what the 1B-shaped model uses for onnxruntime-web's memory): same greedy tokens."""
    import asyncio

    from hearth.llm.files.convert import write_decoder

    folder, _ = checkpoint
    weights, _ = read_checkpoint(folder)
    path = write_decoder(weights, tmp_path, "q4", external_data=True)
    data = path.with_name(path.name + "_data")
    assert data.stat().st_size > 4 * path.stat().st_size  # the weights moved out (a tiny model: graph is a lot)
    prompt = [1, 50, 60, 70, 80]
    expected = greedy(session((converted / "onnx" / "model_q4.onnx").read_bytes()), weights.config, prompt, 30)
    import onnxruntime as ort

    assert greedy(ort.InferenceSession(str(path)), weights.config, prompt, 30) == expected
    from hearth.runtime import get_runtime

    asyncio.run(get_runtime().session(str(path)))  # what read_model_dir hands over when FILE.onnx_data is there
