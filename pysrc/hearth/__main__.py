"""`python -m hearth COMMAND ...`: Hearth's command line.

Each feature owns its commands in its own `cli.py` (a `register(subparsers)` function), so this
file only lists where they live.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = ["hearth.train.cli", "hearth.llm.cli", "hearth.notes.cli"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hearth", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
