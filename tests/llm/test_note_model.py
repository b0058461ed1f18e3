"""The note model: the built-in SmolLM2 GGUF with a LoRA adapter merged in numpy (`hearth.llm.files.lora`),
converted as the built-in model is (`ensure_note_model`).

The references are peft and transformers on the very base models/finetune_notes.py trains on (the pinned GGUF
dequantized by transformers): the numpy merge equals peft's `merge_and_unload()`, and the converted note model
writes the greedy tokens transformers writes with the merged model. The adapter is made here by peft, with
random A and B (peft starts B at zero, which would merge to nothing), so every layer really changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the note model's reference tests need torch (requirements/reference.txt)")
peft = pytest.importorskip("peft", reason="the note model's reference tests need peft (requirements/reference.txt)")

from hearth.llm.files.builtin_models import (  # noqa: E402
    SMOLLM2_GGUF,
    ensure_note_model,
    ensure_smollm2,
    note_adapter,
    smollm2_gguf,
)
from hearth.llm.files.gguf_weights import read_gguf  # noqa: E402
from hearth.llm.files.lora import AdapterError, merge, read_adapter  # noqa: E402
from hearth.llm.model.config import LlamaConfig  # noqa: E402
from hearth.llm.model.weights import BlockQuantized, as_float  # noqa: E402
from tests.llm.model_fixtures import greedy, session, torch_greedy  # noqa: E402

CARD = "Test note model: a random adapter, not trained on anything; it drafts and a clinician decides."
PROMPT = ("<|im_start|>system\nYou are a clinical scribe.<|im_end|>\n<|im_start|>user\nDoctor: any chest pain?\n"
          "Patient: no, just a cough for two weeks.\nWrite the chief complaint.<|im_end|>\n<|im_start|>assistant\n")
NEW_TOKENS = 12


def base_model() -> tuple[Any, Any]:
    """transformers' float32 model and tokenizer of the pinned GGUF, as models/finetune_notes.py loads it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def write_manifest(root: Path, sha256: str = SMOLLM2_GGUF[2]) -> None:
    (root / "manifest.json").write_text(json.dumps({"base": {"kind": "gguf", "name": "SmolLM2-135M-Instruct.Q4_1.gguf",
                                                             "sha256": sha256}}))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A peft adapter (r=4 on every linear layer, random A and B of a size that changes the model's answer)
    saved as models/finetune_notes.py saves one, and peft's own merge of it."""
    from peft import LoraConfig, get_peft_model

    root = tmp_path_factory.mktemp("note-adapter")
    model, tokenizer = base_model()
    base_ids = tokenizer.encode(PROMPT, add_special_tokens=False)
    base_tokens = torch_greedy(model, base_ids, NEW_TOKENS)
    torch.manual_seed(0)
    wrapped = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                               init_lora_weights=False, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in wrapped.named_parameters():
            if "lora_B" in name:
                p.mul_(0.05)  # peft's random B moves SmolLM2 to noise; this moves it to another answer
    wrapped.save_pretrained(str(root / "adapter"), safe_serialization=True, save_embedding_layers=False)
    write_manifest(root)
    (root / "card.txt").write_text(CARD + "\n")
    merged = wrapped.merge_and_unload().eval()
    return {"root": root, "merged": merged, "ids": base_ids, "base_tokens": base_tokens,
            "merged_tokens": torch_greedy(merged, base_ids, NEW_TOKENS)}


@pytest.fixture(scope="module")
def note_dir(made: dict[str, Any]) -> Path:
    """Built in Hearth's own cache (the seeded adapter is the same every run, so it is built once), where the
    app finds it when HEARTH_NOTE_ADAPTER names the adapter."""
    return ensure_note_model(made["root"])


def test_numpy_merge_equals_peft_merge_and_unload(made: dict[str, Any]) -> None:
    weights, _ = read_gguf(smollm2_gguf())
    adapter = read_adapter(made["root"] / "adapter")
    assert len(adapter.pairs) == 30 * 7  # q, k, v, o, gate, up, down of every layer
    ours = merge(weights, adapter)
    theirs = {k: v.detach().numpy() for k, v in made["merged"].state_dict().items()}
    worst = 0.0
    for name in adapter.pairs:
        delta = np.abs(ours[name] - as_float(weights[name]))
        assert delta.max() > 1e-3, f"{name}: the adapter changed nothing"
        worst = max(worst, float(np.abs(ours[name] - theirs[name]).max()))
    # the same float32 formula; only the order of the rank-4 sums inside B @ A may differ
    assert worst < 1e-6, worst
    untouched = [n for n in weights.tensors if n not in adapter.pairs and not isinstance(weights[n], BlockQuantized)]
    for name in untouched:
        assert np.array_equal(ours[name], theirs[name]), name


def test_converted_note_model_writes_transformers_greedy_tokens_on_the_merged_model(made: dict, note_dir: Path) -> None:
    assert made["merged_tokens"] != made["base_tokens"]  # the adapter changes the answer
    manifest = json.loads((note_dir / "manifest.json").read_text())
    assert manifest["card"] == CARD
    assert set(manifest["source"]["adapter"]) == {"adapter_config.json", "adapter_model.safetensors"}
    config = LlamaConfig.from_hf(json.loads((note_dir / "config.json").read_text()))
    s = session((note_dir / manifest["default_onnx"]).read_bytes())
    assert greedy(s, config, made["ids"], NEW_TOKENS) == made["merged_tokens"]


def test_building_twice_gives_the_same_bytes(made: dict, note_dir: Path, tmp_path: Path) -> None:
    again = ensure_note_model(made["root"], cache=tmp_path)
    assert again != note_dir
    assert (again / "manifest.json").read_bytes() == (note_dir / "manifest.json").read_bytes()  # every file's sha256


def test_an_adapter_that_changes_nothing_gives_the_built_in_model_bit_for_bit(made: dict, tmp_path: Path) -> None:
    """Merged matrices are stored as Q4_1 again, which reproduces the GGUF's own blocks where nothing changed."""
    from safetensors.numpy import load_file, save_file

    root = tmp_path / "zero"
    (root / "adapter").mkdir(parents=True)
    src = made["root"] / "adapter"
    tensors = {k: (np.zeros_like(v) if ".lora_B." in k else v) for k, v in load_file(src / "adapter_model.safetensors").items()}
    save_file(tensors, str(root / "adapter" / "adapter_model.safetensors"))
    (root / "adapter" / "adapter_config.json").write_bytes((src / "adapter_config.json").read_bytes())
    write_manifest(root)
    (root / "card.txt").write_text(CARD)
    note = ensure_note_model(root, cache=tmp_path / "cache")
    base = ensure_smollm2()
    name = json.loads((base / "manifest.json").read_text())["default_onnx"]
    assert (note / name).read_bytes() == (base / name).read_bytes()


def test_bad_adapters_get_a_clear_message(made: dict, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    src = made["root"] / "adapter"

    def copy(name: str, tensors: dict[str, np.ndarray] | None = None, raw: bytes | None = None) -> Path:
        root = tmp_path / name
        (root / "adapter").mkdir(parents=True)
        (root / "adapter" / "adapter_config.json").write_bytes((src / "adapter_config.json").read_bytes())
        target = root / "adapter" / "adapter_model.safetensors"
        if raw is not None:
            target.write_bytes(raw)
        else:
            save_file(tensors if tensors is not None else load_file(src / "adapter_model.safetensors"), str(target))
        write_manifest(root)
        (root / "card.txt").write_text(CARD)
        return root

    weights, _ = read_gguf(smollm2_gguf())

    other = copy("other-base")
    write_manifest(other, "0" * 64)
    with pytest.raises(AdapterError, match="not on the built-in SmolLM2 GGUF"):
        note_adapter(other)

    wide = {k: (np.zeros((4, 960), np.float32) if k.endswith("layers.0.self_attn.q_proj.lora_A.weight") else v)
            for k, v in load_file(src / "adapter_model.safetensors").items()}
    with pytest.raises(AdapterError, match=r"q_proj.weight' as a 576x960 matrix, but the base model's is 576x576"):
        merge(weights, read_adapter(copy("wrong-shape", wide) / "adapter"))

    renamed = {k.replace("layers.0.", "layers.99."): v for k, v in load_file(src / "adapter_model.safetensors").items()}
    with pytest.raises(AdapterError, match="layers.99.* which this base model does not have"):
        merge(weights, read_adapter(copy("wrong-layer", renamed) / "adapter"))

    whole = (src / "adapter_model.safetensors").read_bytes()
    with pytest.raises(AdapterError, match="not a readable safetensors file"):
        read_adapter(copy("truncated", raw=whole[: len(whole) // 2]) / "adapter")

    no_card = copy("no-card")
    (no_card / "card.txt").unlink()
    with pytest.raises(AdapterError, match="has no model card"):
        note_adapter(no_card)


def test_the_notes_page_picks_the_note_model_and_shows_its_card_and_chat_keeps_the_base(
        made: dict, note_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from hearth.app.chat_page import ChatPage
    from hearth.app.language_models import NOTE_ID, LanguageModels
    from hearth.app.notes_page import NotesPage
    from hearth.app.state import AppState

    monkeypatch.setenv("HEARTH_NOTE_ADAPTER", str(made["root"]))
    models = LanguageModels()
    asyncio.run(models.refresh())
    note = models.choice(NOTE_ID)
    assert note is not None and note.card == CARD and note.source == "built-in"
    assert note.size_bytes == sum(p.stat().st_size for p in note_dir.rglob("*") if p.is_file() and p.name != "manifest.json")
    page = NotesPage(models)
    assert page.model.value == NOTE_ID and list(page.model.options.values())[0] == NOTE_ID
    assert page.card.visible and CARD in page.card.object
    page.model.value = "smollm2"
    assert not page.card.visible
    chat = ChatPage(models, AppState())
    assert chat.model.value == "smollm2" and NOTE_ID not in chat.model.options.values()
    loaded = asyncio.run(models.get(NOTE_ID))
    assert models.loaded_id == NOTE_ID and loaded.tokenizer is not None
