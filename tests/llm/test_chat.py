"""Chat prompts from the real SmolLM2, Llama 3 and Llama 3.2 templates, against known strings and transformers."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from hearth.llm.text.chat import ChatTemplateError, load_tokenizer_config, render_chat

VISIT = [
    {"role": "system", "content": "You write clinical notes.  "},
    {"role": "user", "content": "[doctor] hi , martha . how are you ?\n[patient] i'm doing okay ."},
    {"role": "assistant", "content": "CHIEF COMPLAINT\n\nAnnual exam."},
    {"role": "user", "content": "  Now the plan, in two lines. "},
]


@pytest.fixture(scope="module")
def configs(model_dir) -> dict[str, dict]:
    return {name: load_tokenizer_config(model_dir(name)) for name in ("smollm2", "llama3", "llama3.2")}


def test_smollm2_prompt_is_chatml_with_its_default_system_prompt(configs):
    prompt = render_chat(configs["smollm2"], [{"role": "user", "content": "What is the capital of France?"}])
    assert prompt == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    with_system = render_chat(configs["smollm2"], VISIT[:2], add_generation_prompt=False)
    assert with_system == (
        "<|im_start|>system\nYou write clinical notes.  <|im_end|>\n"
        "<|im_start|>user\n[doctor] hi , martha . how are you ?\n[patient] i'm doing okay .<|im_end|>\n"
    )


def test_llama3_prompt_has_headers_trimmed_content_and_one_bos(configs):
    prompt = render_chat(configs["llama3"], VISIT)
    assert prompt == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou write clinical notes.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
        "[doctor] hi , martha . how are you ?\n[patient] i'm doing okay .<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nCHIEF COMPLAINT\n\nAnnual exam.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nNow the plan, in two lines.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_llama32_prompt_dates_the_system_header(configs):
    prompt = render_chat(configs["llama3.2"], [{"role": "user", "content": "Hi"}], date_string="26 Jul 2024")
    assert prompt == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    days = {datetime.now().strftime("%d %b %Y")}
    prompt = render_chat(configs["llama3.2"], [{"role": "user", "content": "Hi"}])
    days.add(datetime.now().strftime("%d %b %Y"))  # in case midnight passed in between
    assert any(f"Today Date: {day}\n" in prompt for day in days)


def test_llama32_template_errors_reach_the_caller_as_a_clear_message(configs):
    calls = {"role": "assistant", "tool_calls": [{"function": {"name": "a", "arguments": {}}}] * 2}
    with pytest.raises(ChatTemplateError, match="only supports single tool-calls"):
        render_chat(configs["llama3.2"], [{"role": "user", "content": "x"}, calls], date_string="1 Jan 2025")


BP_TOOL = {"name": "get_bp", "description": "Blood pressure <latest> & trend",
           "parameters": {"type": "object", "properties": {"day": {"type": "string"}}}}
TOOLS = [{"type": "function", "function": BP_TOOL}]
CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}],
    VISIT,
    VISIT[1:],
    [{"role": "user", "content": "Ünïcödé ✓ 日本 <tag> & \"quotes\""}],
    [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
     {"role": "assistant", "tool_calls": [{"function": {"name": "get_bp", "arguments": {"day": "today"}}}]},
     {"role": "tool", "content": {"systolic": 120, "note": "<ok>"}}, {"role": "user", "content": "and?"}],
]


@pytest.mark.parametrize("name", ["smollm2", "llama3", "llama3.2"])
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_equals_transformers_rendering(configs, name, add_generation_prompt):
    utils = pytest.importorskip("transformers.utils.chat_template_utils")
    config = configs[name]
    specials = {k: config[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token") if config.get(k)}
    for messages in CONVERSATIONS[:4] if name != "llama3.2" else CONVERSATIONS:
        for extra in ({"date_string": "03 Feb 2025"}, {"date_string": "03 Feb 2025", "tools": TOOLS}):
            if "tools" in extra and name != "llama3.2":
                continue
            (expected,), _ = utils.render_jinja_template(
                conversations=[json.loads(json.dumps(messages))], chat_template=config["chat_template"],
                add_generation_prompt=add_generation_prompt, **specials, **extra,
            )
            assert render_chat(config, messages, add_generation_prompt=add_generation_prompt, **extra) == expected


def test_chat_template_jinja_file_wins_over_the_config(tmp_path, configs):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(configs["smollm2"]), encoding="utf-8")
    (tmp_path / "chat_template.jinja").write_text(
        "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% generation %}{{ eos_token }}"
        "{% endgeneration %}", encoding="utf-8"
    )
    config = load_tokenizer_config(tmp_path)
    assert render_chat(config, [{"role": "user", "content": "Hi"}]) == "[user]Hi<|im_end|>"


def test_bad_templates_and_messages_say_what_is_wrong(tmp_path, configs):
    with pytest.raises(ChatTemplateError, match="no chat template"):
        render_chat({"bos_token": "<s>"}, [{"role": "user", "content": "Hi"}])
    with pytest.raises(ChatTemplateError, match="does not parse"):
        render_chat({"chat_template": "{% for m in messages %}"}, [])
    with pytest.raises(ChatTemplateError, match="list of dicts"):
        render_chat(configs["smollm2"], ["Hi"])  # type: ignore[list-item]
    with pytest.raises(ChatTemplateError, match="No tokenizer_config.json"):
        load_tokenizer_config(tmp_path)
    # The sandbox holds: a template cannot reach Python internals.
    with pytest.raises(Exception, match="unsafe|underscore"):
        render_chat({"chat_template": "{{ messages.__class__.__mro__ }}"}, [])
    with pytest.raises(ChatTemplateError, match="underscore"):
        render_chat({"chat_template": "{% set ns = namespace(_x=1) %}"}, [])
