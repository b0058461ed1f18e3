"""Language-model commands for `python -m hearth` (one function per command; register() lists them)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hearth.llm.tokenizer import Tokenizer, TokenizerError


def register(subparsers: argparse._SubParsersAction) -> None:
    from hearth.llm.model_cli import register_model_commands

    register_tokenize(subparsers)
    register_model_commands(subparsers)  # generate, convert-model


# ---- tokenize ----------------------------------------------------------------------------------------


def register_tokenize(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tokenize",
        help="print the token ids of the text on stdin as JSON",
        description="Read UTF-8 text on stdin and print its token ids as a JSON list, exactly as the "
        "browser engine would feed them to the model.",
    )
    p.add_argument("--tokenizer", required=True, type=Path, help="a tokenizer.json, or a model folder holding one")
    p.add_argument("--no-special-tokens", action="store_true",
                   help="do not add the tokens the tokenizer adds itself (Llama 3's <|begin_of_text|>)")
    p.set_defaults(run=run_tokenize)


def run_tokenize(args: argparse.Namespace) -> int:
    try:
        tokenizer = Tokenizer.from_file(args.tokenizer)
        # Bytes, not text mode: text mode would turn "\r\n" into "\n" and change the ids.
        text = sys.stdin.buffer.read().decode("utf-8")
        ids = tokenizer.encode(text, add_special_tokens=not args.no_special_tokens)
    except UnicodeDecodeError as error:
        print(f"hearth tokenize: stdin is not UTF-8 text ({error}); convert it to UTF-8 first.", file=sys.stderr)
        return 2
    except TokenizerError as error:
        print(f"hearth tokenize: {error}", file=sys.stderr)
        return 2
    print(json.dumps(ids))
    return 0
