"""Every command the README shows runs as written on a fresh clone after `python3 build.py serve`/`test`.

The commands are taken from README.md itself (code blocks and inline code that start with `python`,
`python3` or `.venv/bin/python`), so an example that goes stale fails here. Each runs from a scratch
folder with this test's interpreter standing in for `.venv/bin/python`; paths into the repository
point at this checkout and files a command writes land in the scratch folder.

Left out, with the reason:
- `build.py` itself (`serve`, `test`, `build`): they are the set-up commands, `serve` never returns,
  and `test` is what runs this file; `build.py test` builds the site before any test.
- `bench/...`: benchmarks take minutes in a browser and are not examples to check.
Quick settings instead of as written:
- a command with placeholders (`HF_DIR OUT_DIR`) runs as `--help`: it checks the command and its
  options exist, having no real folder to convert;
- `draft-notes` drafts one visit (`--limit 1`; the built-in model takes a minute or more per visit,
  so it is in the slow suite);
- `eval-notes` scores a stand-in `pred.csv`, the authors' longest-speaker-turn baseline for the same
  visits, since in the default run no draft was made.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INTERPRETERS = {"python", "python3", ".venv/bin/python"}
SKIPPED = ("build.py", "bench/")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")
SLOW = {"draft-notes"}
QUICK = {"draft-notes": ["--limit", "1"]}


def readme_commands(text: str) -> list[list[str]]:
    """Shell commands in README code: fenced lines and inline spans that start with a Python interpreter."""
    fenced = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)
    lines = [line for block in fenced for line in block.splitlines()]
    outside = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    lines += re.findall(r"`([^`\n]+)`", outside)
    commands = []
    for line in lines:
        line = re.sub(r"\s#.*$", "", line)  # a trailing comment
        line = re.sub(r"\s\[[^\]]*\]", "", line)  # optional arguments, [--rounds 9]
        words = shlex.split(line) if line.strip() else []
        if len(words) > 1 and words[0] in INTERPRETERS:
            commands.append(words)
    return commands


COMMANDS = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
CHECKED = [c for c in COMMANDS if not c[1].startswith(SKIPPED)]


def test_the_readme_shows_the_hearth_commands():
    assert all(c[0] == ".venv/bin/python" for c in CHECKED), "write commands as .venv/bin/python: plain python lacks hearth"
    assert {c[3] for c in CHECKED if c[1:3] == ["-m", "hearth"] and len(c) > 3} >= {"convert-model", "draft-notes", "eval-notes"}


def _case(words: list[str]):
    name = " ".join(words[1:4])
    sub = words[3] if words[1:3] == ["-m", "hearth"] and len(words) > 3 else ""
    marks = [pytest.mark.slow] if sub in SLOW else []
    return pytest.param(words, id=name, marks=marks)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """One folder for all the commands, run in README order: a command may use what an earlier one wrote
    (export reads the project train saved), as a reader following the README would."""
    return tmp_path_factory.mktemp("readme")


@pytest.mark.parametrize("words", [_case(c) for c in CHECKED])
def test_a_readme_command_runs_as_written(words, scratch):
    tmp_path = scratch
    args = list(words[1:])
    if any(PLACEHOLDER.match(a) for a in args):
        args = [a for a in args if not PLACEHOLDER.match(a)] + ["--help"]
    sub = args[2] if args[:2] == ["-m", "hearth"] and len(args) > 2 else ""
    args += QUICK.get(sub, [])
    # Paths into the repository point at this checkout; the rest (outputs) stay in the scratch folder.
    args = [str(ROOT / a) if "/" in a and not a.startswith("-") and (ROOT / a).exists() else a for a in args]
    if sub == "eval-notes":
        shutil.copy(ROOT / "tests/fixtures/aci-bench/baseline-predictions/longest_speaker_turn_valid.csv",
                    tmp_path / "pred.csv")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "pysrc"), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(words)}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
