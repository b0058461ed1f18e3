"""The words the visitor reads, in the language they chose: English (the source) or German.

    from hearth.i18n import t
    t("Trained {epochs} epochs", epochs=3)   # "3 Epochen trainiert" once set_language("de")
    TITLES = {"mlp": N_("Small network")}    # marked where it is defined ...
    t(TITLES[name])                          # ... translated where it is shown
    t("{count} samples", count=number(1797)) # "1.797 Beispiele": number() groups digits as the language does

The English text in the code is the key (the gettext convention), so the code reads as it shows and
English needs no catalog: `t()` looks the text up in the active language's catalog, then fills in
the named fields (`{name}`, never positional ones, so a translation may put them in another order).
Each other language is one JSON file beside this one (`de.json`: {English: translation}), read by
Python here and by the page (web/i18n.js fetches `i18n/<code>.json`, in the page for index.html and
web/boot.js, in the worker for web/offline.js and web/model-store.js), so the page and the app never
disagree on a word. tests/test_i18n.py fails when a
catalog misses a string the code or the page uses, has one they no longer use, or differs in its
fields.

To add a language: copy de.json to <code>.json, translate every value, add the code to `LANGUAGES`
here, in web/i18n.js and to the menu in web/index.html; the test names what is missing.

What is not translated: identifiers (layer types such as "dense"), code (the exported PyTorch script,
the Python page), names of data and models, log lines for developers, and the section headings of a
clinical note, which are the note model's output format.

The default is English, so command-line users (hearth.train, hearth.notes and hearth.llm messages
are wrapped too) see what they always saw; the web worker calls `set_language()` with the page's
choice before it builds the interface (web/worker.js), and the page reloads on a new choice, so the
language never changes under a page that is drawn.

Owns: the active language, the catalogs, `t()`, `N_()` and `number()`. Imports: json and pathlib
only, nothing of hearth, so every package may use it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LANGUAGES = {"en": "English", "de": "Deutsch"}
SOURCE = "en"  # the language the code is written in: its texts are the keys

_active = SOURCE


@cache
def catalog(code: str) -> dict[str, str]:
    """The catalog of `code` ({English: translation}); the source language has none."""
    if code == SOURCE:
        return {}
    return json.loads((Path(__file__).with_name(f"{code}.json")).read_text(encoding="utf-8"))


def set_language(code: str) -> None:
    """Show every later text in `code` (one of LANGUAGES); an unknown code is an error, not English."""
    global _active
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; known: {', '.join(LANGUAGES)}")
    catalog(code)  # read it now: a broken catalog fails at start, not in the middle of a page
    _active = code


def language() -> str:
    return _active


# How each language groups thousands and marks decimals (English: 1,797.5; German: 1.797,5).
SEPARATORS = {"en": (",", "."), "de": (".", ",")}


def number(value: int | float) -> str:
    """`value` with its thousands grouped, as the active language writes numbers (1,797 / 1.797)."""
    text = f"{value:,}"
    group, point = SEPARATORS[_active]
    return text.translate(str.maketrans({",": group, ".": point}))


def N_(text: str) -> str:
    """Mark `text` for the catalog where it is defined, to be translated where it is shown (`t(text)`)."""
    return text


def t(text: str, /, **fields: object) -> str:
    """`text` in the active language, its `{name}` fields filled in from `fields`."""
    translated = catalog(_active).get(text, text)
    return translated.format(**fields) if fields else translated
