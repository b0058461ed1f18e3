"""`python -m hearth tokenize` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PYSRC = Path(__file__).resolve().parents[2] / "pysrc"
TEXT = "Patient: I've had a cough\r\nfor 3 days 🤒 — «très» 日本\n<|eot_id|>"


def _hearth(*args: str, stdin: bytes) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PYSRC)}
    return subprocess.run([sys.executable, "-m", "hearth", *args], input=stdin, capture_output=True, env=env)


def test_tokenize_prints_the_ids_tokenizers_gives(model_dir, loaded):
    _, hf = loaded("llama3.2")
    done = _hearth("tokenize", "--tokenizer", str(model_dir("llama3.2")), stdin=TEXT.encode())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == hf.encode(TEXT).ids
    done = _hearth("tokenize", "--tokenizer", str(model_dir("llama3.2") / "tokenizer.json"), "--no-special-tokens",
                   stdin=TEXT.encode())
    assert json.loads(done.stdout) == hf.encode(TEXT, add_special_tokens=False).ids


def test_tokenize_explains_bad_input(tmp_path, model_dir):
    done = _hearth("tokenize", "--tokenizer", str(tmp_path), stdin=b"hi")
    assert done.returncode == 2 and "No tokenizer at" in done.stderr.decode()
    done = _hearth("tokenize", "--tokenizer", str(model_dir("smollm2")), stdin=b"\xff\xfe bad")
    assert done.returncode == 2 and "not UTF-8" in done.stderr.decode()
