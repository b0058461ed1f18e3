"""The character classes Hearth's tokenizer ships are the ones `tokenizers` uses."""

from __future__ import annotations

import random
import unicodedata

import pytest

from hearth.llm.text import unicode_classes
from tests.llm import unicode_probe


def _members(ranges) -> set[int]:
    return {c for a, b in ranges for c in range(a, b + 1)}


def test_shipped_classes_match_tokenizers_on_a_sample_and_on_every_unicode_version_gap():
    letters, numbers = _members(unicode_classes.LETTER), _members(unicode_classes.NUMBER)
    # Where this Python's unicodedata disagrees (newer letters, U+001C..U+001F as \s), plus a random sample.
    disputed = [c for c in unicode_probe.CODE_POINTS if (c in letters) != unicodedata.category(chr(c)).startswith("L")
                or (c in numbers) != unicodedata.category(chr(c)).startswith("N")]
    assert len(disputed) > 1000  # the reason the table exists
    sample = sorted(set(disputed + random.Random(0).sample(unicode_probe.CODE_POINTS, 20000) + list(range(0x3000))))
    assert set(unicode_probe.matching(r"\p{L}", sample)) == letters.intersection(sample)
    assert set(unicode_probe.matching(r"\p{N}", sample)) == numbers.intersection(sample)
    assert set(unicode_probe.matching(r"\s", sample)) == _members(unicode_classes.SPACE).intersection(sample)


@pytest.mark.slow
def test_shipped_table_is_exactly_what_the_probe_measures_now():
    assert unicode_probe.render(unicode_probe.measure()) == unicode_probe.TABLE.read_text(encoding="utf-8")
