"""Language-model commands for `python -m hearth`: tokenize, generate, convert-model.

One register/run pair per command, in that order; `register()` lists them. Heavy imports (onnxruntime,
the converter) happen inside the run functions, so `python -m hearth --help` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from hearth.llm.text.tokenizer import Tokenizer, TokenizerError


def register(subparsers: argparse._SubParsersAction) -> None:
    register_tokenize(subparsers)
    register_generate(subparsers)
    register_convert(subparsers)


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


# ---- generate ----------------------------------------------------------------------------------------


def register_generate(subparsers: argparse._SubParsersAction) -> None:
    gen = subparsers.add_parser("generate", help="complete a prompt with a language model (CPython onnxruntime)")
    gen.add_argument("--model", default="smollm2",
                     help="a model directory, or 'smollm2' for the built-in model (built on first use)")
    gen.add_argument("--prompt", required=True, help="the user's message (or raw text with --raw)")
    gen.add_argument("--system", help="a system message to put before the prompt")
    gen.add_argument("--raw", action="store_true", help="feed the prompt as plain text, without the chat template")
    gen.add_argument("--max-tokens", type=int, default=256)
    gen.add_argument("--greedy", action="store_true", help="always take the most likely token (temperature 0)")
    gen.add_argument("--temperature", type=float, default=0.7)
    gen.add_argument("--top-k", type=int, default=0)
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--repetition-penalty", type=float, default=1.0)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--onnx-file", help="which file under the model directory, e.g. onnx/model_q4.onnx")
    gen.add_argument("--stats", action="store_true", help="print timings to stderr")
    gen.set_defaults(run=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    return asyncio.run(_generate(args))


async def _generate(args: argparse.Namespace) -> int:
    from hearth.llm.files.builtin_models import resolve_model
    from hearth.llm.files.model_dir import load_model_dir
    from hearth.llm.model.generate import ContextLengthError, GenerationSettings, ModelFilesError

    try:
        model_dir = resolve_model(args.model)
        model = await load_model_dir(model_dir, onnx_file=args.onnx_file)
    except (FileNotFoundError, ModelFilesError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = GenerationSettings(
        max_new_tokens=args.max_tokens, temperature=0.0 if args.greedy else args.temperature, top_k=args.top_k,
        top_p=args.top_p, repetition_penalty=args.repetition_penalty, seed=args.seed)
    if args.raw:
        prompt = args.prompt
    else:
        prompt = ([{"role": "system", "content": args.system}] if args.system else []) + [
            {"role": "user", "content": args.prompt}]
    try:
        async for piece in model.stream(prompt, settings):
            sys.stdout.write(piece)
            sys.stdout.flush()
    except ContextLengthError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write("\n")
    result = model.last
    if args.stats and result is not None:
        print(f"[{result.prompt_tokens} prompt tokens, {len(result.token_ids)} new, first token "
              f"{result.time_to_first_token:.2f} s, {result.tokens_per_second:.1f} tokens/s, "
              f"stopped: {result.finish_reason}]", file=sys.stderr)
    return 0


# ---- convert-model -----------------------------------------------------------------------------------


def register_convert(subparsers: argparse._SubParsersAction) -> None:
    from hearth.llm.files.convert import DEFAULT_QUANT, QUANTS

    conv = subparsers.add_parser("convert-model", help="convert a Hugging Face Llama checkpoint or GGUF to ONNX")
    conv.add_argument("source", type=Path, help="a checkpoint directory (config.json + *.safetensors) or a .gguf file")
    conv.add_argument("out_dir", type=Path)
    conv.add_argument("--quant", action="append", choices=sorted(QUANTS),
                      help=f"quantization(s) to write (repeatable; default {DEFAULT_QUANT})")
    conv.add_argument("--attention", choices=["plain", "gqa"], default="plain",
                      help="plain ONNX ops (default, fastest on wasm) or GroupQueryAttention (for WebGPU)")
    conv.set_defaults(run=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from hearth.llm.files.convert import DEFAULT_QUANT, ConvertError, convert_checkpoint, convert_gguf
    from hearth.llm.model.weights import WeightsError

    quants = tuple(args.quant or [DEFAULT_QUANT])
    source: Path = args.source
    try:
        if source.is_file() and source.suffix == ".gguf":
            manifest = convert_gguf(source, args.out_dir, quants, attention=args.attention)
        elif source.is_dir():
            manifest = convert_checkpoint(source, args.out_dir, quants, attention=args.attention)
        else:
            raise ConvertError(f"{source} is neither a checkpoint directory nor a .gguf file")
    except (ConvertError, WeightsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, info in manifest["files"].items():
        print(f"{info['size']:>12,}  {name}")
    return 0
