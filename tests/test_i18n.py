"""Every word the visitor reads has its German: the catalogs (pysrc/hearth/i18n/*.json) against the code.

The keys are found where they are used, not listed by hand: the first argument of every `t(...)`
and `N_(...)` in pysrc/hearth (by AST) and in web/*.js (by regex, double-quoted literals only), the
elements of web/index.html marked `data-i18n` (their text) and `data-i18n-attr` (those attributes),
and the parts' titles and labels (sitebuild.site.PARTS, which the offline panel shows). A catalog
must have each of them, with the same {fields}, none empty, and nothing the code no longer uses.

A second test guards the other direction: a word written straight into a page of pysrc/hearth/app
(a widget's label, a tab title, a notice) without t() fails it, unless it is in ALLOWED below.
"""

from __future__ import annotations

import ast
import json
import re
import string
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hearth import i18n
from sitebuild.site import PARTS

REPO = Path(__file__).resolve().parent.parent
PYSRC = REPO / "pysrc" / "hearth"
WEB = REPO / "web"
OTHER_LANGUAGES = [code for code in i18n.LANGUAGES if code != i18n.SOURCE]


# ---------------------------------------------------------------- where the keys are used

def _marked(node: ast.AST) -> bool:
    """A call of t(...) or N_(...), however imported (`t`, `i18n.t`)."""
    if not isinstance(node, ast.Call):
        return False
    name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else ""
    return name in ("t", "N_")


def python_keys() -> dict[str, str]:
    """{English text: where it is used} for every literal first argument of t()/N_() in pysrc/hearth."""
    keys: dict[str, str] = {}
    for path in sorted(PYSRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if _marked(node) and node.args:
                first = node.args[0]
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                assert not isinstance(first, ast.JoinedStr), f"{where}: t() of an f-string can never be in a catalog; use fields"
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    keys.setdefault(first.value, where)
    return keys


JS_CALL = re.compile(r'\b(?:t|N_)\(\s*("(?:[^"\\]|\\.)*")')


class _MarkedHtml(HTMLParser):
    """The texts of index.html's data-i18n elements and the values of their data-i18n-attr attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []
        self.open: list[list[str] | None] = []  # per open element: its text so far, if it is marked

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        for name in (attrs.get("data-i18n-attr") or "").split(","):
            if name:
                self.keys.append(attrs[name])
        if tag in ("meta", "link", "img", "input", "br", "source"):
            return
        self.open.append([] if "data-i18n" in attrs else None)

    def handle_endtag(self, tag) -> None:
        if tag in ("meta", "link", "img", "input", "br", "source"):
            return
        text = self.open.pop()
        if text is not None:
            self.keys.append(" ".join("".join(text).split()))

    def handle_data(self, data) -> None:
        for text in self.open:
            if text is not None:
                text.append(data)


def web_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for path in sorted(WEB.glob("*.js")):
        source = path.read_text()
        for match in JS_CALL.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            keys.setdefault(json.loads(match.group(1)), f"web/{path.name}:{line}")
    parser = _MarkedHtml()
    parser.feed((WEB / "index.html").read_text())
    for key in parser.keys:
        keys.setdefault(key, "web/index.html")
    for name, part in PARTS.items():
        keys.setdefault(part["title"], f"sitebuild/site.py PARTS[{name!r}]")
        keys.setdefault(part["label"], f"sitebuild/site.py PARTS[{name!r}]")
    return keys


def used_keys() -> dict[str, str]:
    return {**web_keys(), **python_keys()}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# ---------------------------------------------------------------- the catalogs

def test_keys_are_found() -> None:
    """The scan itself works: known keys from each kind of place are found."""
    keys = used_keys()
    for key in ("Train", "Runs on this device", "Starting Python…", "Reload", "Offline use", PARTS["app"]["label"]):
        assert key in keys, key


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_catalog_complete(code: str) -> None:
    catalog = i18n.catalog(code)
    missing = {key: where for key, where in used_keys().items() if key not in catalog}
    assert not missing, f"{code}.json lacks {len(missing)} texts:\n" + "\n".join(f"  {w}: {k!r}" for k, w in missing.items())


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_catalog_matches_the_code(code: str) -> None:
    catalog = i18n.catalog(code)
    used = used_keys()
    stale = sorted(set(catalog) - set(used))
    assert not stale, f"{code}.json has texts nothing uses any more: {stale}"
    empty = sorted(key for key, value in catalog.items() if not value.strip())
    assert not empty, f"{code}.json has empty translations: {empty}"
    wrong = {key: value for key, value in catalog.items() if fields(key) != fields(value)}
    assert not wrong, f"{code}.json: fields differ from the English: {wrong}"


def test_catalog_is_read_as_written() -> None:
    """The page (JSON.parse) and Python read the same file: plain JSON, an object of strings."""
    for code in OTHER_LANGUAGES:
        raw = json.loads((PYSRC / "i18n" / f"{code}.json").read_text(encoding="utf-8"))
        assert isinstance(raw, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items())


def test_the_page_offers_the_same_languages() -> None:
    """web/i18n.js and index.html's menu list the languages hearth.i18n has, no more, no fewer."""
    source = (WEB / "i18n.js").read_text()
    listed = dict(re.findall(r'(\w+): "([^"]+)"', re.search(r"LANGUAGES = \{([^}]*)\}", source).group(1)))
    assert listed == i18n.LANGUAGES
    menu = re.search(r'<select id="language".*?</select>', (WEB / "index.html").read_text(), re.S).group(0)
    assert dict(re.findall(r'<option value="(\w+)"[^>]*>([^<]+)</option>', menu)) == i18n.LANGUAGES


def test_t_fills_fields_and_switches() -> None:
    try:
        assert i18n.language() == "en"
        assert i18n.t("{stored} of {size}", stored="1.0 MB", size="2.0 MB") == "1.0 MB of 2.0 MB"
        assert i18n.number(1797) == "1,797" and i18n.number(1234.5) == "1,234.5"
        i18n.set_language("de")
        assert i18n.language() == "de"
        assert i18n.t("Train") == i18n.catalog("de")["Train"] != "Train"
        assert i18n.t("{stored} of {size}", stored="1.0 MB", size="2.0 MB") == "1.0 MB von 2.0 MB"
        assert i18n.number(1797) == "1.797" and i18n.number(1234.5) == "1.234,5"
        with pytest.raises(ValueError, match="unknown language"):
            i18n.set_language("xx")
        assert i18n.language() == "de"
    finally:
        i18n.set_language("en")


# ---------------------------------------------------------------- words left unwrapped

# Keyword arguments and attributes whose text a visitor reads.
SHOWN = {"name", "label", "placeholder", "title", "description", "button_name", "alt", "caption", "tooltip",
         "legend_label", "x_axis_label", "y_axis_label", "axis_label"}
SHOWN_ATTRIBUTES = {"object", "name", "label", "placeholder", "title", "description"}
# Calls whose first argument is shown (panes, buttons, the page helpers in hearth.app.widgets.html).
SHOWN_FIRST = {"Markdown", "Alert", "HTML", "Str", "Button", "Toggle", "notice", "heading", "Tabs", "Accordion",
               "DataError", "ValueError"}  # the app's errors are shown (engine errors: see the module docstring)

# Literals that may stay as they are, each with why. (file, text) pairs.
ALLOWED: dict[tuple[str, str], str] = {
    ("worker.py", "Hearth"): "the app's name, the document title Panel sets (index.html's <title> is translated)",
    ("train_page.py", "Adam"): "an optimizer's name, the same in every language (as in the exported code)",
    ("train_page.py", "SGD"): "an optimizer's name",
    ("train_page.py", "RMSprop"): "an optimizer's name",
    ("train_page.py", "Adagrad"): "an optimizer's name",
    ("presets.py", "no preset {}; choose one of {}"): "a programming error: the page only asks for the presets it lists",
    ("language_models.py", "no model {} here: outside the browser only the built-in model exists"):
        "raised on CPython only (tests, tools), never in the page",
    ("notes_page.py", "SOAP: Subjective, Objective, Assessment, Plan"):
        "a note format named by its section headings, which the note model writes in English in every language",
    ("notes_page.py", "ACI-Bench: Chief complaint, HPI, Review of systems, Physical exam, Results, Assessment and plan"):
        "a note format named by its section headings (as above)",
}


def _letters(text: str) -> bool:
    """Whether `text` has words: letters outside HTML tags, entities and {fields}."""
    text = re.sub(r"<[^>]*>|&\w+;|\{[^}]*\}", "", text)
    return re.search(r"[A-Za-z]{2,}", text) is not None


def _literal_text(node: ast.AST) -> str | None:
    """The words of a string literal or f-string, or None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_text(node.left), _literal_text(node.right)
        return None if left is None and right is None else (left or "") + (right or "")
    return None


def unwrapped(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    inside_t: set[int] = set()
    for node in ast.walk(tree):
        if _marked(node):
            inside_t.update(id(n) for n in ast.walk(node))
    found: list[tuple[int, str]] = []
    # module-level constants (OPTIONS = {...}), so that `options=OPTIONS` is checked where OPTIONS is made
    constants = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                 for target in node.targets if isinstance(target, ast.Name)}

    def check(node: ast.AST) -> None:
        if id(node) in inside_t:
            return
        if isinstance(node, ast.Name) and node.id in constants:
            check(constants[node.id])
            return
        if isinstance(node, ast.IfExp):
            check(node.body)
            check(node.orelse)
            return
        if isinstance(node, ast.List | ast.Tuple):
            for element in node.elts:
                check(element)
            return
        if isinstance(node, ast.Dict):
            for key in node.keys:  # an options dict: its keys are shown, its values are not
                if key is not None:
                    check(key)
            return
        text = _literal_text(node)
        if text is not None and _letters(text):
            found.append((node.lineno, text))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            for keyword in node.keywords:
                if keyword.arg in SHOWN or keyword.arg == "options":
                    check(keyword.value)
            if name in SHOWN_FIRST and node.args:
                first = node.args[0]
                if name in ("Tabs", "Accordion"):
                    for arg in node.args:
                        if isinstance(arg, ast.Tuple) and arg.elts:
                            check(arg.elts[0])
                else:
                    check(first)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Attribute) and target.attr in SHOWN_ATTRIBUTES for target in targets):
                check(node.value)
    return found


def test_app_words_are_wrapped() -> None:
    left = []
    for path in sorted((PYSRC / "app").rglob("*.py")):
        rel = path.relative_to(PYSRC / "app").as_posix()
        for line, text in unwrapped(path):
            if (rel, text) not in ALLOWED:
                left.append(f"  app/{rel}:{line}: {text!r}")
    assert not left, f"{len(left)} texts shown without t():\n" + "\n".join(left)


def test_allowed_entries_are_still_there() -> None:
    """An allow-list entry nothing needs any more goes (so the list stays short and true)."""
    seen = {(path.relative_to(PYSRC / "app").as_posix(), text)
            for path in (PYSRC / "app").rglob("*.py") for _, text in unwrapped(path)}
    assert not set(ALLOWED) - seen, sorted(set(ALLOWED) - seen)
