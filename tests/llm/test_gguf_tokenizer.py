"""The tokenizer rebuilt from SmolLM2's GGUF metadata, checked against the GGUF, `tokenizers` and transformers."""

from __future__ import annotations

import json
import re

import pytest
import tokenizers

from hearth.llm.files.gguf_tokenizer import GGUFTokenizerError, read_metadata, tokenizer_files_from_metadata
from hearth.llm.text import unicode_classes
from hearth.llm.text.tokenizer import Tokenizer
from tests.llm import tok_corpus as corpus


@pytest.fixture(scope="module")
def smollm2_files(smollm2_dir) -> tuple[dict, dict]:
    return tuple(json.loads((smollm2_dir / f).read_text(encoding="utf-8"))
                 for f in ("tokenizer.json", "tokenizer_config.json"))


def test_smollm2_config_names_the_special_tokens_and_carries_the_chat_template(smollm2_files, smollm2_meta):
    spec, config = smollm2_files
    meta = smollm2_meta
    assert config["bos_token"] == "<|im_start|>"
    assert config["eos_token"] == "<|im_end|>"
    assert config["pad_token"] == "<|im_end|>"
    assert config["unk_token"] == "<|endoftext|>"
    assert config["model_max_length"] == 8192
    assert config["vocab_size"] == 49152 == len(spec["model"]["vocab"])
    assert config["chat_template"] == meta["tokenizer.chat_template"]
    assert "<|im_start|>" in config["chat_template"]
    assert [a["content"] for a in spec["added_tokens"][:3]] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert len(spec["added_tokens"]) == 17 and all(a["special"] for a in spec["added_tokens"])
    assert config["added_tokens_decoder"]["2"]["content"] == "<|im_end|>"
    assert spec["model"]["merges"] == meta["tokenizer.ggml.merges"]


def test_smollm2_was_trained_with_digits_split_one_by_one(smollm2_files):
    """Why the rebuilt pre-tokenizer splits digits first: no token holds a digit beside anything else."""
    spec, _ = smollm2_files
    with_digits = [t for t in spec["model"]["vocab"] if re.search("[0-9]", t)]
    assert sorted(with_digits) == list("0123456789")
    tok = Tokenizer.from_dict(spec)
    # Where that split changes ids: a space run before a digit stays one token.
    assert [tok.id_to_token(i) for i in tok.encode("a  1")] == ["a", "ĠĠ", "1"]


def test_hugging_face_reads_the_rebuilt_tokenizer_json_as_we_do(loaded):
    # The corpus comparison of test_tokenizer.py runs on this same generated file; here, the chat markers.
    tok, hf = loaded("smollm2")
    text = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nBP 120/80, pulse 72?<|im_end|>\n"
    assert tok.encode(text) == hf.encode(text).ids
    assert tok.encode(text)[0] == 1


@pytest.mark.slow
def test_transformers_gguf_loader_agrees_except_where_it_forgets_the_digit_split(loaded, smollm2_gguf):
    transformers = pytest.importorskip("transformers")
    reference = transformers.AutoTokenizer.from_pretrained(str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name)
    tok, _ = loaded("smollm2")
    numeric = {chr(c) for a, b in unicode_classes.NUMERIC for c in range(a, b + 1)}
    texts = ["".join(c for c in t if c not in numeric) for t in corpus.aci_texts() + corpus.HAND_PICKED]
    for text in texts:
        assert tok.encode(text) == reference(text)["input_ids"]
    assert reference("a  1")["input_ids"] != tok.encode("a  1")


@pytest.mark.slow
def test_llama3_metadata_round_trips_to_an_equivalent_tokenizer(model_dir, loaded):
    """A Llama 3 style GGUF ("llama-bpe", BOS added) rebuilds to a tokenizer that encodes like the original."""
    original = json.loads((model_dir("llama3.2") / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((model_dir("llama3.2") / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokens = [""] * (len(original["model"]["vocab"]) + len(original["added_tokens"]))
    types = [1] * len(tokens)
    for token, i in original["model"]["vocab"].items():
        tokens[i] = token
    for added in original["added_tokens"]:
        tokens[added["id"]], types[added["id"]] = added["content"], 3
    meta = {
        "general.architecture": "llama",
        "llama.context_length": 131072,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "llama-bpe",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.merges": [" ".join(m) for m in original["model"]["merges"]],
        "tokenizer.ggml.bos_token_id": 128000,
        "tokenizer.ggml.eos_token_id": 128009,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.chat_template": config["chat_template"],
    }
    rebuilt, rebuilt_config = tokenizer_files_from_metadata(meta)
    assert rebuilt_config["bos_token"] == "<|begin_of_text|>" and rebuilt_config["eos_token"] == "<|eot_id|>"
    hf_rebuilt = tokenizers.Tokenizer.from_str(json.dumps(rebuilt))
    _, hf_original = loaded("llama3.2")
    texts = corpus.HAND_PICKED + corpus.random_texts(seed=31, count=300) + corpus.aci_texts()[:20]
    for add in (True, False):
        assert [e.ids for e in hf_rebuilt.encode_batch(texts, add_special_tokens=add)] == [
            e.ids for e in hf_original.encode_batch(texts, add_special_tokens=add)
        ]
    assert corpus.encode_mismatches(Tokenizer.from_dict(rebuilt), hf_rebuilt, texts[:60]) == []


def test_unknown_gguf_tokenizers_are_refused_with_a_reason():
    with pytest.raises(GGUFTokenizerError, match="only byte-level BPE"):
        tokenizer_files_from_metadata({"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["a"]})
    with pytest.raises(GGUFTokenizerError, match="pre-tokenizer is 'deepseek-coder'"):
        tokenizer_files_from_metadata({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "deepseek-coder"})


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"<html>not found</html>")
    with pytest.raises(GGUFTokenizerError, match="not a GGUF file"):
        read_metadata(bad)


@pytest.mark.slow
def test_metadata_reader_equals_the_gguf_package(smollm2_gguf, smollm2_meta):
    from gguf import GGUFReader, GGUFValueType

    expected = {}
    for key, field in GGUFReader(str(smollm2_gguf)).fields.items():
        if key.startswith("GGUF."):  # the reader's own header fields
            continue
        if field.types[0] == GGUFValueType.ARRAY:
            if field.types[-1] == GGUFValueType.STRING:
                expected[key] = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                expected[key] = [field.parts[i].tolist()[0] for i in field.data]
        elif field.types[0] == GGUFValueType.STRING:
            expected[key] = bytes(field.parts[field.data[0]]).decode("utf-8")
        else:
            expected[key] = field.parts[field.data[0]].tolist()[0]
    assert smollm2_meta == expected
