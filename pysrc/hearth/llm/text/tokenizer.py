"""Byte-level BPE tokenizer read from a Hugging Face `tokenizer.json`, in pure Python.

The browser cannot load the `tokenizers` Rust extension, so this file re-implements the part of it
that byte-level BPE models (Llama 3.x, SmolLM2, Qwen2.5, GPT-2) use, and is tested to give exactly
the same ids and text as `tokenizers` 0.23.3:

    tok = Tokenizer.from_file("model/tokenizer.json")
    ids = tok.encode("<|im_start|>user\\nHi<|im_end|>")   # added tokens are matched first
    text = tok.decode(ids)
    stream = StreamDecoder(tok)                            # text only once its UTF-8 is complete
    pieces = [stream.push(i) for i in ids] + [stream.flush()]

Encoding runs the same pipeline as `tokenizers`, in the same order:
  1. split the text on added tokens (`<|eot_id|>`, ...), longest match first;
  2. normalize the rest (most byte-level models have no normalizer);
  3. pre-tokenize: regex / digit splits into words, then each word's UTF-8 bytes become printable
     characters (the byte-level alphabet);
  4. BPE-merge each word, lowest merge rank first (cached per word: prose repeats words a lot);
  5. the post-processor adds e.g. Llama 3's `<|begin_of_text|>`.

Why the regexes are translated: the pre-tokenizer patterns use `\\p{L}` and `\\p{N}`, which stdlib
`re` lacks, and the `regex` module is not in the Pyodide we ship. So `\\p{..}` and `\\s` are rewritten
into explicit character classes taken from `unicode_classes.py`, which was measured from `tokenizers`
itself: its Oniguruma knows a newer Unicode than CPython 3.11's or Pyodide's `unicodedata` (thousands
of letters apart), and Python's own `\\s` also matches U+001C..U+001F, which Oniguruma does not.
"""

from __future__ import annotations

import codecs
import heapq
import json
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hearth.llm.text import unicode_classes


class TokenizerError(ValueError):
    """A tokenizer file or an input the tokenizer cannot handle; the message says what to do."""


class UnsupportedTokenizer(TokenizerError):
    """A `tokenizer.json` feature Hearth does not implement (only byte-level BPE is supported)."""


def _unsupported(what: str) -> UnsupportedTokenizer:
    return UnsupportedTokenizer(
        f"This tokenizer.json uses {what}, which Hearth's tokenizer does not support. Hearth runs byte-level "
        "BPE tokenizers (Llama 3, SmolLM2, Qwen2.5, GPT-2 style); pick a model whose tokenizer is one of those."
    )


# ---------------------------------------------------------------------------------------------------
# The byte-level alphabet: each of the 256 byte values as one printable character (GPT-2's table)
# ---------------------------------------------------------------------------------------------------


def _byte_alphabet() -> list[str]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


BYTE_TO_CHAR = _byte_alphabet()
CHAR_TO_BYTE = {c: b for b, c in enumerate(BYTE_TO_CHAR)}
_LATIN1_TO_ALPHABET = {b: c for b, c in enumerate(BYTE_TO_CHAR)}  # for str.translate over latin-1 text


def to_byte_alphabet(text: str) -> str:
    """`text`'s UTF-8 bytes spelled in the byte-level alphabet (" hi" -> "Ġhi")."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise TokenizerError(
            f"The text holds a lone surrogate ({text[error.start]!r} at {error.start}), which is not valid "
            "Unicode; pass text decoded from real UTF-8."
        ) from None
    return raw.decode("latin-1").translate(_LATIN1_TO_ALPHABET)


def token_bytes(token: str) -> bytes:
    """The bytes a token stands for, as the ByteLevel decoder reads it.

    A token spelled wholly in the byte alphabet maps back byte for byte; any other token (an added
    token such as "<|eot_id|>" is ASCII, so it maps too; "日本" would not) is its own UTF-8.
    """
    try:
        return bytes(CHAR_TO_BYTE[c] for c in token)
    except KeyError:
        return token.encode("utf-8")


# ---------------------------------------------------------------------------------------------------
# Regexes: Oniguruma patterns from tokenizer.json rewritten for stdlib `re`
# ---------------------------------------------------------------------------------------------------


def _class_body(ranges: Iterable[tuple[int, int]]) -> str:
    def esc(c: int) -> str:
        return f"\\u{c:04x}" if c < 0x10000 else f"\\U{c:08x}"

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges)


_PROPERTIES = {
    "L": _class_body(unicode_classes.LETTER),
    "N": _class_body(unicode_classes.NUMBER),
}
_SPACE = _class_body(unicode_classes.SPACE)


def _property(pattern: str, i: int) -> tuple[str, int]:
    """The class body for `\\p{X}` starting at pattern[i] (the backslash); returns it and the index after."""
    if pattern[i + 2 : i + 3] != "{":
        raise _unsupported(f"the regex property syntax in {pattern!r}")
    end = pattern.index("}", i)
    name = pattern[i + 3 : end]
    if name not in _PROPERTIES:
        raise _unsupported(f"the regex class \\p{{{name}}}")
    return _PROPERTIES[name], end + 1


def translate_regex(pattern: str) -> str:
    """An Oniguruma pattern (as `tokenizers` runs it) as an equivalent stdlib `re` pattern."""
    out: list[str] = []
    i = 0
    caseless_depth: list[int] = []  # paren depths at which a (?i: group opened
    depth = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt in ("p", "P"):
                body, i = _property(pattern, i)
                out.append(f"[{'^' if nxt == 'P' else ''}{body}]")
                continue
            if nxt in ("s", "S"):
                out.append(f"[{'^' if nxt == 'S' else ''}{_SPACE}]")
                i += 2
                continue
            if nxt.isalnum() and nxt not in "rntfv":
                raise _unsupported(f"the regex escape \\{nxt}")
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            body, i = _translate_class(pattern, i)
            out.append(body)
            continue
        if c == "(":
            if pattern.startswith("(?i:", i):
                caseless_depth.append(depth)
                out.append("(?:")
                depth += 1
                i += 4
                continue
            if pattern.startswith("(?", i) and pattern[i + 2 : i + 3] not in (":", "=", "!"):
                raise _unsupported(f"the regex group syntax {pattern[i : i + 4]!r}")
            depth += 1
        elif c == ")":
            depth -= 1
            if caseless_depth and caseless_depth[-1] == depth:
                caseless_depth.pop()
        elif caseless_depth and c.isalpha():
            if not c.isascii():
                raise _unsupported(f"a non-ASCII letter {c!r} inside (?i:...)")
            out.append(f"[{re.escape(unicode_classes.CASE_VARIANTS[c.lower()])}]")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _translate_class(pattern: str, i: int) -> tuple[str, int]:
    """`[...]` starting at pattern[i]: properties and \\s inlined as ranges. Returns it and the index after."""
    out = ["["]
    i += 1
    if pattern[i : i + 1] == "^":
        out.append("^")
        i += 1
    first = True
    while i < len(pattern):
        c = pattern[i]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        first = False
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt == "p":
                body, i = _property(pattern, i)
                out.append(body)
                continue
            if nxt == "s":
                out.append(_SPACE)
                i += 2
                continue
            if nxt.isalnum() and nxt not in "rntfv":
                raise _unsupported(f"the regex escape \\{nxt} inside a character class")
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" or pattern.startswith("&&", i):
            raise _unsupported(f"nested or intersected character classes in {pattern!r}")
        out.append(c)
        i += 1
    raise TokenizerError(f"Unterminated character class in the regex {pattern!r}; the tokenizer.json is damaged.")


# GPT-2's word split, which the ByteLevel pre-tokenizer applies when `use_regex` is true.
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


# ---------------------------------------------------------------------------------------------------
# Normalizers and pre-tokenizers: each maps a list of text pieces to a list of text pieces
# ---------------------------------------------------------------------------------------------------

Step = Callable[[list[str]], list[str]]


def _normalizer(spec: dict[str, Any] | None) -> Callable[[str], str] | None:
    if spec is None:
        return None
    kind = spec.get("type")
    if kind == "Sequence":
        parts = [f for f in (_normalizer(s) for s in spec["normalizers"]) if f is not None]

        def chain(text: str) -> str:
            for f in parts:
                text = f(text)
            return text

        return chain
    if kind in ("NFC", "NFD", "NFKC", "NFKD"):
        # Caveat: unicodedata's Unicode version is the interpreter's, possibly older than the reference's.
        return lambda text: unicodedata.normalize(kind, text)
    raise _unsupported(f"the normalizer {kind!r}")


def _regex_split(regex: re.Pattern[str], behavior: str) -> Step:
    """Split each piece on `regex` the way `tokenizers`' SplitDelimiterBehavior does (empty pieces dropped)."""
    if behavior not in ("Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"):
        raise _unsupported(f"the split behavior {behavior!r}")

    def parts(text: str) -> list[tuple[str, bool]]:
        """Matches and the gaps between them, in order, each flagged whether it is a match."""
        out, prev = [], 0
        for m in regex.finditer(text):
            start, end = m.span()
            if start > prev:
                out.append((text[prev:start], False))
            out.append((text[start:end], True))
            prev = end
        if prev < len(text):
            out.append((text[prev:], False))
        return out

    # The hot path (every byte-level model uses it): re.split with the whole pattern captured returns
    # gaps and matches alternately, in C. Only valid when the pattern has no groups of its own.
    if regex.groups == 0:
        splitter = re.compile(f"({regex.pattern})")

        def isolated(pieces: list[str]) -> list[str]:
            return [p for text in pieces for p in splitter.split(text) if p]
    else:

        def isolated(pieces: list[str]) -> list[str]:
            return [p for text in pieces for p, _ in parts(text) if p]

    def merged(pieces: list[str]) -> list[str]:
        result: list[str] = []
        for text in pieces:
            found = parts(text)
            out: list[str] = []
            previous_match = False
            if behavior == "MergedWithNext":  # a match joins the piece after it
                for piece, is_match in reversed(found):
                    if is_match and not previous_match and out:
                        out[-1] = piece + out[-1]
                    else:
                        out.append(piece)
                    previous_match = is_match
                out.reverse()
            else:
                for piece, is_match in found:
                    if behavior == "Removed":
                        if not is_match:
                            out.append(piece)
                    elif behavior == "Contiguous" and is_match == previous_match and out:
                        out[-1] += piece  # runs of matches become one piece
                    elif behavior == "MergedWithPrevious" and is_match and not previous_match and out:
                        out[-1] += piece  # a match joins the piece before it
                    else:
                        out.append(piece)
                    previous_match = is_match
            result.extend(p for p in out if p)
        return result

    return isolated if behavior == "Isolated" else merged


def _digits_split(individual: bool) -> Step:
    numeric = _class_body(unicode_classes.NUMERIC)
    regex = re.compile(f"[{numeric}]" if individual else f"[{numeric}]+")
    return _regex_split(regex, "Isolated")


def _pre_tokenizer(spec: dict[str, Any] | None) -> list[Step]:
    """The pre-tokenizer steps; the chain must end in ByteLevel, whose byte mapping happens per word later."""
    if spec is None:
        raise _unsupported("no pre-tokenizer (so no byte-level alphabet)")
    flat = spec["pretokenizers"] if spec.get("type") == "Sequence" else [spec]
    steps: list[Step] = []
    for i, s in enumerate(flat):
        kind = s.get("type")
        if kind == "Split":
            pattern = s["pattern"]
            if s.get("invert"):
                raise _unsupported("an inverted Split pre-tokenizer")
            source = translate_regex(pattern["Regex"]) if "Regex" in pattern else re.escape(pattern["String"])
            steps.append(_regex_split(re.compile(source), s["behavior"]))
        elif kind == "Digits":
            steps.append(_digits_split(bool(s.get("individual_digits"))))
        elif kind == "ByteLevel":
            if i != len(flat) - 1:
                raise _unsupported("a ByteLevel pre-tokenizer that is not the last step")
            if s.get("add_prefix_space"):
                steps.append(lambda pieces: [p if p.startswith(" ") else " " + p for p in pieces])
            if s.get("use_regex", True):
                steps.append(_regex_split(re.compile(translate_regex(GPT2_PATTERN)), "Isolated"))
            return steps
        elif kind == "Sequence":
            raise _unsupported("nested pre-tokenizer sequences")
        else:
            raise _unsupported(f"the pre-tokenizer {kind!r}")
    raise _unsupported("a pre-tokenizer chain without ByteLevel")


# ---------------------------------------------------------------------------------------------------
# Added tokens: matched in the raw text before anything else, longest first
# ---------------------------------------------------------------------------------------------------


class _AddedTokens:
    """Splits text on added tokens like `tokenizers`' AddedVocabulary (leftmost-longest matching)."""

    def __init__(self, specs: list[dict[str, Any]]) -> None:
        self.by_content: dict[str, dict[str, Any]] = {}
        for s in specs:
            if s.get("single_word"):
                raise _unsupported(f"the single_word option on the added token {s['content']!r}")
            self.by_content[s["content"]] = s
        self.raw = self._matcher([s for s in specs if not s.get("normalized")])
        self.normalized = self._matcher([s for s in specs if s.get("normalized")])

    @staticmethod
    def _matcher(specs: list[dict[str, Any]]) -> re.Pattern[str] | None:
        if not specs:
            return None
        # Longest first: at one position `re` takes the first alternative that matches.
        contents = sorted({s["content"] for s in specs if s["content"]}, key=len, reverse=True)
        return re.compile("|".join(map(re.escape, contents))) if contents else None

    def split(self, text: str, matcher: re.Pattern[str] | None) -> list[tuple[str, int | None]]:
        """(text, None) for plain stretches and (content, id) for added tokens, in order."""
        if matcher is None or not text:
            return [(text, None)]
        out: list[tuple[str, int | None]] = []
        start_offset = 0
        for m in matcher.finditer(text):
            start, stop = m.span()
            spec = self.by_content[m.group()]
            if spec.get("lstrip"):
                start = max(len(text[:start].rstrip(_RUST_WHITESPACE)), start_offset)
            if spec.get("rstrip"):
                stop = len(text) - len(text[stop:].lstrip(_RUST_WHITESPACE))
            if start > start_offset:
                out.append((text[start_offset:start], None))
            out.append((text[start:stop], spec["id"]))
            start_offset = stop
        if start_offset < len(text):
            out.append((text[start_offset:], None))
        return out


_RUST_WHITESPACE = "".join(chr(c) for a, b in unicode_classes.SPACE for c in range(a, b + 1))


# ---------------------------------------------------------------------------------------------------
# BPE: merge the cheapest adjacent pair first, exactly as `tokenizers`' Word::merge_all does
# ---------------------------------------------------------------------------------------------------


class _BPE:
    def __init__(self, spec: dict[str, Any]) -> None:
        for key in ("continuing_subword_prefix", "end_of_word_suffix"):
            if spec.get(key):
                raise _unsupported(f"a BPE {key}")
        if spec.get("dropout"):
            raise _unsupported("BPE dropout (random merges)")
        if spec.get("byte_fallback"):
            raise _unsupported("BPE byte_fallback (a SentencePiece-style model)")
        self.vocab: dict[str, int] = spec["vocab"]
        self.ignore_merges = bool(spec.get("ignore_merges"))
        self.unk_id = self.vocab.get(spec["unk_token"]) if spec.get("unk_token") else None
        if spec.get("unk_token") and self.unk_id is None:
            raise TokenizerError(f"The BPE unk_token {spec['unk_token']!r} is not in the vocabulary.")
        self.fuse_unk = bool(spec.get("fuse_unk"))
        self.shift = max(max(self.vocab.values(), default=0), 1).bit_length()
        self.mask = (1 << self.shift) - 1
        self.merges = self._merge_table(spec["merges"])

    def _merge_table(self, merges: list[Any]) -> dict[int, int]:
        """(left id << shift | right id) -> (rank << shift | merged id), built with C-level loops.

        Llama 3 has 280,000 merges; a Python loop over them costs a second (more in Pyodide).
        """
        pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
        bad = next((i for i, p in enumerate(pairs) if len(p) != 2), None)
        if bad is not None:
            raise TokenizerError(f"Merge {bad + 1} ({merges[bad]!r}) is not two tokens; the tokenizer.json is damaged.")
        if not pairs:
            return {}
        lefts = list(map(operator.itemgetter(0), pairs))
        rights = list(map(operator.itemgetter(1), pairs))
        lookup = self.vocab.__getitem__
        try:
            a = np.fromiter(map(lookup, lefts), np.int64, len(pairs))
            b = np.fromiter(map(lookup, rights), np.int64, len(pairs))
            ab = np.fromiter(map(lookup, map(operator.add, lefts, rights)), np.int64, len(pairs))
        except KeyError:
            vocab = self.vocab
            bad = next(i for i, (x, y) in enumerate(pairs) if x not in vocab or y not in vocab or x + y not in vocab)
            raise TokenizerError(
                f"Merge {bad + 1} ({pairs[bad][0]!r} + {pairs[bad][1]!r}) uses a token missing from the "
                "vocabulary; the tokenizer.json is damaged."
            ) from None
        ranks = np.arange(len(pairs), dtype=np.int64)
        # dict() keeps the last of duplicate pairs, as tokenizers' merge map does.
        return dict(zip((a << self.shift | b).tolist(), (ranks << self.shift | ab).tolist(), strict=True))

    def tokenize(self, word: str) -> list[int]:
        """The ids for one pre-tokenized word, already in the byte alphabet."""
        vocab = self.vocab
        if self.ignore_merges and word in vocab:
            return [vocab[word]]
        ids: list[int] = []
        for c in word:
            i = vocab.get(c)
            if i is None:  # no byte-level vocabulary lacks a byte, but follow tokenizers if one does
                if self.unk_id is None:
                    continue
                if self.fuse_unk and ids and ids[-1] == self.unk_id:
                    continue
                i = self.unk_id
            ids.append(i)
        if len(ids) < 2:
            return ids
        return self._merge_all(ids)

    def _merge_all(self, ids: list[int]) -> list[int]:
        merges, shift, mask = self.merges, self.shift, self.mask
        n = len(ids)
        nxt = list(range(1, n + 1))
        nxt[-1] = -1
        prv = list(range(-1, n - 1))
        alive = [True] * n
        # Heap entries (rank << shift | new id, position): lowest rank first, then leftmost.
        heap = [(m, i) for i in range(n - 1) if (m := merges.get(ids[i] << shift | ids[i + 1])) is not None]
        heapq.heapify(heap)
        while heap:
            m, i = heapq.heappop(heap)
            if not alive[i]:
                continue
            j = nxt[i]
            if j == -1:
                continue
            current = merges.get(ids[i] << shift | ids[j])
            new_id = m & mask
            if current is None or current & mask != new_id:  # stale: a neighbour merged first
                continue
            ids[i] = new_id
            alive[j] = False
            k = nxt[j]
            nxt[i] = k
            if k != -1:
                prv[k] = i
                found = merges.get(new_id << shift | ids[k])
                if found is not None:
                    heapq.heappush(heap, (found, i))
            p = prv[i]
            if p != -1:
                found = merges.get(ids[p] << shift | new_id)
                if found is not None:
                    heapq.heappush(heap, (found, p))
        return [ids[i] for i in range(n) if alive[i]]


# ---------------------------------------------------------------------------------------------------
# Post-processor: what add_special_tokens adds around the ids
# ---------------------------------------------------------------------------------------------------


def _post_processor(spec: dict[str, Any] | None) -> Callable[[list[int]], list[int]]:
    if spec is None:
        return lambda ids: ids
    kind = spec.get("type")
    if kind == "Sequence":
        parts = [_post_processor(s) for s in spec["processors"]]

        def chain(ids: list[int]) -> list[int]:
            for f in parts:
                ids = f(ids)
            return ids

        return chain
    if kind == "ByteLevel":  # only moves offsets, which Hearth does not report
        return lambda ids: ids
    if kind == "TemplateProcessing":
        before: list[int] = []
        after: list[int] = []
        seen_sequence = False
        for piece in spec["single"]:
            if "Sequence" in piece:
                if piece["Sequence"]["id"] != "A" or seen_sequence:
                    raise _unsupported("a single-sequence template that is not [specials] A [specials]")
                seen_sequence = True
            else:
                name = piece["SpecialToken"]["id"]
                if name not in spec.get("special_tokens", {}):
                    raise TokenizerError(f"The post-processor template names {name!r} but never defines it.")
                (after if seen_sequence else before).extend(spec["special_tokens"][name]["ids"])
        return lambda ids: before + ids + after
    raise _unsupported(f"the post-processor {kind!r}")


# ---------------------------------------------------------------------------------------------------
# The tokenizer
# ---------------------------------------------------------------------------------------------------

_CACHE_LIMIT = 100_000  # words; beyond this the cache starts afresh so memory stays bounded


class Tokenizer:
    """A Hugging Face byte-level BPE `tokenizer.json`, encoding and decoding exactly as `tokenizers` does."""

    def __init__(self, spec: dict[str, Any]) -> None:
        model = spec.get("model") or {}
        if model.get("type", "BPE") != "BPE":
            raise _unsupported(f"the {model.get('type')!r} model")
        decoder = spec.get("decoder")
        if not decoder or decoder.get("type") != "ByteLevel":
            raise _unsupported(f"the decoder {decoder and decoder.get('type')!r} (Hearth needs ByteLevel)")
        self._bpe = _BPE(model)
        self._added = _AddedTokens(spec.get("added_tokens") or [])
        self._normalize = _normalizer(spec.get("normalizer"))
        self._steps = _pre_tokenizer(spec.get("pre_tokenizer"))
        self._post = _post_processor(spec.get("post_processor"))
        # truncation and padding are ignored: Hearth never truncates silently, the engine checks lengths.

        self._id_to_token: dict[int, str] = {i: t for t, i in self._bpe.vocab.items()}
        self._added_ids: dict[str, int] = {}
        for s in spec.get("added_tokens") or []:
            self._id_to_token[s["id"]] = s["content"]
            self._added_ids[s["content"]] = s["id"]
        self.special_ids: frozenset[int] = frozenset(
            s["id"] for s in spec.get("added_tokens") or [] if s.get("special")
        )
        self._bytes: dict[int, bytes] = {}
        self._cache: dict[str, list[int]] = {}

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        """A `tokenizer.json`, or a model directory holding one."""
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TokenizerError(
                f"No tokenizer at {path}; pass a tokenizer.json or a model folder holding one."
            ) from None
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as error:
            raise TokenizerError(f"{path} is not valid JSON ({error}); download the tokenizer.json again.") from None
        return cls.from_dict(spec)

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Tokenizer:
        if not isinstance(obj, dict) or "model" not in obj:
            raise TokenizerError("That is not a Hugging Face tokenizer.json (no 'model' entry).")
        return cls(obj)

    # -- vocabulary ------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """How many ids there are, added tokens included (the width of the model's logits, at most)."""
        return len(self._id_to_token)

    def token_to_id(self, token: str) -> int | None:
        added = self._added_ids.get(token)
        return added if added is not None else self._bpe.vocab.get(token)

    def id_to_token(self, token_id: int) -> str | None:
        return self._id_to_token.get(token_id)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes one id decodes to (possibly part of a UTF-8 character)."""
        found = self._bytes.get(token_id)
        if found is None:
            token = self._id_to_token.get(token_id)
            if token is None:
                raise TokenizerError(
                    f"Token id {token_id} is not in this tokenizer's vocabulary (0..{self.vocab_size - 1}); "
                    "the ids come from a different model or tokenizer."
                )
            found = self._bytes[token_id] = token_bytes(token)
        return found

    # -- encode ----------------------------------------------------------------------------------

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        if not isinstance(text, str):
            raise TokenizerError(f"encode() takes text (str), not {type(text).__name__}.")
        ids: list[int] = []
        added = self._added
        for piece, token_id in added.split(text, added.raw):
            if token_id is not None:
                ids.append(token_id)
                continue
            if self._normalize is not None:
                piece = self._normalize(piece)
            for part, part_id in added.split(piece, added.normalized):
                if part_id is not None:
                    ids.append(part_id)
                else:
                    self._encode_plain(part, ids)
        return self._post(ids) if add_special_tokens else ids

    def _encode_plain(self, text: str, out: list[int]) -> None:
        if not text:
            return
        pieces = [text]
        for step in self._steps:
            pieces = step(pieces)
        cache = self._cache
        for word in pieces:
            found = cache.get(word)
            if found is None:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                found = cache[word] = self._bpe.tokenize(to_byte_alphabet(word))
            out.extend(found)

    # -- decode ----------------------------------------------------------------------------------

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """Text for `ids`; bytes that do not form UTF-8 become U+FFFD, as Rust's from_utf8_lossy does."""
        special = self.special_ids
        raw = b"".join(
            self.token_bytes(int(i)) for i in ids if not (skip_special_tokens and int(i) in special)
        )
        return raw.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------------
# Streaming: text as tokens arrive, holding back bytes of a character not complete yet
# ---------------------------------------------------------------------------------------------------


class StreamDecoder:
    """Turns ids into text one at a time; the pieces joined equal `tokenizer.decode(all ids)`.

    A token can end in the middle of a UTF-8 character (an emoji is often 2-4 byte tokens), so the
    bytes of an incomplete character wait for the next token instead of showing as U+FFFD.
    """

    def __init__(self, tokenizer: Tokenizer, skip_special_tokens: bool = False) -> None:
        self._tokenizer = tokenizer
        self._skip = tokenizer.special_ids if skip_special_tokens else frozenset()
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        """The text that became complete with this token ("" while a character is still partial)."""
        token_id = int(token_id)
        if token_id in self._skip:
            return ""
        return self._utf8.decode(self._tokenizer.token_bytes(token_id))

    def flush(self) -> str:
        """Whatever is held back, as U+FFFD (the stream ended inside a character); then start afresh."""
        text = self._utf8.decode(b"", final=True)
        self._utf8.reset()
        return text
