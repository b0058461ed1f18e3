"""Hearth's pure-Python tokenizer against Hugging Face `tokenizers` on real Llama 3 and SmolLM2 tokenizers."""

from __future__ import annotations

import copy
import json
import random

import pytest
import tokenizers

from hearth.llm.text.tokenizer import (
    BYTE_TO_CHAR,
    StreamDecoder,
    Tokenizer,
    TokenizerError,
    UnsupportedTokenizer,
)
from tests.fixtures.aci_bench import WHICH, aci_bench_dir
from tests.llm import tok_corpus as corpus
from tests.llm.tok_fixtures import TOKENIZERS


@pytest.mark.parametrize("name", TOKENIZERS)
def test_encode_equals_tokenizers_on_hand_picked_hard_cases(loaded, name):
    tok, hf = loaded(name)
    assert corpus.encode_mismatches(tok, hf, corpus.HAND_PICKED) == []


@pytest.mark.parametrize("which", WHICH)
@pytest.mark.parametrize("name", TOKENIZERS)
def test_encode_equals_tokenizers_on_all_aci_bench_transcripts_and_notes(loaded, name, which):
    tok, hf = loaded(name)
    texts = corpus.aci_texts(aci_bench_dir(which))
    assert sum(map(len, texts)) > {"subset": 130_000, "full": 700_000}[which]
    assert corpus.encode_mismatches(tok, hf, texts) == []


@pytest.mark.parametrize("name", TOKENIZERS)
def test_encode_equals_tokenizers_on_random_text(loaded, name):
    tok, hf = loaded(name)
    assert corpus.encode_mismatches(tok, hf, corpus.random_texts(seed=7, count=2000)) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", TOKENIZERS)
def test_encode_equals_tokenizers_on_much_more_random_text(loaded, name):
    tok, hf = loaded(name)
    for seed in range(3):
        assert corpus.encode_mismatches(tok, hf, corpus.random_texts(seed=1000 + seed, count=3000, max_len=300)) == []


def test_llama3_prepends_begin_of_text_and_smollm2_adds_nothing(loaded):
    llama, _ = loaded("llama3.2")
    smol, _ = loaded("smollm2")
    assert llama.encode("Hello")[0] == llama.token_to_id("<|begin_of_text|>") == 128000
    assert llama.encode("Hello")[1:] == llama.encode("Hello", add_special_tokens=False)
    assert llama.encode("") == [128000]
    assert smol.encode("Hello") == smol.encode("Hello", add_special_tokens=False)
    assert smol.encode("") == []


def test_added_tokens_are_split_out_before_bpe(loaded):
    smol, _ = loaded("smollm2")
    llama, _ = loaded("llama3.2")
    ids = smol.encode("<|im_start|>user\nHi<|im_end|>")
    assert ids[0] == 1 and ids[-1] == 2
    assert smol.decode(ids) == "<|im_start|>user\nHi<|im_end|>"
    assert llama.encode("a<|eot_id|>b", add_special_tokens=False) == [64, 128009, 65]
    # A broken marker is ordinary text, spelled out in several tokens.
    assert 128009 not in llama.encode("<|eot_id|")


def test_smollm2_known_facts(loaded):
    smol, hf = loaded("smollm2")
    assert smol.vocab_size == 49152
    assert smol.token_to_id("<|im_start|>") == 1
    assert smol.token_to_id("<|im_end|>") == 2
    assert smol.token_to_id("<|endoftext|>") == 0
    assert smol.id_to_token(1) == "<|im_start|>"
    # Digits are split one by one (the merges never join two digits).
    assert smol.encode("2024") == [smol.token_to_id(d) for d in "2024"]


@pytest.mark.parametrize("name", TOKENIZERS)
def test_vocabulary_lookups_equal_tokenizers(loaded, name):
    tok, hf = loaded(name)
    assert tok.vocab_size == hf.get_vocab_size(with_added_tokens=True)
    rng = random.Random(3)
    ids = [rng.randrange(tok.vocab_size) for _ in range(2000)] + sorted(tok.special_ids)
    for i in ids:
        assert tok.id_to_token(i) == hf.id_to_token(i)
        assert tok.token_to_id(tok.id_to_token(i)) == hf.token_to_id(hf.id_to_token(i))
    assert tok.token_to_id("no such token ever") is None
    assert tok.id_to_token(tok.vocab_size + 5) is None


def _random_ids(tok: Tokenizer, rng: random.Random, n: int) -> list[int]:
    """Ids that decode to broken UTF-8 as often as to text: single bytes, random tokens, specials."""
    bytes_ids = [i for i in map(tok.token_to_id, BYTE_TO_CHAR) if i is not None]  # SmolLM2 lacks 21 bytes
    specials = sorted(tok.special_ids)
    out = []
    for _ in range(n):
        r = rng.random()
        pool = bytes_ids if r < 0.5 else specials if r < 0.55 else range(tok.vocab_size)
        out.append(rng.choice(pool))
    return out


@pytest.mark.parametrize("name", TOKENIZERS)
def test_decode_equals_tokenizers(loaded, name):
    tok, hf = loaded(name)
    rng = random.Random(11)
    sequences = [_random_ids(tok, rng, rng.randint(0, 40)) for _ in range(3000)]
    sequences += [e.ids for e in hf.encode_batch(corpus.HAND_PICKED + corpus.random_texts(seed=5, count=500))]
    for skip in (False, True):
        refs = hf.decode_batch(sequences, skip_special_tokens=skip)
        for ids, ref in zip(sequences, refs, strict=True):
            assert tok.decode(ids, skip_special_tokens=skip) == ref, ids


@pytest.mark.parametrize("name", TOKENIZERS)
def test_decode_inverts_encode(loaded, name):
    tok, _ = loaded(name)
    missing = {b for b, c in enumerate(BYTE_TO_CHAR) if tok.token_to_id(c) is None}
    for text in corpus.HAND_PICKED + corpus.random_texts(seed=9, count=300):
        if missing.isdisjoint(text.encode()):
            assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_smollm2_drops_bytes_it_has_no_token_for_as_tokenizers_does(loaded):
    tok, hf = loaded("smollm2")
    assert tok.token_to_id(BYTE_TO_CHAR[4]) is None  # trained on text without U+0004
    assert tok.encode("a\x04b") == hf.encode("a\x04b").ids
    assert tok.decode(tok.encode("a\x04b")) == "ab"


@pytest.mark.parametrize("name", TOKENIZERS)
def test_streamed_text_joins_to_the_full_decode(loaded, name):
    tok, hf = loaded(name)
    rng = random.Random(13)
    for _ in range(2000):
        ids = _random_ids(tok, rng, rng.randint(0, 30))
        for skip in (False, True):
            stream = StreamDecoder(tok, skip_special_tokens=skip)
            pieces = [stream.push(i) for i in ids] + [stream.flush()]
            assert "".join(pieces) == hf.decode(ids, skip_special_tokens=skip), ids


@pytest.mark.parametrize("name", TOKENIZERS)
def test_stream_shows_no_replacement_character_for_valid_text(loaded, name):
    tok, _ = loaded(name)
    missing = {b for b, c in enumerate(BYTE_TO_CHAR) if tok.token_to_id(c) is None}
    for text in [t for t in corpus.HAND_PICKED if missing.isdisjoint(t.encode())]:
        stream = StreamDecoder(tok)
        pieces = [stream.push(i) for i in tok.encode(text, add_special_tokens=False)]
        assert "".join(pieces) == text and stream.flush() == ""
        assert not any("\ufffd" in p for p in pieces)


def test_stream_holds_a_character_back_until_its_last_byte(loaded):
    tok, _ = loaded("llama3.2")
    byte_ids = [tok.token_to_id(BYTE_TO_CHAR[b]) for b in "a😀b".encode()]
    stream = StreamDecoder(tok)
    assert [stream.push(i) for i in byte_ids] == ["a", "", "", "", "😀", "b"]
    # A stream that stops inside a character shows what tokenizers' decode shows: U+FFFD.
    stream = StreamDecoder(tok)
    assert [stream.push(i) for i in byte_ids[:3]] == ["a", "", ""]
    assert stream.flush() == "\ufffd"
    assert stream.push(tok.token_to_id("x")) == "x"  # and it starts afresh


# ---- smaller tokenizer.json variants, to cover options the real files do not use -------------------


def _variant(base: dict, **changes) -> tuple[Tokenizer, tokenizers.Tokenizer]:
    spec = copy.deepcopy(base)
    for key, value in changes.items():
        spec[key] = value
    return Tokenizer.from_dict(spec), tokenizers.Tokenizer.from_str(json.dumps(spec))


@pytest.fixture(scope="module")
def smollm2_spec(model_dir) -> dict:
    return json.loads((model_dir("smollm2") / "tokenizer.json").read_text(encoding="utf-8"))


BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}


@pytest.mark.parametrize(
    "pre_tokenizer",
    [
        {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": r"\s+|[,.;]"},
                                                "behavior": behavior, "invert": False}, BYTE_LEVEL]}
        for behavior in ("Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous")
    ]
    + [
        {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": False}, BYTE_LEVEL]},
        {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"String": ", "},
                                                "behavior": "Isolated", "invert": False}, BYTE_LEVEL]},
        {**BYTE_LEVEL, "add_prefix_space": True},
        {**BYTE_LEVEL, "use_regex": False},
        {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                                          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"},
             "behavior": "Isolated", "invert": False}, {**BYTE_LEVEL, "use_regex": False}]},  # Qwen2.5's
    ],
    ids=["isolated", "removed", "merged-prev", "merged-next", "contiguous", "digits-runs", "string-split",
         "prefix-space", "no-regex", "qwen2.5"],
)
def test_pre_tokenizer_variants_equal_tokenizers(smollm2_spec, pre_tokenizer):
    tok, hf = _variant(smollm2_spec, pre_tokenizer=pre_tokenizer)
    texts = corpus.HAND_PICKED + corpus.random_texts(seed=21, count=400)
    assert corpus.encode_mismatches(tok, hf, texts) == []


def test_added_token_options_and_normalizer_equal_tokenizers(smollm2_spec):
    added = copy.deepcopy(smollm2_spec["added_tokens"])
    added += [
        {"id": 49152, "content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False,
         "normalized": False, "special": True},
        {"id": 49153, "content": "[END]", "single_word": False, "lstrip": False, "rstrip": True,
         "normalized": False, "special": True},
        {"id": 49154, "content": "Café", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": False},
        {"id": 49155, "content": "<|im", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": False},
    ]
    post = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "<|im_end|>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]},
                               "<|im_end|>": {"id": "<|im_end|>", "ids": [2], "tokens": ["<|im_end|>"]}}}
    tok, hf = _variant(smollm2_spec, added_tokens=added, normalizer={"type": "NFC"}, post_processor=post)
    texts = ["a  <mask> b", "<mask>", "   <mask>", "x[END]   y", "[END]\n\n", "Cafe\u0301 and Café", "<|im_start|>",
             "<|im_end|> <|im", "  <mask>[END]  <mask>  "] + corpus.HAND_PICKED
    assert corpus.encode_mismatches(tok, hf, texts) == []
    ids = [49152, 5, 49153, 49154, 1, 2]
    for skip in (False, True):
        assert tok.decode(ids, skip_special_tokens=skip) == hf.decode(ids, skip_special_tokens=skip)


# ---- bad input ---------------------------------------------------------------------------------------


def test_bad_files_and_inputs_say_what_to_do(tmp_path, smollm2_spec, loaded):
    with pytest.raises(TokenizerError, match="No tokenizer at"):
        Tokenizer.from_file(tmp_path / "missing.json")
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerError, match="not valid JSON"):
        Tokenizer.from_file(tmp_path)
    with pytest.raises(TokenizerError, match="not a Hugging Face tokenizer.json"):
        Tokenizer.from_dict({"vocab": {}})
    with pytest.raises(UnsupportedTokenizer, match="WordPiece"):
        Tokenizer.from_dict({**smollm2_spec, "model": {"type": "WordPiece", "vocab": {}}})
    with pytest.raises(UnsupportedTokenizer, match="Metaspace"):
        Tokenizer.from_dict({**smollm2_spec, "pre_tokenizer": {"type": "Metaspace", "replacement": "▁"}})
    with pytest.raises(UnsupportedTokenizer, match=r"\\p\{Lu\}"):
        Tokenizer.from_dict({**smollm2_spec, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": r"\p{Lu}+"}, "behavior": "Isolated", "invert": False}, BYTE_LEVEL]}})
    broken = copy.deepcopy(smollm2_spec)
    broken["model"]["merges"] = broken["model"]["merges"][:5] + ["Ġ zzzqqq"]
    with pytest.raises(TokenizerError, match="Merge 6"):
        Tokenizer.from_dict(broken)
    tok, _ = loaded("smollm2")
    with pytest.raises(TokenizerError, match="not in this tokenizer's vocabulary"):
        tok.decode([5, 49152])
    with pytest.raises(TokenizerError, match="lone surrogate"):
        tok.encode("abc\ud800")
    with pytest.raises(TokenizerError, match="takes text"):
        tok.encode(b"bytes")  # type: ignore[arg-type]
