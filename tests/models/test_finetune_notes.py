"""models/finetune_notes.py on a tiny random Llama: prompts and labels, a few LoRA steps, exact resume."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the fine-tuning tests need torch (requirements/reference.txt)")
pytest.importorskip("transformers", reason="the fine-tuning tests need transformers (requirements/reference.txt)")
pytest.importorskip("peft", reason="peft is not importable: install requirements/reference.txt (peft is pinned "
                    "there) to run the fine-tuning tests")

from models.finetune_notes import (  # noqa: E402
    IGNORE,
    Encoded,
    Example,
    TrainConfig,
    aci_examples,
    answer_loss,
    encode_example,
    evaluate_valid,
    mts_examples,
    pack_shared_prompts,
    train,
)

from hearth.notes.formats import ACI, NOT_STATED  # noqa: E402
from hearth.notes.prompts import section_messages, section_request  # noqa: E402
from tests.llm.model_fixtures import tiny_hf_config, torch_llama  # noqa: E402

VOCAB = 300
EOS = 2


class WordTokenizer:
    """One id per whitespace-separated word (a stable hash into the tiny model's vocabulary) and a ChatML-like
    template: enough to check where the prompt ends and what carries loss."""

    eos_token_id = EOS

    def __init__(self) -> None:
        self.words: dict[int, str] = {}

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        ids = []
        for word in text.split():
            i = 3 + zlib.crc32(word.encode()) % (VOCAB - 3)
            self.words.setdefault(i, word)
            ids.append(i)
        return ids

    def decode(self, ids: Any, skip_special_tokens: bool = False) -> str:
        return " ".join(self.words.get(int(i), "?") for i in ids)

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = True) -> str:
        text = "".join(f"<|{m['role']}|> {m['content']} <|end|> " for m in messages)
        return text + ("<|assistant|> " if add_generation_prompt else "")


TRANSCRIPT_A = ("Doctor: what brings you in today?\nPatient: my right knee hurts when I climb stairs.\n"
                "Doctor: any swelling?\nPatient: a little in the evening.")
TRANSCRIPT_B = ("Doctor: how is your blood pressure?\nPatient: the readings at home are about 150 over 90.\n"
                "Doctor: are you taking the lisinopril?\nPatient: yes, 10 mg every morning.")


def hand_examples() -> list[Example]:
    return [Example("a", TRANSCRIPT_A, "aci", "chief_complaint", "Right knee pain."),
            Example("b", TRANSCRIPT_B, "aci", "assessment_and_plan",
                    "Hypertension, not controlled. Continue lisinopril 10 mg daily.")]


def tiny_model(seed: int = 0) -> Any:
    return torch_llama(tiny_hf_config(max_position_embeddings=1024, rope_scaling=None), seed=seed).float()


def encoded_examples(tokenizer: WordTokenizer) -> list[Encoded]:
    out = [encode_example(tokenizer, e, 512) for e in hand_examples()]
    assert all(e is not None for e in out)
    return [e for e in out if e is not None]


def config(**overrides: Any) -> TrainConfig:
    values: dict[str, Any] = dict(lora_r=4, lora_alpha=8, lora_dropout=0.1, lr=1e-2, warmup_steps=1, epochs=3,
                                  grad_accum=1, save_every=2, seed=3)
    values.update(overrides)
    return TrainConfig(**values)


def test_prompt_is_the_notes_page_request_and_only_the_answer_carries_loss() -> None:
    tok = WordTokenizer()
    example = hand_examples()[1]
    encoded = encode_example(tok, example, 512)
    assert encoded is not None and not encoded.truncated
    spec = ACI.section("assessment_and_plan")
    prompt = tok.encode(tok.apply_chat_template(section_messages(TRANSCRIPT_B, ACI, spec)))
    answer = tok.encode(example.answer) + [EOS]
    assert encoded.input_ids == prompt + answer
    assert encoded.labels == [IGNORE] * len(prompt) + answer


def test_too_long_cuts_the_transcript_end_but_keeps_instruction_and_answer() -> None:
    tok = WordTokenizer()
    long = Example("long", TRANSCRIPT_A + "\n" + "\n".join(f"Patient: word{i} more" for i in range(400)),
                   "aci", "chief_complaint", "Right knee pain.")
    encoded = encode_example(tok, long, 300)
    assert encoded is not None and encoded.truncated
    assert len(encoded.input_ids) <= 300
    request = tok.encode(section_request(ACI, ACI.section("chief_complaint")))
    answer = tok.encode(long.answer) + [EOS]
    assert encoded.input_ids[-len(answer):] == answer
    prompt = encoded.input_ids[: -len(answer)]
    assert prompt[-len(request) - 2: -2] == request  # then "<|end|> <|assistant|>"
    assert encode_example(tok, long, 20) is None  # not even the system prompt fits


def test_examples_from_aci_bench_and_mts_dialog(tmp_path: Path) -> None:
    note = "CHIEF COMPLAINT\n\nKnee pain.\n\nASSESSMENT AND PLAN\n\nOsteoarthritis. Ice and rest."
    aci = aci_examples([{"encounter_id": "D1", "dialogue": "[doctor] hi\n[patient] my knee hurts", "note": note}],
                       [ACI])
    answers = {e.section_key: e.answer for e in aci}
    assert answers["chief_complaint"] == "Knee pain."
    assert answers["assessment_and_plan"] == "Osteoarthritis. Ice and rest."
    assert answers["review_of_systems"] == NOT_STATED
    assert aci[0].transcript == "Doctor: hi\nPatient: my knee hurts"
    assert len(aci_examples([{"dialogue": "[doctor] hi", "note": note}], [ACI], not_stated=False)) == 2
    mts = mts_examples([{"ID": "0", "section_header": "FAM/SOCHX", "section_text": "Nonsmoker.",
                         "dialogue": "Doctor: Do you smoke?\nPatient: No."},
                        {"ID": "1", "section_header": "EDCOURSE", "section_text": "x", "dialogue": "Doctor: hi"}])
    assert [(e.section_key, e.answer) for e in mts] == [("history_of_present_illness", "Nonsmoker.")]


def test_packed_visit_gives_each_section_the_loss_it_has_alone() -> None:
    """Three sections of one visit packed over one copy of the transcript: the same summed loss on the same
    answer tokens as three separate sequences, with far fewer tokens; the other visit stays alone."""
    tok = WordTokenizer()
    examples = [Example("a", TRANSCRIPT_A, "aci", "chief_complaint", "Right knee pain."),
                Example("a", TRANSCRIPT_A, "aci", "history_of_present_illness",
                        "Right knee pain on stairs, mild evening swelling."),
                Example("a", TRANSCRIPT_A, "aci", "review_of_systems", NOT_STATED),
                hand_examples()[1]]
    singles = [encode_example(tok, e, 512) for e in examples]
    packed = pack_shared_prompts(examples, singles)
    assert len(packed) == 2 and packed[1] == singles[3]
    group = packed[0]
    assert group.branch is not None and set(group.branch) == {0, 1, 2, 3}
    assert len(group.input_ids) < sum(len(e.input_ids) for e in singles[:3]) / 2
    model = tiny_model().eval()
    with torch.no_grad():
        alone = [answer_loss(model, e, "cpu", False) for e in singles[:3]]
        together, count = answer_loss(model, group, "cpu", False)
    assert count == sum(n for _, n in alone)
    assert float(together) == pytest.approx(sum(float(loss) for loss, _ in alone), rel=1e-5)


def test_lora_steps_lower_the_loss(tmp_path: Path) -> None:
    encoded = encoded_examples(WordTokenizer())

    def mean_loss(model: Any) -> float:
        model.eval()
        with torch.no_grad():
            sums = [answer_loss(model, e, "cpu", False) for e in encoded]
        model.train()
        return sum(float(s) for s, _ in sums) / sum(n for _, n in sums)

    base = tiny_model()
    before = mean_loss(base)
    model, summary = train(base, encoded, config(lora_dropout=0.0, epochs=4), tmp_path / "run", log=lambda s: None)
    after = mean_loss(model)
    assert summary["steps_done"] == 8
    assert after < 0.8 * before, (before, after)
    assert (tmp_path / "run" / "log.jsonl").read_text().count("\n") == 8


def test_resume_after_step_2_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    from peft import get_peft_model_state_dict

    encoded = encoded_examples(WordTokenizer())
    whole, _ = train(tiny_model(), encoded, config(max_steps=4), tmp_path / "whole", log=lambda s: None)
    train(tiny_model(), encoded, config(max_steps=2), tmp_path / "split", log=lambda s: None)
    resumed, summary = train(tiny_model(), encoded, config(max_steps=4), tmp_path / "split", resume=True,
                             log=lambda s: None)
    assert summary["steps_done"] == 4
    a, b = get_peft_model_state_dict(whole), get_peft_model_state_dict(resumed)
    assert a.keys() == b.keys() and len(a) > 0
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert (tmp_path / "whole" / "log.jsonl").read_text().count("\n") == 4
    whole_losses = [line.split('"loss": ')[1].split(",")[0] for line in (tmp_path / "whole" / "log.jsonl").open()]
    split_losses = [line.split('"loss": ')[1].split(",")[0] for line in (tmp_path / "split" / "log.jsonl").open()]
    assert whole_losses == split_losses


def test_valid_scores_come_from_drafts_of_every_section() -> None:
    note = "CHIEF COMPLAINT\n\nKnee pain.\n\nASSESSMENT AND PLAN\n\nOsteoarthritis of the right knee."
    rows = [{"dataset": "virtassist", "dialogue": "[doctor] what brings you in ?\n[patient] my knee hurts", "note": note}]
    scores = evaluate_valid(tiny_model().eval(), WordTokenizer(), rows, ACI, "cpu", max_tokens=4)
    assert scores["num_test"] == 1
    assert {"ALL", "division-subjective", "dataset-virtassist", "facts"} <= scores.keys()
