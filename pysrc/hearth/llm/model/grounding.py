"""Numbers the model may write: a guard that keeps every number in the output to a given set.

    guard = NumberGuard(DigitTokens.of(tokenizer), allowed={"56", "20", "120", "80", "2.5"})
    scores = sampler.scores(logits, history)
    guard.restrict(scores, greedy=True)        # tokens that would write another number -> -inf
    guard.advance(token)                       # after the token is chosen

A small model drafting a clinical note writes ages, doses and vitals that nobody said. The drafter
knows every number the transcript holds (`hearth.notes.facts` reads "fifty-six" as 56), so the
generation loop can refuse, token by token, any number outside that set: the model then writes a
number the visit did state, or words. Only digits are guarded; a number the model spells out in
words is left to the grounding check that marks unsupported facts in the page.

A number is a run of digits with at most one decimal point inside ("2.5"); "120/80" and "1,000"
are two numbers each, so the allowed set holds the parts (`hearth.notes.facts.stated_numbers` makes it). While a number is being
written, its digits so far must begin some allowed number; a token that ends it must leave an
allowed number. Checking is lazy under greedy decoding (the best token is usually not a digit and
costs one look); sampling masks every token that holds a digit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

MARKER_DIGITS = 2  # "1." to "99." opening a line are list numbers, allowed whatever the set
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TRAILING = re.compile(r"\d+(?:\.\d*)?$")


@dataclass(frozen=True)
class DigitTokens:
    """The vocabulary's tokens that hold a digit, with their text (computed once per tokenizer)."""

    ids: np.ndarray  # int64 token ids
    texts: tuple[str, ...]
    vocab_size: int
    points: frozenset[int]  # tokens that are just ".", which may continue a number ("2" "." "5")
    line_ends: np.ndarray  # bool per token: its text ends a line (a list number may follow)

    @classmethod
    def of(cls, tokenizer: object) -> DigitTokens:
        cached = getattr(tokenizer, "_hearth_digit_tokens", None)
        if cached is not None:
            return cached
        size = int(tokenizer.vocab_size)  # type: ignore[attr-defined]
        ids, texts, points = [], [], set()
        line_ends = np.zeros(size, bool)
        for i in range(size):
            raw = tokenizer.token_bytes(i)  # type: ignore[attr-defined]
            line_ends[i] = raw.rstrip(b" \t").endswith(b"\n")
            if any(48 <= b <= 57 for b in raw):
                ids.append(i)
                texts.append(raw.decode("utf-8", "replace"))
            elif raw == b".":
                points.add(i)
        made = cls(np.asarray(ids, np.int64), tuple(texts), size, frozenset(points), line_ends)
        try:
            tokenizer._hearth_digit_tokens = made  # type: ignore[attr-defined]
        except AttributeError:
            pass
        return made


class NumberGuard:
    """Keeps the numbers a generation writes within `allowed` (digit strings such as "20" or "2.5")."""

    def __init__(self, digits: DigitTokens, allowed: Iterable[str]) -> None:
        self.digits = digits
        self.allowed = frozenset(allowed)
        self.prefixes = frozenset(n[:i] for n in self.allowed for i in range(1, len(n) + 1))
        self._text = {int(i): t for i, t in zip(digits.ids, digits.texts, strict=True)}
        self.run = ""  # the number being written: trailing digits (and a decimal point) of the output
        self.line_start = True  # the output so far is empty or its last token ended a line
        self.marker = False  # the number being written opened a line: a list number ("1. ..."), not a fact

    def _fits(self, text: str) -> bool:
        """Whether the output may go on with `text` after the current run."""
        tail = self.run + text
        numbers = list(_NUMBER.finditer(tail))
        if not numbers:
            return True
        opens_line = self.marker if self.run else self.line_start and not text[:numbers[0].start()].strip()
        for k, m in enumerate(numbers):
            if k == 0 and opens_line and len(m.group()) <= MARKER_DIGITS:
                continue
            writing = k == len(numbers) - 1 and (m.end() == len(tail) or tail[m.end():] == ".")
            if m.group() not in (self.prefixes if writing else self.allowed):
                return False
        return True

    def _may_end(self) -> bool:
        """Whether the number being written may end here (a non-digit token would end it)."""
        return not self.run or self.marker or self.run.rstrip(".") in self.allowed

    def allows(self, token: int) -> bool:
        text = self._text.get(token)
        if text is not None:
            return self._fits(text)
        if token in self.digits.points and self.run[-1:].isdigit():  # "2" "." may go on to "2.5"
            return self._may_end() or self.run + "." in self.prefixes
        return self._may_end()

    def restrict(self, scores: np.ndarray, greedy: bool) -> None:
        """Set refused tokens' scores to -inf in place. Greedy: only as far as the best allowed token."""
        if greedy:
            while True:
                best = int(np.argmax(scores))
                if scores[best] == -np.inf or self.allows(best):
                    return
                scores[best] = -np.inf
        ids = self.digits.ids
        refused = np.array([not self._fits(t) for t in self.digits.texts], bool)
        if not self._may_end():  # only a digit (or a decimal point) may follow: ban the rest
            keep = np.zeros(scores.size, bool)
            keep[ids[~refused]] = True
            for point in self.digits.points:
                keep[point] = self.allows(point)
            scores[~keep] = -np.inf
            return
        scores[ids[refused]] = -np.inf

    def advance(self, token: int) -> None:
        """Follow the output by one chosen token."""
        text = self._text.get(token)
        if text is None:
            self.run = self.run + "." if token in self.digits.points and self.run[-1:].isdigit() else ""
            if not self.run:
                self.marker = False
            self.line_start = bool(self.digits.line_ends[token])
            return
        tail = self.run + text
        m = _TRAILING.search(tail)
        if m is None:
            self.run, self.marker = "", False
        else:
            if not (m.start() == 0 and self.run):  # a new number: a list number if only spaces come before it on its line
                self.marker = self.line_start and not tail[:m.start()].strip()
            self.run = m.group()
        self.line_start = False
