"""`python -m hearth train ...` and `python -m hearth export ...`: the training engine from a shell.

    python -m hearth train SPEC.json --data digits --epochs 10 --seed 0 --out digits.hearth
    python -m hearth train --resume digits.hearth --data digits --epochs 5 --out digits.hearth
    python -m hearth export digits.hearth --onnx model.onnx --pytorch model.py

`train` prints one JSON line per epoch (epoch, loss, accuracy, val_loss, val_accuracy): the
contract that checks and scripts read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from hearth.train.data import BUILTIN_DATASETS, Dataset, load_builtin, load_csv, load_images
from hearth.train.export import export_onnx, export_pytorch
from hearth.train.project import load_project, save_project
from hearth.train.spec import ModelSpec
from hearth.train.trainer import Trainer

EPOCH_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")


def load_data(source: str, spec: ModelSpec, label: str | None = None) -> Dataset:
    """A built-in name, a .csv file, a .zip of class folders, or a folder of class folders."""
    if source in BUILTIN_DATASETS:
        return load_builtin(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no data {source!r}: give a built-in name ({', '.join(BUILTIN_DATASETS)}), "
                                "a .csv file, a .zip of class folders or a folder of class folders")
    shape = spec.input_shape
    size, channels = (shape[:2], shape[2]) if len(shape) == 3 else ((28, 28), 1)
    if path.is_dir():
        files = {str(p.relative_to(path).as_posix()): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
        return load_images(files, size=size, channels=channels, name=path.name)
    if path.suffix.lower() == ".zip":
        return load_images(path.read_bytes(), size=size, channels=channels, name=path.stem)
    return load_csv(path.read_bytes(), label=label, name=path.stem)


async def _train(args: argparse.Namespace) -> int:
    project = load_project(args.resume) if args.resume else None
    if project is None and args.spec is None:
        raise ValueError("give a SPEC.json to train, or --resume PROJECT to continue one")
    spec = ModelSpec.from_json(Path(args.spec).read_text()) if args.spec else project.model_spec
    data = load_data(args.data, spec, args.label)
    overrides = {"seed": args.seed, "learning_rate": args.lr, "batch_size": args.batch_size,
                 "optimizer": args.optimizer, "validation_split": args.validation_split}
    if project is not None:
        trainer = Trainer.from_project(project, data)
        if any(v is not None for k, v in overrides.items() if k != "seed"):
            trainer.config = trainer.config.replace(**{k: v for k, v in overrides.items() if k != "seed"})
    else:
        trainer = Trainer(spec, data, spec.training.replace(**overrides))
    async for metrics in trainer.fit(args.epochs):
        row = metrics.to_dict()
        print(json.dumps({k: row[k] for k in EPOCH_KEYS}), flush=True)
    if args.out:
        save_project(await trainer.to_project(), args.out)
    return 0


def _export(args: argparse.Namespace) -> int:
    project = load_project(args.project)
    spec = project.model_spec
    loss = project.training.get("loss", spec.training.loss)
    if not (args.onnx or args.pytorch):
        raise ValueError("say what to export: --onnx FILE and/or --pytorch FILE")
    if args.onnx:
        Path(args.onnx).write_bytes(export_onnx(spec, loss, project.weights, project.classes))
    if args.pytorch:
        script = Path(args.pytorch)
        weights_file = script.with_suffix(".npz").name if args.weights_file else None
        text, npz = export_pytorch(spec, loss, project.weights, project.classes, weights_file, project.step)
        script.write_text(text)
        if weights_file:
            script.with_name(weights_file).write_bytes(npz)
    return 0


def _guard(run):
    def wrapped(args: argparse.Namespace) -> int:
        try:
            result = run(args)
            return asyncio.run(result) if asyncio.iscoroutine(result) else result
        except (ValueError, FileNotFoundError) as error:  # our errors are ValueErrors with a clear message
            print(f"error: {error}", file=sys.stderr)
            return 2
    return wrapped


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a model spec on a dataset; one JSON line per epoch")
    train.add_argument("spec", nargs="?", help="model spec (JSON)")
    train.add_argument("--data", required=True,
                       help=f"{', '.join(BUILTIN_DATASETS)}, a .csv file, or a folder/.zip of class folders")
    train.add_argument("--label", help="CSV: the label column (default: the last)")
    train.add_argument("--epochs", type=int, default=None, help="default: the spec's training.epochs")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--lr", type=float, default=None, help="learning rate")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--optimizer", choices=["sgd", "adam", "rmsprop", "adagrad"], default=None)
    train.add_argument("--validation-split", type=float, default=None)
    train.add_argument("--resume", metavar="PROJECT", help="continue training a saved project")
    train.add_argument("--out", metavar="PROJECT", help="save the project file (spec, weights, history) here")
    train.set_defaults(run=_guard(_train))

    export = commands.add_parser("export", help="export a trained project to ONNX and/or a PyTorch script")
    export.add_argument("project")
    export.add_argument("--onnx", metavar="FILE", help="inference model: x -> probabilities")
    export.add_argument("--pytorch", metavar="FILE", help="a .py that rebuilds the model with torch.nn")
    export.add_argument("--weights-file", action="store_true",
                        help="write the PyTorch weights to a .npz beside the script instead of inline")
    export.set_defaults(run=_guard(_export))
