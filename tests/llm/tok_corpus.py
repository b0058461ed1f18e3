"""Text to compare tokenizers on: hand-picked hard cases, real clinic transcripts, and seeded random text."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import tokenizers

from hearth.llm.text import unicode_classes
from hearth.llm.text.tokenizer import Tokenizer
from tests.fixtures.aci_bench import read_rows

HAND_PICKED = [
    "",
    " ",
    "  ",
    "\n",
    "\r\n",
    "Hello, world!",
    " Hello world  ",
    "I'm sure they'll say it's fine, don't you think? We've seen it. You'd know. I'M SURE THEY'LL SAY IT'S FINE.",
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'Ve 'M 'LL 'D 'ſ 'ſt 'K \u2019s rock'n'roll ''s '",
    "Numbers 12345 and 3.14159 and 1,000,000 and 0000000000001 -42 +7e-10 0x1F 1st 2nd 3rd",
    "½ ¼ ² ³ ¹ Ⅻ ⅷ ٠١٢٣٤٥٦٧٨٩ ۱۲۳ ०१२३ ১২৩ ๑๒๓ １２３ 𝟙𝟚𝟛 ① ⑳ 〇 〺",
    "Café naïve résumé façade Ångström Ærøskøbing Straße ĳ ǅ ẞ ﬁ ﬆ",
    "e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353 \u0915\u094d\u0937 combining \u20dd mark",
    "Ελληνικά κείμενα και ΚΕΦΑΛΑΙΑ. Русский текст и Українська мова. Български.",
    "مرحبا بالعالم ١٢٣ שלום עולם עִבְרִית فارسی",
    "हिन्दी में पाठ, தமிழ், తెలుగు, ಕನ್ನಡ, മലയാളം, ગુજરાતી, ਪੰਜਾਬੀ, বাংলা, ଓଡ଼ିଆ",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ ລາວ ខ្មែរ မြန်မာ",
    "你好，世界！这是一个测试。繁體中文測試。日本語のテキストとカタカナ ー ひらがな。한국어 텍스트입니다",
    "Emoji: 😀👍🏽🇺🇸🇯🇵 ❤️ ❤ ☺️ 1️⃣ #️⃣ 👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈 🧑‍🤝‍🧑 🫠 🪿",
    "tabs\tand\nnewlines\r\nmixed\r\r\n\n\n  \t \n\t\t\tx \u00a0\u00a0y\u3000z\u2028w\u2029v\u0085u\x0b\x0c",
    "trailing spaces    \n    leading\n\n\n\n    \n",
    "\x1c\x1d\x1e\x1f file separators \x00 nul \x7f del \u200b zwsp \u200d zwj \ufeff bom \u180e mvs",
    "def foo(x):\n    return x ** 2  # comment\n\nclass A(B):\n\tpass\n",
    "for (int i = 0; i < n; ++i) { a[i] = b[i] * 2; } // C++\n#include <stdio.h>\n",
    "<html><body class=\"x\">&amp;&lt;</body></html> https://example.org/a?b=c&d=e#f",
    "SELECT * FROM t WHERE a >= 10 AND b <> 'x';  -- sql",
    "λx. x ∘ f ≥ ∀ε>0 ∃δ ∑ᵢ aᵢ² ∫₀^∞ e^{-x²} dx = √π/2",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<|im_start|><|im_start|><|eot_id|><|eot_id|>",
    "<|im_sta <|eot_i <|end_of_text|x <|<|eot_id|>|> <<|im_end|>> <|endoftext|>",
    "<|reserved_special_token_0|><|reserved_special_token_10|><|reserved_special_token_1|>",
    "word<|eot_id|>word <|eot_id|> word\n<|eot_id|>\n",
    "<repo_name>x<file_sep>y<jupyter_code>z<empty_output>",
    "a" * 500,
    " " * 300 + "x",
    "\n" * 50,
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "１２３ＡＢＣ ｱｲｳ ㍿ ㌀ ℃ № ™ Ω Å K",
    "𝐀𝐁𝐂 𝔄𝔅 𝕏 𐌰𐌱 𓀀𓀁 𠀀𠀁 \U0002a6d6 \U00030000 \U00031350",
]


def aci_texts(folder: Path) -> list[str]:
    """Every dialogue and note in an ACI-Bench folder's train and valid splits."""
    return [text for name in ("train.csv", "valid.csv") for row in read_rows(folder / name)
            for text in (row["dialogue"], row["note"])]


def _newer_than_python() -> list[str]:
    """Letters/numbers Oniguruma knows but this Python's unicodedata calls unassigned or otherwise."""
    out = []
    for table, prefix in ((unicode_classes.LETTER, "L"), (unicode_classes.NUMBER, "N")):
        for a, b in table:
            out.extend(chr(c) for c in range(a, b + 1) if not unicodedata.category(chr(c)).startswith(prefix))
    out.extend(chr(c) for a, b in unicode_classes.NUMERIC for c in range(a, b + 1))
    return out


def _pools() -> list[list[str]]:
    ranges = [
        (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
        (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x2070, 0x218F),
        (0x2190, 0x23FF), (0x2460, 0x24FF), (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFF00, 0xFFEF),
        (0x1D400, 0x1D7FF), (0x1F300, 0x1FAFF), (0x20000, 0x20100),
    ]
    pools = [[chr(c) for c in range(a, b + 1)] for a, b in ranges]
    pools.append(list(" \t\n\r\x0b\x0c\u00a0\u0085\u1680\u2000\u2028\u2029\u202f\u205f\u3000"))
    pools.append(list("\x1c\x1d\x1e\x1f\u180e\u200b\u200d\ufeff"))
    pools.append(list("0123456789"))
    pools.append(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'ſ", "'", "\ufe0f", "\U0001f3fd"])
    pools.append(["<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|begin_of_text|>", "<|", "|>", "<|im_"])
    pools.append(_newer_than_python())
    return pools


def random_texts(seed: int, count: int, max_len: int = 120) -> list[str]:
    """Seeded random strings: runs drawn from character pools, random code points, random bytes as UTF-8."""
    rng = random.Random(seed)
    pools = _pools()
    out: list[str] = []
    for i in range(count):
        kind = i % 4
        n = rng.randint(1, max_len)
        if kind == 0:  # runs from pools, so words and whitespace runs form
            parts: list[str] = []
            while sum(map(len, parts)) < n:
                pool = rng.choice(pools)
                parts.extend(rng.choice(pool) for _ in range(rng.randint(1, 8)))
            out.append("".join(parts))
        elif kind == 1:  # any code point but surrogates
            points = (rng.choice([rng.randint(0, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]) for _ in range(n))
            out.append("".join(map(chr, points)))
        elif kind == 2:  # random bytes read as UTF-8, as a broken file would be
            out.append(bytes(rng.randrange(256) for _ in range(n)).decode("utf-8", errors="replace"))
        else:  # mostly ASCII with a little of everything
            pool = [chr(c) for c in range(0x20, 0x7F)] * 4 + [c for p in pools for c in p[:20]]
            out.append("".join(rng.choice(pool) for _ in range(n)))
    return out


def encode_mismatches(tok: Tokenizer, hf: tokenizers.Tokenizer, texts: list[str]) -> list[str]:
    """Readable reports of the texts where the two disagree (both add_special_tokens settings)."""
    bad = []
    for add in (True, False):
        refs = hf.encode_batch(texts, add_special_tokens=add)
        for text, ref in zip(texts, refs, strict=True):
            mine = tok.encode(text, add_special_tokens=add)
            if mine != ref.ids:
                at = next((i for i, (a, b) in enumerate(zip(mine, ref.ids, strict=False)) if a != b), None)
                bad.append(f"{text[:80]!r} add_special_tokens={add}: first difference at {at}: "
                           f"ours {mine[:40]} vs {ref.ids[:40]}")
    return bad
