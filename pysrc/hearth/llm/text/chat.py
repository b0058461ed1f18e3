"""Chat prompts rendered from a model's own Jinja chat template, exactly as Hugging Face transformers renders them.

    config = load_tokenizer_config("models/smollm2")
    prompt = render_chat(config, [{"role": "user", "content": "Hi"}])
    ids = tokenizer.encode(prompt, add_special_tokens=False)   # the template already wrote any BOS

A model answers well only when prompted in the exact format it was fine-tuned on, and that format
lives in `tokenizer_config.json` (`chat_template`) or `chat_template.jinja`. We run it with the
same Jinja environment transformers uses (sandboxed, trim_blocks + lstrip_blocks, its `tojson`,
`raise_exception`, `strftime_now`, `namespace` and `dict` globals, and the special tokens as
variables), so the prompt matches what the model saw in training character for character.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hearth.i18n import t

# Special tokens transformers passes to every template, when the config names them.
SPECIAL_TOKEN_NAMES = (
    "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
    "additional_special_tokens",
)


class ChatTemplateError(ValueError):
    """The chat template is missing or broken, or refused these messages (its own message says why)."""


class _GenerationTag(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}` marks assistant text for training masks; rendering keeps it as is."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller: Any) -> str:
        return caller()


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    # Jinja's own tojson escapes HTML characters (<, >, &, '), which would change the prompt.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


class _TemplateDict:
    """`dict(...)` for templates, without handing them the `dict` type itself."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict:
        return dict.fromkeys(*args, **kwargs)


class _TemplateNamespace(jinja2.utils.Namespace):
    """Jinja's `namespace`, refusing underscore names so a template cannot reach Python internals."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # Jinja's own signature trick
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            _TemplateNamespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _TemplateNamespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(f"Chat templates cannot set underscore attributes ({name!r}).")


@functools.lru_cache(maxsize=8)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _TemplateDict()
    env.globals["namespace"] = _TemplateNamespace
    try:
        return env.from_string(template)
    except jinja2.exceptions.TemplateSyntaxError as error:
        raise ChatTemplateError(
            f"The model's chat template does not parse (line {error.lineno}: {error.message}); "
            "the tokenizer_config.json is damaged or written for another template engine."
        ) from None


def _token_text(value: Any) -> Any:
    """A special token as the template sees it: configs write either "<s>" or {"content": "<s>", ...}."""
    if isinstance(value, dict) and "content" in value:
        return value["content"]
    if isinstance(value, list):
        return [_token_text(v) for v in value]
    return value


def _pick_template(tokenizer_config: dict[str, Any], tools: Any) -> str:
    template = tokenizer_config.get("chat_template")
    if isinstance(template, list):  # named templates, as some configs ship ("default", "tool_use", ...)
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("tool_use") if tools is not None and "tool_use" in named else named.get("default")
    if not isinstance(template, str) or not template:
        raise ChatTemplateError(
            "This model has no chat template (no 'chat_template' in tokenizer_config.json and no "
            "chat_template.jinja); it is probably a base model, not an instruction-tuned one. Pick an Instruct model."
        )
    return template


def render_chat(
    tokenizer_config: dict[str, Any],
    messages: list[dict[str, Any]],
    add_generation_prompt: bool = True,
    **extra: Any,
) -> str:
    """The prompt text for `messages`, as `tokenizer.apply_chat_template(..., tokenize=False)` would give.

    `extra` reaches the template as variables, e.g. `date_string="26 Jul 2024"` to pin Llama 3.2's
    date line (otherwise it is today's date, via strftime_now) or `tools=[...]`.
    """
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ChatTemplateError("messages must be a list of dicts like {'role': 'user', 'content': 'Hi'}.")
    template = _compile(_pick_template(tokenizer_config, extra.get("tools")))
    variables: dict[str, Any] = {
        name: _token_text(tokenizer_config[name])
        for name in SPECIAL_TOKEN_NAMES
        if tokenizer_config.get(name) is not None
    }
    variables.update(extra)
    variables.setdefault("tools", None)
    variables.setdefault("documents", None)
    try:
        return template.render(messages=messages, add_generation_prompt=add_generation_prompt, **variables)
    except jinja2.exceptions.TemplateError as error:
        raise ChatTemplateError(t("The model's chat template refused these messages: {error}", error=error)) from None


def load_tokenizer_config(path: str | Path) -> dict[str, Any]:
    """A model folder's tokenizer_config.json, with chat_template.jinja (if present) as its chat template.

    transformers prefers the separate `chat_template.jinja` when a folder has one; so do we.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    config_path = folder / "tokenizer_config.json" if path.is_dir() else path
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChatTemplateError(f"No tokenizer_config.json at {config_path}; pass the model folder.") from None
    except json.JSONDecodeError as error:
        raise ChatTemplateError(f"{config_path} is not valid JSON ({error}); download it again.") from None
    jinja_file = folder / "chat_template.jinja"
    if jinja_file.exists():
        config["chat_template"] = jinja_file.read_text(encoding="utf-8")
    return config
